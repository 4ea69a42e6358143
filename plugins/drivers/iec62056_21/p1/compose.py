"""Telegrams of simulated push meters, composed after the published P1 companion standards.

Versions (``VERSIONS``): ``2.2`` (DSMR 2.2: 9600 Bd 7E1, no CRC, gas as a ``0-1:24.3.0``
profile header with the value on the next line), ``4.2`` (DSMR 4.2: 115200 Bd 8N1, CRC16, gas
``0-1:24.2.1`` hourly, power failure log), ``5.0`` (DSMR 5.0: three phases, gas every 5 minutes,
a water meter on channel 2, a telegram every second), ``emucs`` (the Belgian e-MUCS variant:
``0-0:96.1.4`` version, ``1-0:1.4.0`` current average demand, ``1-0:1.6.0`` running month's
maximum with its time, ``0-0:98.1.0`` the maxima of the last 13 months, gas ``0-1:24.2.3``) and
``moded`` (IEC 62056-21 mode D: 2400 Bd 7E1, the mode C data set list in ``STX … ETX BCC``).

Every value is a function of the serial and the time (:class:`SimulatedMeter` for
electricity, :func:`gas_litres` and :func:`water_litres` for the M-Bus meters), so a test
computes what the driver must read. Telegram times are local (Europe/Amsterdam) with the
DSMR season letter: ``S`` summer, ``W`` winter.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from meterhub.extensions.driverkit import SimulatedMeter
from meterhub.plugins.drivers.iec62056_21.p1.telegram import crc16
from meterhub.plugins.drivers.iec62056_21.protocol import ETX, STX, bcc
from meterhub.plugins.drivers.iec62056_21.simreadout import month_ends, readout_lines

__all__ = [
    "INTERVALS",
    "LINES",
    "VERSIONS",
    "ZONE",
    "capture_time",
    "equipment_id",
    "failures",
    "gas_litres",
    "monthly_peaks",
    "p1_time",
    "phase_values",
    "tariff_registers",
    "telegram",
    "water_litres",
]

VERSIONS = ("2.2", "4.2", "5.0", "emucs", "moded")
#: The serial line of each version: baud rate, data bits, parity.
LINES = {
    "2.2": ("9600", "7", "E"),
    "4.2": ("115200", "8", "N"),
    "5.0": ("115200", "8", "N"),
    "emucs": ("115200", "8", "N"),
    "moded": ("2400", "7", "E"),
}
#: Seconds between telegrams.
INTERVALS = {"2.2": 10.0, "4.2": 10.0, "5.0": 1.0, "emucs": 1.0, "moded": 10.0}
ZONE = ZoneInfo("Europe/Amsterdam")
_HOUR = 3600


def p1_time(at: int) -> str:
    """``YYMMDDhhmmssX`` in Dutch local time, X = ``S`` (summer) or ``W`` (winter)."""
    local = datetime.fromtimestamp(at, ZONE)
    return local.strftime("%y%m%d%H%M%S") + ("S" if local.dst() else "W")


def equipment_id(text: str) -> str:
    """DSMR writes an equipment identifier as the hex of its ASCII characters."""
    return text.encode("ascii").hex().upper()


def gas_litres(serial: str, at: int) -> int:
    """The simulated gas meter on channel 1: litres at Unix second ``at`` (whole hours)."""
    meter = SimulatedMeter(serial)
    return meter.register_offset // 4 + at // _HOUR * (10 + meter.base_power // 100)


def water_litres(serial: str, at: int) -> int:
    """The simulated water meter on channel 2: litres at Unix second ``at`` (whole hours)."""
    meter = SimulatedMeter(serial)
    return meter.register_offset // 9 + at // _HOUR * (3 + meter.base_power // 400)


def capture_time(version: str, at: int) -> int:
    """When the M-Bus meters' values were last captured: each hour (DSMR 2.2, 4.2) or each
    5 minutes (DSMR 5.0, e-MUCS)."""
    step = 300 if version in ("5.0", "emucs") else _HOUR
    return at - at % step


def tariff_registers(meter: SimulatedMeter, at: int) -> tuple[int, int]:
    """Import in Wh of tariff 1 (low, 40 %) and tariff 2 (normal, the rest)."""
    total = meter.active_energy(at)
    low = total * 2 // 5
    return low, total - low


def phase_values(meter: SimulatedMeter, at: int) -> list[tuple[int, int, int]]:
    """Per phase L1..L3: voltage in 0.1 V, current in 0.01 A, active power in W."""
    power = meter.power(at)
    powers = (power // 3, power // 3, power - 2 * (power // 3))
    found = []
    for phase, watts in enumerate(powers):
        volts = meter.voltage(at + 900 * phase)
        found.append((volts, watts * 1000 // volts, watts))
    return found


def failures(meter: SimulatedMeter, at: int, days: int = 30) -> list[tuple[int, int]]:
    """Power failures of the last ``days`` days: (end, seconds), oldest first, at most 10."""
    events = meter.events(at - days * 86_400, at)
    found = []
    down = None
    for event in events:
        stamp = int(event.timestamp.timestamp())
        if event.code == 1:
            down = stamp
        elif down is not None:
            found.append((stamp, stamp - down))
            down = None
    return found[-10:]


def _peak(meter: SimulatedMeter, start: int, end: int) -> tuple[int, int]:
    best, best_at = -1, start
    for hour in range(start - start % _HOUR, min(end, start + 7 * 24 * _HOUR), _HOUR):
        if hour + _HOUR > end:
            break
        power = meter.power(hour)
        if power > best:
            best, best_at = power, hour
    return max(best, 0), best_at


def monthly_peaks(meter: SimulatedMeter, at: int, months: int = 13) -> list[tuple[int, int, int]]:
    """e-MUCS ``0-0:98.1.0``: (period end, time of the maximum, W), newest period first."""
    ends = month_ends(at, months + 1, ZONE)
    found = []
    for (end, _), (start, _) in zip(ends[:-1], ends[1:], strict=True):
        watts, when = _peak(meter, start, end)
        found.append((end, when, watts))
    return found


def _header(identification: str) -> list[str]:
    return [f"/{identification}", ""]


def _dsmr22(serial: str, meter: SimulatedMeter, at: int) -> list[str]:
    low, normal = tariff_registers(meter, at)
    captured = capture_time("2.2", at)
    hour = datetime.fromtimestamp(at, ZONE).hour
    return [
        *_header("MHs5\\2MH382-2200"),
        f"0-0:96.1.1({equipment_id('E' + serial)})",
        f"1-0:1.8.1({low / 1000:09.3f}*kWh)",
        f"1-0:1.8.2({normal / 1000:09.3f}*kWh)",
        f"1-0:2.8.1({0:09.3f}*kWh)",
        f"1-0:2.8.2({0:09.3f}*kWh)",
        f"0-0:96.14.0({'0001' if hour >= 23 or hour < 7 else '0002'})",
        f"1-0:1.7.0({meter.power(at) / 1000:07.2f}*kW)",
        f"1-0:2.7.0({0:07.2f}*kW)",
        "0-0:17.0.0(999*A)",
        "0-0:96.3.10(1)",
        "0-0:96.13.1()",
        "0-0:96.13.0()",
        "0-1:24.1.0(3)",
        f"0-1:96.1.0({equipment_id('G' + serial)})",
        f"0-1:24.3.0({p1_time(captured)[:-1]})(00)(60)(1)(0-1:24.2.1)(m3)",
        f"({gas_litres(serial, captured) / 1000:09.3f})",
        "0-1:24.4.0(1)",
        "!",
    ]


def _dsmr4(version: str, serial: str, meter: SimulatedMeter, at: int, shown: int) -> list[str]:
    low, normal = tariff_registers(meter, at)
    captured = capture_time(version, at)
    hour = datetime.fromtimestamp(at, ZONE).hour
    outages = failures(meter, at)
    log = "".join(f"({p1_time(end)})({seconds:010d}*s)" for end, seconds in outages)
    five = version == "5.0"
    phases = (
        phase_values(meter, at)
        if five
        else [(meter.voltage(at), meter.current(at), meter.power(at))]
    )
    lines = [
        *_header("MHB5\\2MH-P1 ESMR5.0" if five else "MHB5MH-P1-METER-42"),
        f"1-3:0.2.8({'50' if five else '42'})",
        f"0-0:1.0.0({p1_time(shown)})",
        f"0-0:96.1.1({equipment_id('E' + serial)})",
        f"1-0:1.8.1({low / 1000:010.3f}*kWh)",
        f"1-0:1.8.2({normal / 1000:010.3f}*kWh)",
        f"1-0:2.8.1({0:010.3f}*kWh)",
        f"1-0:2.8.2({0:010.3f}*kWh)",
        f"0-0:96.14.0({'0001' if hour >= 23 or hour < 7 else '0002'})",
        f"1-0:1.7.0({meter.power(at) / 1000:06.3f}*kW)",
        f"1-0:2.7.0({0:06.3f}*kW)",
        f"0-0:96.7.21({len(outages):05d})",
        "0-0:96.7.9(00000)",
        f"1-0:99.97.0({len(outages)})(0-0:96.7.19){log}",
        "1-0:32.32.0(00000)",
        "1-0:32.36.0(00000)",
        "0-0:96.13.0()",
    ]
    count = 3 if five else 1
    codes = ((32, 31, 21), (52, 51, 41), (72, 71, 61))
    for (voltage, current, power), (volts, amps, watts) in zip(codes[:count], phases, strict=False):
        if five:
            lines.append(f"1-0:{voltage}.7.0({volts / 10:05.1f}*V)")
        lines.append(f"1-0:{current}.7.0({amps // 100:03d}*A)")
        lines.append(f"1-0:{power}.7.0({watts / 1000:06.3f}*kW)")
        lines.append(f"1-0:{power + 1}.7.0({0:06.3f}*kW)")
    lines += [
        "0-1:24.1.0(003)",
        f"0-1:96.1.0({equipment_id('G' + serial)})",
        f"0-1:24.2.1({p1_time(captured)})({gas_litres(serial, captured) / 1000:09.3f}*m3)",
    ]
    if five:
        lines += [
            "0-2:24.1.0(007)",
            f"0-2:96.1.0({equipment_id('W' + serial)})",
            f"0-2:24.2.1({p1_time(captured)})({water_litres(serial, captured) / 1000:09.3f}*m3)",
        ]
    return [*lines, "!"]


def _emucs(serial: str, meter: SimulatedMeter, at: int, shown: int) -> list[str]:
    low, normal = tariff_registers(meter, at)
    captured = capture_time("emucs", at)
    month_start = month_ends(at, 1, ZONE)[0][0]
    peak, peak_at = _peak(meter, month_start, at - at % _HOUR + _HOUR)
    history = monthly_peaks(meter, at)
    entries = "".join(
        f"({p1_time(end)})({p1_time(when)})({watts / 1000:06.3f}*kW)"
        for end, when, watts in history
    )
    (volts, amps, _), *_ = phase_values(meter, at)
    return [
        *_header("FLU5\\2MH0000001_A"),
        "0-0:96.1.4(50217)",
        f"0-0:96.1.1({equipment_id('1SAG' + serial)})",
        f"0-0:1.0.0({p1_time(shown)})",
        f"1-0:1.8.1({low / 1000:010.3f}*kWh)",
        f"1-0:1.8.2({normal / 1000:010.3f}*kWh)",
        f"1-0:2.8.1({0:010.3f}*kWh)",
        f"1-0:2.8.2({0:010.3f}*kWh)",
        "0-0:96.14.0(0001)",
        f"1-0:1.4.0({meter.power(at) / 1000:06.3f}*kW)",
        f"1-0:1.6.0({p1_time(peak_at)})({peak / 1000:06.3f}*kW)",
        f"0-0:98.1.0({len(history)})(1-0:1.6.0)(1-0:1.6.0){entries}",
        f"1-0:1.7.0({meter.power(at) / 1000:06.3f}*kW)",
        f"1-0:2.7.0({0:06.3f}*kW)",
        f"1-0:32.7.0({volts / 10:05.1f}*V)",
        f"1-0:31.7.0({amps / 100:06.2f}*A)",
        "0-0:96.3.10(1)",
        "0-0:17.0.0(999.9*kW)",
        "1-0:31.4.0(999*A)",
        "0-0:96.13.0()",
        "0-1:24.1.0(003)",
        f"0-1:96.1.1({equipment_id('7GAS' + serial)})",
        "0-1:24.4.0(1)",
        f"0-1:24.2.3({p1_time(captured)})({gas_litres(serial, captured) / 1000:09.3f}*m3)",
        "0-2:24.1.0(007)",
        f"0-2:96.1.1({equipment_id('8WAT' + serial)})",
        f"0-2:24.2.1({p1_time(captured)})({water_litres(serial, captured) / 1000:09.3f}*m3)",
        "!",
    ]


def telegram(version: str, serial: str, at: int, shown: int | None = None) -> bytes:
    """The telegram a ``version`` meter pushes at Unix second ``at``; its clock shows
    ``shown`` (default ``at``). P1 telegrams end with ``!CRC`` CR LF (no CRC in DSMR 2.2)."""
    meter = SimulatedMeter(serial)
    shown = at if shown is None else shown
    if version == "moded":
        lines = readout_lines(meter, at, shown, zone=ZONE)
        body = ("\r\n".join(lines) + "\r\n!\r\n").encode("ascii") + ETX
        return f"/MHs3{serial}\r\n".encode("ascii") + STX + body + bytes([bcc(body)])
    if version == "2.2":
        return ("\r\n".join(_dsmr22(serial, meter, at)) + "\r\n").encode("ascii")
    if version == "emucs":
        lines = _emucs(serial, meter, at, shown)
    elif version in ("4.2", "5.0"):
        lines = _dsmr4(version, serial, meter, at, shown)
    else:
        raise ValueError(f"unknown P1 version {version!r}; known: {', '.join(VERSIONS)}")
    data = "\r\n".join(lines).encode("ascii")
    return data + f"{crc16(data):04X}\r\n".encode("ascii")
