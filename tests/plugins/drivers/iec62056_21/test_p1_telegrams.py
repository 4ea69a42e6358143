"""P1 telegrams composed from the published P1 companion standards (DSMR 2.2, 4.2, 5.0, the
Belgian e-MUCS) and an IEC 62056-21 mode D message; written for these tests, values our own.

The CRC is computed here bit by bit (polynomial 0xA001 reflected, initial value 0), independent
of the library the driver uses.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterhub.extensions.driver import BillingPeriod, ProtocolError, Quality
from meterhub.plugins.drivers.iec62056_21.p1.meters import TelegramMeters, readable_id
from meterhub.plugins.drivers.iec62056_21.p1.telegram import TelegramError, crc16, parse_telegram
from meterhub.plugins.drivers.iec62056_21.protocol import ETX, STX, bcc

RECEIVED = datetime(2026, 3, 2, 12, 0, 5, tzinfo=UTC)
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def crc_arc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def with_crc(text: str) -> bytes:
    data = text.replace("\n", "\r\n").encode("ascii")
    assert data.endswith(b"!")
    return data + f"{crc_arc(data):04X}\r\n".encode("ascii")


DSMR_22 = """/ISk5\\2ME382-1003

0-0:96.1.1(4B384547303034303436333935353037)
1-0:1.8.1(12345.678*kWh)
1-0:1.8.2(23456.789*kWh)
1-0:2.8.1(00000.000*kWh)
1-0:2.8.2(00000.000*kWh)
0-0:96.14.0(0002)
1-0:1.7.0(0001.25*kW)
1-0:2.7.0(0000.00*kW)
0-0:17.0.0(999*A)
0-0:96.3.10(1)
0-0:96.13.1()
0-0:96.13.0()
0-1:24.1.0(3)
0-1:96.1.0(3238313031353431303031333733353937)
0-1:24.3.0(260302110000)(00)(60)(1)(0-1:24.2.1)(m3)
(01234.567)
0-1:24.4.0(1)
!
""".replace("\n", "\r\n").encode("ascii")

DSMR_42 = with_crc(
    """/KFM5KAIFA-METER

1-3:0.2.8(42)
0-0:1.0.0(261025023000S)
0-0:96.1.1(4530303033303030303030303030303030)
1-0:1.8.1(001234.567*kWh)
1-0:1.8.2(002345.678*kWh)
1-0:2.8.1(000012.345*kWh)
1-0:2.8.2(000023.456*kWh)
0-0:96.14.0(0001)
1-0:1.7.0(00.540*kW)
1-0:2.7.0(00.000*kW)
0-0:96.7.21(00004)
0-0:96.7.9(00002)
1-0:99.97.0(2)(0-0:96.7.19)(260110083000W)(0000000240*s)(260201120000W)(0000003600*s)
1-0:32.32.0(00001)
1-0:32.36.0(00000)
0-0:96.13.1()
0-0:96.13.0()
1-0:31.7.0(002*A)
1-0:21.7.0(00.540*kW)
1-0:22.7.0(00.000*kW)
0-1:24.1.0(003)
0-1:96.1.0(4730303132333435363738393031323334)
0-1:24.2.1(261025020000S)(00987.654*m3)
!"""
)

DSMR_50 = with_crc(
    """/Ene5\\T210-D ESMR5.0

1-3:0.2.8(50)
0-0:1.0.0(260302130005W)
0-0:96.1.1(4530303434303031353934373534343134)
1-0:1.8.1(004321.001*kWh)
1-0:1.8.2(003210.002*kWh)
1-0:2.8.1(000100.003*kWh)
1-0:2.8.2(000200.004*kWh)
0-0:96.14.0(0002)
1-0:1.7.0(01.234*kW)
1-0:2.7.0(00.000*kW)
0-0:96.7.21(00010)
0-0:96.7.9(00003)
1-0:99.97.0(0)(0-0:96.7.19)
1-0:32.32.0(00002)
1-0:52.32.0(00001)
1-0:72.32.0(00000)
0-0:96.13.0()
1-0:32.7.0(229.0*V)
1-0:52.7.0(231.5*V)
1-0:72.7.0(230.2*V)
1-0:31.7.0(003*A)
1-0:51.7.0(001*A)
1-0:71.7.0(001*A)
1-0:21.7.0(00.700*kW)
1-0:41.7.0(00.300*kW)
1-0:61.7.0(00.234*kW)
1-0:22.7.0(00.000*kW)
1-0:42.7.0(00.000*kW)
1-0:62.7.0(00.000*kW)
0-1:24.1.0(003)
0-1:96.1.0(4730303538393436303030303031323334)
0-1:24.2.1(260302130000W)(04567.890*m3)
0-2:24.1.0(007)
0-2:96.1.0(5730303132333435363738393031323334)
0-2:24.2.1(260302125500W)(00321.123*m3)
!"""
)

EMUCS = with_crc(
    """/FLU5\\253769484_A

