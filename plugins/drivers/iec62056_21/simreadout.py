"""What the simulated mode C meter says: identification, readout lines, billing history, profile.

Every value comes from :class:`~meterhub.extensions.driverkit.SimulatedMeter`, so a test
computes what the driver must read. Two dialects:

``standard``
    By the book: ``/MHs5IEC-0001``, one data set per line, ``!`` on its own line, nothing
    between ``!`` and ETX.
``quirky``
    What real meters send: a 30-character identification with spaces, the serial with leading
    zeros (``0.0.0(0000000001)``), the clock on channel 1 (``1-1:0.9.1``), the maximum's time
    before its value, the last value with ``!`` right after it and stray bytes between ``!``
    and ETX.

With ``billing_periods=N`` the readout also carries N stored billing periods: their time stamps
``0.1.2*VZ``, the registers ``1.8.0*VZ``, ``2.8.0*VZ``, ``3.8.0*VZ`` and the maximum demand
``1.6.0*VZ`` with its time (about 160 bytes a period). Periods end at 00:00 UTC on the first
of each month; ``VZ`` is the billing period counter (months since 2000, modulo 100).
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from meterhub.extensions.driverkit import SimulatedMeter

__all__ = [
    "DIALECTS",
    "MANUFACTURER",
    "billing_lines",
    "identification",
    "month_ends",
    "profile_lines",
    "readout_body",
    "readout_lines",
]

MANUFACTURER = "MHs"
DIALECTS = ("standard", "quirky")
_HOUR = 3600
#: Bytes a quirky meter sends between ``!`` and ETX (CR LF, a DEL and a NUL).
QUIRKY_TAIL = b"\r\n\x7f\x00\r\n"


def _stamp(at: int, pattern: str, zone: tzinfo = UTC) -> str:
    return datetime.fromtimestamp(at, zone).strftime(pattern)


def identification(serial: str, baud_char: str, dialect: str) -> bytes:
    """The identification message the meter answers a sign-on with."""
    ident = f"{serial} Sim Meter v2.10 rev B" if dialect == "quirky" else serial
    return f"/{MANUFACTURER}{baud_char}{ident}\r\n".encode("ascii")


def month_ends(at: int, count: int, zone: tzinfo = UTC) -> list[tuple[int, int]]:
    """The last ``count`` month starts (00:00 in ``zone``) at or before ``at``, newest first,
    each with its billing period counter ``VZ``."""
    moment = datetime.fromtimestamp(at, zone)
    year, month = moment.year, moment.month
    found = []
    for _ in range(count):
        start = datetime(year, month, 1, tzinfo=zone)
        counter = ((year - 2000) * 12 + month - 1) % 100
        found.append((int(start.timestamp()), counter))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return found


def _peak(meter: SimulatedMeter, start: int, end: int) -> tuple[int, int]:
    """The highest hourly power in ``[start, end)`` and the first hour it was drawn."""
    best, best_at = -1, start
    for hour in range(start - start % _HOUR, min(end, start + 7 * 24 * _HOUR), _HOUR):
        power = meter.power(hour)
        if power > best:
            best, best_at = power, hour
    return best, best_at


def billing_lines(meter: SimulatedMeter, at: int, periods: int) -> list[str]:
    """The billing counter and ``periods`` stored billing periods, newest first."""
    if periods <= 0:
        return []
    ends = month_ends(at, periods + 1)
    lines = [f"0.1.0({ends[0][1]:02d})"]
    for (end, counter), (start, _) in zip(ends[:-1], ends[1:], strict=True):
        vz = f"{counter:02d}"
        peak, peak_at = _peak(meter, start, end)
        lines += [
            f"0.1.2*{vz}({_stamp(end, '%y-%m-%d %H:%M')})",
            f"1.8.0*{vz}({meter.active_energy(end) / 1000:011.3f}*kWh)",
            f"2.8.0*{vz}({0:011.3f}*kWh)",
            f"3.8.0*{vz}({meter.reactive_energy(end) / 1000:011.3f}*kvarh)",
            f"1.6.0*{vz}({peak / 1000:06.3f}*kW)({_stamp(peak_at, '%y-%m-%d %H:%M')})",
        ]
    return lines


def readout_lines(
    meter: SimulatedMeter,
    at: int,
    meter_time: int,
    *,
    dialect: str = "standard",
    billing_periods: int = 0,
    zone: tzinfo = UTC,
) -> list[str]:
    """The data lines of a readout at Unix second ``at``; the clock shows ``meter_time``.

    Times are written in ``zone`` (the simulated mode C meter keeps UTC).
    """
    day_start = at - at % 86_400
    hours = [(meter.power(hour), hour) for hour in range(day_start, at + 1, _HOUR)]
    peak, peak_at = max(hours) if hours else (meter.power(at), at)
    quirky = dialect == "quirky"
    serial_digits = "".join(char for char in meter.serial if char.isdigit()) or "0"
    channel = "1-1:" if quirky else ""
    demand = (
        f"1.6.0({_stamp(peak_at, '%y-%m-%d %H:%M', zone)})({peak / 1000:06.3f}*kW)"
        if quirky
        else f"1.6.0({peak / 1000:06.3f}*kW)({_stamp(peak_at, '%y-%m-%d %H:%M', zone)})"
    )
    lines = [
        f"0.0.0({serial_digits.zfill(10)})" if quirky else f"0.0.0({meter.serial})",
        f"C.1.0({meter.serial})",
        f"{channel}0.9.1({_stamp(meter_time, '%H:%M:%S', zone)})",
        f"{channel}0.9.2({_stamp(meter_time, '%y-%m-%d', zone)})",
        f"1.8.0({meter.active_energy(at) / 1000:010.3f}*kWh)",
        f"3.8.0({meter.reactive_energy(at) / 1000:010.3f}*kvarh)",
        f"1.7.0({meter.power(at) / 1000:06.3f}*kW)",
        f"32.7.0({meter.voltage(at) / 10:05.1f}*V)",
        f"31.7.0({meter.current(at) / 100:05.2f}*A)",
        demand,
        *billing_lines(meter, at, billing_periods),
        "F.F(00000000)",
    ]
    return lines


def readout_body(lines: list[str], dialect: str) -> bytes:
    """The data message's body (between STX and ETX) for ``lines``."""
    if dialect == "quirky":
        return ("\r\n".join(lines) + "!").encode("ascii") + QUIRKY_TAIL
    return ("\r\n".join(lines) + "\r\n!\r\n").encode("ascii")


def profile_lines(
    meter: SimulatedMeter, start: int, end: int, now: int, interval: int
) -> list[str]:
    """``P.01`` block: header (first interval end, status, minutes, channels, codes, units)."""
    period = interval * 60
    first = (start // period + 1) * period
    last = min(end, now) // period * period
    if last < first:
        return ["P.01(ERROR)"]
    lines = [f"P.01({_stamp(first, '%y%m%d%H%M')})(00)({interval})(2)(1.29.0)(kWh)(3.29.0)(kvarh)"]
    for edge in range(first, last + 1, period):
        active = meter.active_energy(edge) - meter.active_energy(edge - period)
        reactive = meter.reactive_energy(edge) - meter.reactive_energy(edge - period)
        lines.append(f"({active / 1000:.3f})({reactive / 1000:.3f})")
    return lines
