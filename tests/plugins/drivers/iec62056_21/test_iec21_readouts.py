"""Readouts as real meters send them, composed from IEC 62056-21 and the makers' public formats.

Each block below was written for these tests after the layouts documented by Landis+Gyr
(ZMD/ZMF style: short ``C.D`` codes, compact times, ``*VZ`` history), Itron/Actaris (SL7000
style: long identification with spaces, ``&VZ`` history, channel-1 clock), Elster (A1700
style: ``(time)(value)`` maxima, date and time without separators) and Iskra (MT174 style:
``!`` right after the last value, bytes between ``!`` and ETX). No capture was copied.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterhub.extensions.driver import BillingPeriod, Quality
from meterhub.plugins.drivers.iec62056_21.protocol import (
    ETX,
    STX,
    Iec21ParseError,
    bcc,
    check_block,
    is_echo,
    parse_data_block,
    parse_date_time,
    parse_identification,
    parse_timestamp,
)
from meterhub.plugins.drivers.iec62056_21.values import Readout, is_identifier, is_measurement

READ_AT = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)

LANDIS_GYR = (
    b"F.F(00000000)\r\n"
    b"0.0.0(00012345)\r\n"
    b"C.1.0(73091234)\r\n"
    b"0.2.0(B32)\r\n"
    b"1.8.1(0001234.567*kWh)\r\n"
    b"1.8.2(0000876.543*kWh)\r\n"
    b"1.8.0(0002111.110*kWh)\r\n"
    b"2.8.0(0000000.000*kWh)\r\n"
    b"1.6.1(0003.210*kW)(2602151215)\r\n"
    b"0.1.0(14)\r\n"
    b"0.1.2*14(2603010000)\r\n"
    b"1.8.0*14(0002050.000*kWh)\r\n"
    b"1.6.1*14(0003.100*kW)(2602101845)\r\n"
    b"0.1.2*13(2602010000)\r\n"
    b"1.8.0*13(0001900.500*kWh)\r\n"
    b"1.6.1*13(0002.950*kW)(2601221900)\r\n"
    b"0.9.1(12:15:30)\r\n"
    b"0.9.2(26-03-02)\r\n"
    b"32.7(231.2*V)\r\n"
    b"52.7(230.8*V)\r\n"
    b"72.7(232.0*V)\r\n"
    b"31.7(001.23*A)\r\n"
    b"51.7(000.98*A)\r\n"
    b"71.7(002.01*A)\r\n"
    b"14.7(50.01*Hz)\r\n"
    b"13.7(0.97)\r\n"
    b"C.7.0(0007)\r\n"
    b"!\r\n"
)
ITRON = (
    b"0.0.0(000000004711)\r\n"
    b"96.1.0(ACE 4711-2026)\r\n"
    b"1-0:1.8.0(0012345.678*kWh)\r\n"
    b"1-0:1.8.0&03(0012000.000*kWh)\r\n"
    b"1-0:0.1.2&03(26-02-01 00:00)\r\n"
    b"1-1:0.9.1(12:15:30)\r\n"
    b"1-1:0.9.2(26-03-02)\r\n"
    b"1-1:32.7.0(229.9*V)\r\n"
    b"1-1:31.7.0(004.20*A)\r\n"
    b"1-0:1.7.0(00.966*kW)\r\n"
    b"1-0:16.7.0(00.966*kW)\r\n"
    b"1-0:32.24.0(230.4*V)\r\n"
    b"!\r\n"
)
ELSTER = (
    b"0.0.0(0098765432)\r\n"
    b"0.2.0(01.05)\r\n"
    b"1.8.0(00043210.1*kWh)\r\n"
    b"1.6.0(26-02-11 07:45)(00012.34*kW)\r\n"
    b"1.7.0(00002.50*kW)(26-03-02 12:15)\r\n"
    b"0.9.1(121530)\r\n"
    b"0.9.2(260302)\r\n"
    b"!\r\n"
)
ISKRA = (
    b"0.0.0(07654321)\r\n1.8.0(0001234.5*kWh)\r\n1.8.1(0000800.1*kWh)\r\nF.F(0000000)!\r\n\x7f\xff"
)


def _readout(block: bytes, zone: str = "UTC") -> Readout:
    return Readout(parse_data_block(block), UTC if zone == "UTC" else ZoneInfo(zone), READ_AT)


def test_identifications_as_meters_send_them() -> None:
    for line, (maker, ident, enhanced) in {
        b"/LGZ5\\2ZMD3104407.B32\r\n": ("LGZ", "ZMD3104407.B32", "\\2"),
        b"/ACE5SL7000 V4.1 2026 Itron Smart\r\n": ("ACE", "SL7000 V4.1 2026 Itron Smart", ""),
        b"/ELS6A1700 Elster Metering  \r\n": ("ELS", "A1700 Elster Metering", ""),
        b"/ISk5MT174-0001\n": ("ISk", "MT174-0001", ""),
        b"/EMH5\\@D4EM4TWII001--\r\n": ("EMH", "D4EM4TWII001--", "\\@"),
    }.items():
        parsed = parse_identification(line)
        assert (parsed.manufacturer, parsed.identification, parsed.enhanced) == (
            maker,
            ident,
            enhanced,
        )
    assert parse_identification(b"/ISk5MT174-0001\n").fast_reaction
    assert is_echo(b"/?12345678!\r\n") and not is_echo(b"/ISk5MT174\r\n")
    with pytest.raises(Iec21ParseError, match="without an identification"):
        parse_identification(b"/ABC5   \r\n")


def test_landis_gyr_short_codes_history_and_measurements() -> None:
    readout = _readout(LANDIS_GYR)
    serial, device, firmware, error = (
        readout.register(code)
        for code in ("1-0:0.0.0*255", "0-0:96.1.0*255", "1-0:0.2.0*255", "0-0:97.97.0*255")
    )
    # identifiers keep their text, leading zeros included
    assert (serial.value, device.value, firmware.value, error.value) == (
        "00012345",
        "73091234",
        "B32",
        "00000000",
    )
    demand = readout.register("1-0:1.6.1*255")
    assert (demand.value, demand.scaler, demand.unit) == (3210, -3, "kW")
    assert demand.timestamp == datetime(2026, 2, 15, 12, 15, tzinfo=UTC)
    measured = {r.obis: (r.value, r.scaler, r.unit) for r in readout.instantaneous()}
    assert measured == {
        "1-0:32.7.0*255": (2312, -1, "V"),
        "1-0:52.7.0*255": (2308, -1, "V"),
        "1-0:72.7.0*255": (2320, -1, "V"),
        "1-0:31.7.0*255": (123, -2, "A"),
        "1-0:51.7.0*255": (98, -2, "A"),
        "1-0:71.7.0*255": (201, -2, "A"),
        "1-0:14.7.0*255": (5001, -2, "Hz"),
        "1-0:13.7.0*255": (97, -2, None),
    }
    clock = readout.clock()
    assert clock.value == datetime(2026, 3, 2, 12, 15, 30, tzinfo=UTC)
    assert clock.timestamp == READ_AT


def test_landis_gyr_billing_periods_end_at_their_time_stamps() -> None:
    readout = _readout(LANDIS_GYR)
    billing = readout.billing(
        datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC), BillingPeriod.MONTHLY
    )
    assert billing.quality is Quality.VALID and billing.period is BillingPeriod.MONTHLY
    rows = [(r.timestamp.date().isoformat(), r.obis, r.value, r.scaler) for r in billing.readings]
    assert rows == [
        ("2026-02-01", "1-0:1.6.1*255", 2950, -3),
        ("2026-02-01", "1-0:1.8.0*255", 1900500, -3),
        ("2026-03-01", "1-0:1.6.1*255", 3100, -3),
        ("2026-03-01", "1-0:1.8.0*255", 2050000, -3),
    ]
    # the maximum is stamped with its period's end, not its own moment
    assert all(r.timestamp.hour == 0 for r in billing.readings)
    only_march = readout.billing(
        datetime(2026, 2, 15, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC)
    )
    assert {r.timestamp.month for r in only_march.readings} == {3}
    daily = readout.billing(READ_AT, READ_AT, BillingPeriod.DAILY)
    assert daily.quality is Quality.NOT_AVAILABLE and daily.readings == ()


def test_itron_keeps_channels_and_finds_the_clock_on_channel_1() -> None:
    readout = _readout(ITRON, "Europe/Prague")
    assert readout.register("1-0:0.0.0*255").value == "000000004711"
    assert readout.register("0-0:96.1.0*255").value == "ACE 4711-2026"
    # 12:15:30 CET is 11:15:30 UTC
    assert readout.clock().value == datetime(2026, 3, 2, 11, 15, 30, tzinfo=UTC)
    measured = [r.obis for r in readout.instantaneous()]
    assert measured == [
        "1-1:32.7.0*255",
        "1-1:31.7.0*255",
        "1-0:1.7.0*255",
        "1-0:16.7.0*255",
        "1-0:32.24.0*255",
    ]
    billing = readout.billing(datetime(2026, 1, 1, tzinfo=UTC), READ_AT)
    (value,) = billing.readings
    assert (value.obis, value.value, value.timestamp) == (
        "1-0:1.8.0*255",
        12000000,
        datetime(2026, 1, 31, 23, tzinfo=UTC),
    )


def test_elster_time_before_value_and_compact_clock() -> None:
    readout = _readout(ELSTER)
    demand = readout.register("1-0:1.6.0*255")
    assert (demand.value, demand.scaler, demand.unit, demand.timestamp) == (
        1234,
        -2,
        "kW",
        datetime(2026, 2, 11, 7, 45, tzinfo=UTC),
    )
    power = readout.register("1-0:1.7.0*255")
    assert (power.value, power.timestamp) == (250, datetime(2026, 3, 2, 12, 15, tzinfo=UTC))
    assert readout.register("1-0:0.0.0*255").value == "0098765432"
    assert readout.register("1-0:0.2.0*255").value == "01.05"
    assert readout.clock().value == datetime(2026, 3, 2, 12, 15, 30, tzinfo=UTC)
    assert [r.obis for r in readout.instantaneous()] == ["1-0:1.7.0*255"]
    assert readout.billing(READ_AT, READ_AT).quality is Quality.NOT_AVAILABLE


def test_iskra_bang_after_the_last_value_and_bytes_after_it() -> None:
    frame = STX + ISKRA + ETX
    frame += bytes([bcc(frame[1:])])
    body = check_block(frame)
    readout = _readout(body)
    assert [d.obis for d in readout.datasets] == [
        "1-0:0.0.0*255",
        "1-0:1.8.0*255",
        "1-0:1.8.1*255",
        "0-0:97.97.0*255",
    ]
    assert readout.register("0-0:97.97.0*255").value == "0000000"
    assert readout.register("1-0:0.0.0*255").value == "07654321"
    assert readout.clock().quality is Quality.NOT_AVAILABLE
    assert readout.instantaneous() == []


def test_counters_are_never_measurements() -> None:
    block = b"1.8.0(1*kWh)\r\n1.7.0(2*kWh)\r\n32.7.0*12(230*V)\r\nC.7.0(3)\r\n0.7.0(4)\r\n!"
    readout = _readout(block)
    assert readout.instantaneous() == []
    assert not any(
        is_measurement(d.code, d.value.unit if d.value else None) for d in readout.datasets
    )
    assert is_measurement(readout.datasets[1].code, "kW")  # 1.7.0 is one, unless in kWh
    assert is_identifier(readout.datasets[-1].code) is False


def test_error_values_and_garbage_before_bang_are_refused_or_flagged() -> None:
    readout = _readout(b"1.8.0(ERROR)\r\n2.8.0(ER05)\r\n!")
    assert {r.quality for r in (readout.register("1-0:1.8.0*255"),)} == {Quality.NOT_AVAILABLE}
    with pytest.raises(Iec21ParseError, match="line 2, column 1: text after the last value"):
        parse_data_block(b"1.8.0(1)\r\ngarbage\r\n!")
    with pytest.raises(Iec21ParseError, match="not ASCII"):
        parse_data_block(b"1.8.0(1)\r\n1.8.1(\xb5)!")


def test_times_with_season_letters_settle_the_repeated_hour() -> None:
    prague = ZoneInfo("Europe/Prague")
    summer = parse_timestamp("261025023000S", prague)
    winter = parse_timestamp("261025023000W", prague)
    assert summer is not None and winter is not None
    assert summer.astimezone(UTC) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert winter.astimezone(UTC) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    assert parse_timestamp("2603021215", UTC) == datetime(2026, 3, 2, 12, 15, tzinfo=UTC)
    assert parse_timestamp("261301000000W", UTC) is None
    assert parse_date_time("260302", "121530", UTC) == datetime(2026, 3, 2, 12, 15, 30, tzinfo=UTC)
    assert parse_date_time("26-03-02", "12:15", UTC) == datetime(2026, 3, 2, 12, 15, tzinfo=UTC)
    assert parse_date_time("26-02-30", "12:15", UTC) is None
    assert parse_date_time("yesterday", "12:15", UTC) is None


ALPHABET = st.sampled_from(list("0123456789.*&()-:CFPSW !\r\nkWhV"))


@given(st.text(ALPHABET, max_size=300))
def test_whatever_parses_maps_to_readings_without_crashing(text: str) -> None:
    try:
        datasets = parse_data_block(text)
    except Iec21ParseError:
        return
    readout = Readout(datasets, ZoneInfo("Europe/Prague"), READ_AT)
    for obis in readout.by_obis:
        assert readout.register(obis).obis == obis
    readout.instantaneous()
    assert readout.clock().obis == "0-0:1.0.0*255"
    billing = readout.billing(datetime(2000, 1, 1, tzinfo=UTC), READ_AT)
    assert all(r.timestamp.tzinfo is UTC for r in billing.readings)