0-0:96.1.4(50217)
0-0:96.1.1(3153414733313031303231363035)
0-0:1.0.0(260302130005W)
1-0:1.8.1(000812.034*kWh)
1-0:1.8.2(001015.758*kWh)
1-0:2.8.1(000100.000*kWh)
1-0:2.8.2(000050.011*kWh)
0-0:96.14.0(0001)
1-0:1.4.0(02.351*kW)
1-0:1.6.0(260302094500W)(03.589*kW)
0-0:98.1.0(3)(1-0:1.6.0)(1-0:1.6.0)(260301000000W)(260212184500W)(04.695*kW)\
(260201000000W)(260115073000W)(05.980*kW)(260101000000W)(251203191500W)(04.318*kW)
1-0:1.7.0(00.812*kW)
1-0:2.7.0(00.000*kW)
1-0:21.7.0(00.812*kW)
1-0:22.7.0(00.000*kW)
1-0:32.7.0(234.6*V)
1-0:31.7.0(003.46*A)
0-0:96.3.10(1)
0-0:17.0.0(999.9*kW)
1-0:31.4.0(999*A)
0-0:96.13.0()
0-1:24.1.0(003)
0-1:96.1.1(37464C4F32313139303137303532)
0-1:24.4.0(1)
0-1:24.2.3(260302130000W)(00112.384*m3)
0-2:24.1.0(007)
0-2:96.1.1(3853414731323334353637383930)
0-2:24.2.1(260302124500W)(00872.234*m3)
!"""
)

MODE_D_BODY = b"0.0.0(00012345)\r\n1.8.0(0012345.6*kWh)\r\n32.7.0(230.1*V)\r\n!\r\n" + ETX
MODE_D = b"/LGZ3ZMD120AR\r\n" + STX + MODE_D_BODY + bytes([bcc(MODE_D_BODY)])


def meters_of(raw: bytes, zone: ZoneInfo = AMSTERDAM) -> TelegramMeters:
    return TelegramMeters(parse_telegram(raw).datasets, zone, RECEIVED)


def test_the_crc_is_crc16_arc() -> None:
    assert crc16(b"123456789") == 0xBB3D == crc_arc(b"123456789")
    for raw in (DSMR_42, DSMR_50, EMUCS):
        telegram = parse_telegram(raw, require_crc=True)
        bang = raw.index(b"!")
        assert telegram.crc == crc_arc(raw[: bang + 1]) and telegram.kind == "p1"


def test_a_damaged_telegram_is_refused() -> None:
    damaged = DSMR_50.replace(b"1-0:1.8.1(004321.001", b"1-0:1.8.1(004321.009")
    with pytest.raises(TelegramError, match="CRC mismatch: the meter sent [0-9A-F]{4}") as caught:
        parse_telegram(damaged)
    assert isinstance(caught.value, ProtocolError)
    with pytest.raises(TelegramError, match="4 hex digits"):
        parse_telegram(DSMR_50[:-6] + b"XYZW\r\n")
    cut = DSMR_50[: DSMR_50.index(b"!") + 1] + b"\r\n"
    assert parse_telegram(cut).crc is None
    with pytest.raises(TelegramError, match="without a CRC"):
        parse_telegram(cut, require_crc=True)
    with pytest.raises(TelegramError, match="end mark"):
        parse_telegram(DSMR_50[: DSMR_50.index(b"!")])
    with pytest.raises(TelegramError, match="identification line"):
        parse_telegram(b"1-0:1.8.1(1*kWh)\r\n!\r\n")
    body = MODE_D_BODY.replace(b"230.1", b"230.2")
    with pytest.raises(TelegramError, match="bad BCC"):
        parse_telegram(b"/LGZ3ZMD120AR\r\n" + STX + body + bytes([bcc(MODE_D_BODY)]))


def test_dsmr_22_gas_value_on_the_line_after_its_header() -> None:
    telegram = parse_telegram(DSMR_22)
    assert telegram.crc is None and telegram.identification.manufacturer == "ISk"
    meters = meters_of(DSMR_22)
    low, normal = meters.register("1-0:1.8.1*255"), meters.register("1-0:1.8.2*255")
    assert (low.value, low.scaler, normal.value) == (12345678, -3, 23456789)
    assert meters.register("0-0:96.14.0*255").value == "0002"
    assert meters.clock().quality is Quality.NOT_AVAILABLE
    (gas,) = meters.submeters()
    assert (gas.channel, gas.device_type) == (1, 3)
    assert gas.equipment_id == "3238313031353431303031333733353937"
    assert gas.serial_number == "28101541001373597"
    volume = next(r for r in gas.readings if r.obis == "0-1:24.2.1*255")
    # 11:00 Amsterdam winter time is 10:00 UTC: the gas meter's own capture time
    assert (volume.value, volume.scaler, volume.unit) == (1234567, -3, "m3")
    assert volume.timestamp == datetime(2026, 3, 2, 10, tzinfo=UTC)
    assert meters.register("0-1:24.2.1*255") == volume
    assert [r.obis for r in meters.instantaneous()] == ["1-0:1.7.0*255", "1-0:2.7.0*255"]


def test_dsmr_42_clock_with_season_letter_power_failures_and_gas() -> None:
    meters = meters_of(DSMR_42)
    # 02:30 on the night the clocks go back: S is the first (summer) one
    assert meters.clock().value == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert meters.register("1-3:0.2.8*255").value == "42"
    assert meters.register("0-0:96.1.1*255").value == "4530303033303030303030303030303030"
    events = meters.events(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))
    assert [(e.timestamp, e.code, e.description) for e in events.events] == [
        (datetime(2026, 1, 10, 7, 26, tzinfo=UTC), 1, "Power down"),
        (datetime(2026, 1, 10, 7, 30, tzinfo=UTC), 2, "Power up"),
        (datetime(2026, 2, 1, 10, tzinfo=UTC), 1, "Power down"),
        (datetime(2026, 2, 1, 11, tzinfo=UTC), 2, "Power up"),
    ]
    (gas,) = meters.submeters()
    assert gas.serial_number == "G0012345678901234"
    (volume,) = [r for r in gas.readings if r.obis == "0-1:24.2.1*255"]
    assert volume.timestamp == datetime(2026, 10, 25, 0, tzinfo=UTC)
    assert (volume.value, volume.unit) == (987654, "m3")
    # the gas meter's values are not the electricity meter's measurements
    assert {r.obis for r in meters.instantaneous()} == {
        "1-0:1.7.0*255",
        "1-0:2.7.0*255",
        "1-0:31.7.0*255",
        "1-0:21.7.0*255",
        "1-0:22.7.0*255",
    }


def test_dsmr_50_three_phases_gas_and_water_meters() -> None:
    meters = meters_of(DSMR_50)
    voltages = {r.obis: r.value for r in meters.instantaneous() if r.unit == "V"}
    assert voltages == {"1-0:32.7.0*255": 2290, "1-0:52.7.0*255": 2315, "1-0:72.7.0*255": 2302}
    assert meters.register("1-0:32.32.0*255").value == 2  # voltage sags: a counter, not measured
    assert "1-0:32.32.0*255" not in {r.obis for r in meters.instantaneous()}
    gas, water = meters.submeters()
    assert (gas.channel, gas.device_type, gas.serial_number) == (1, 3, "G0058946000001234")
    assert (water.channel, water.device_type, water.serial_number) == (2, 7, "W0012345678901234")
    (litres,) = [r for r in water.readings if r.obis == "0-2:24.2.1*255"]
    assert litres.timestamp == datetime(2026, 3, 2, 11, 55, tzinfo=UTC)
    assert (litres.value, litres.scaler) == (321123, -3)
    assert meters.events(RECEIVED - timedelta(days=30), RECEIVED).events == ()


def test_emucs_capacity_tariff_and_monthly_maxima() -> None:
    meters = meters_of(EMUCS, ZoneInfo("Europe/Brussels"))
    assert meters.register("0-0:96.1.4*255").value == "50217"
    average = meters.register("1-0:1.4.0*255")
    assert (average.value, average.scaler, average.unit) == (2351, -3, "kW")
    peak = meters.register("1-0:1.6.0*255")
    assert (peak.value, peak.timestamp) == (3589, datetime(2026, 3, 2, 8, 45, tzinfo=UTC))
    billing = meters.billing(datetime(2025, 12, 31, tzinfo=UTC), RECEIVED)
    assert billing.quality is Quality.VALID
    assert [(r.obis, r.timestamp, r.value, r.unit) for r in billing.readings] == [
        ("1-0:1.6.0*255", datetime(2025, 12, 31, 23, tzinfo=UTC), 4318, "kW"),
        ("1-0:1.6.0*255", datetime(2026, 1, 31, 23, tzinfo=UTC), 5980, "kW"),
        ("1-0:1.6.0*255", datetime(2026, 2, 28, 23, tzinfo=UTC), 4695, "kW"),
    ]
    assert meters.billing(RECEIVED, RECEIVED, BillingPeriod.DAILY).quality is (
        Quality.NOT_AVAILABLE
    )
    gas, water = meters.submeters()
    assert gas.equipment_id == "37464C4F32313139303137303532"
    assert gas.serial_number == "7FLO2119017052"
    (volume,) = [r for r in gas.readings if r.obis == "0-1:24.2.3*255"]
    assert (volume.value, volume.timestamp) == (112384, datetime(2026, 3, 2, 12, tzinfo=UTC))
    assert next(r for r in gas.readings if r.obis == "0-1:24.4.0*255").value == 1
    assert water.serial_number == "8SAG1234567890"
    # the fuse threshold 1-0:31.4.0 is a setting, not a measured current
    measured = {r.obis for r in meters.instantaneous()}
    assert "1-0:31.4.0*255" not in measured and "1-0:31.7.0*255" in measured


def test_mode_d_message_with_block_check() -> None:
    telegram = parse_telegram(MODE_D)
    assert telegram.kind == "mode_d" and telegram.identification.baud_char == "3"
    meters = meters_of(MODE_D)
    assert meters.register("1-0:0.0.0*255").value == "00012345"
    assert meters.register("1-0:1.8.0*255").value == 123456
    assert meters.submeters() == []


def test_readable_equipment_ids() -> None:
    assert readable_id("4730303132") == "G0012"
    assert readable_id("12345") == "12345"  # odd length: not hex of characters
    assert readable_id("00FF1A") == "00FF1A"  # not printable once decoded
    assert readable_id("E0012") == "E0012"


def test_malformed_histories_are_invalid_not_wrong() -> None:
    text = EMUCS.decode("ascii").split("!")[0]
    broken = text.replace("(3)(1-0:1.6.0)", "(5)(1-0:1.6.0)") + "!"
    meters = meters_of(with_crc(broken.replace("\r\n", "\n")))
    assert meters.billing(RECEIVED - timedelta(days=400), RECEIVED).quality is Quality.INVALID
    log = DSMR_42.decode("ascii").split("!")[0].replace("(0000000240*s)", "(soon)") + "!"
    meters = meters_of(with_crc(log.replace("\r\n", "\n")))
    assert meters.events(RECEIVED - timedelta(days=400), RECEIVED).quality is Quality.INVALID


@given(st.binary(max_size=400))
def test_random_bytes_are_refused_cleanly(data: bytes) -> None:
    try:
        parse_telegram(b"/ABC5X\r\n" + data)
    except TelegramError as exc:
        assert str(exc)
