"""IEC 62056-21 frames and the data-set parser, fuzzed with hypothesis."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterhub.extensions.driver import ProtocolError
from meterhub.plugins.drivers.iec62056_21.protocol import (
    Iec21ParseError,
    bcc,
    break_frame,
    check_block,
    command_frame,
    number,
    obis_of,
    option_select,
    parse_data_block,
    parse_identification,
    parse_timestamp,
    sign_on,
)


def test_frames_and_bcc() -> None:
    assert sign_on() == b"/?!\r\n"
    assert sign_on("12345678") == b"/?12345678!\r\n"
    assert option_select("5", "1") == b"\x06051\r\n"
    frame = command_frame("P1", "(00000000)")
    assert frame[:3] == b"\x01P1" and frame[-1] == bcc(frame[1:-1])
    assert check_block(frame) == b"P1\x02(00000000)"
    assert break_frame() == b"\x01B0\x03" + bytes([bcc(b"B0\x03")])
    with pytest.raises(Iec21ParseError, match="bad BCC") as caught:
        check_block(frame[:-1] + bytes([frame[-1] ^ 1]))
    assert caught.value.frame == frame[:-1] + bytes([frame[-1] ^ 1])
    assert isinstance(caught.value, ProtocolError)


def test_identification() -> None:
    ident = parse_identification(b"/MHs5IEC-0001\r\n")
    assert (ident.manufacturer, ident.baud_char, ident.identification) == ("MHs", "5", "IEC-0001")
    assert ident.fast_reaction and ident.max_baudrate == 9600
    slow = parse_identification(b"/LGZ4\\2ZMD3104407.B32\r\n")
    assert not slow.fast_reaction and slow.enhanced == "\\2" and slow.max_baudrate == 4800
    for bad in (b"MHs5X\r\n", b"/MH5X\r\n", b"/MHs5\r\n", b"/MHs5" + b"X" * 101 + b"\r\n"):
        with pytest.raises(Iec21ParseError):
            parse_identification(bad)


def test_data_sets_with_units_timestamps_several_per_line_and_errors() -> None:
    block = (
        b"0.0.0(12345678)\r\n"
        b"1.8.0(001234.567*kWh)\r\n"
        b"1.8.0*01(001200.000*kWh)\r\n"
        b"1.6.0(0012.3*kW)(26-11-26 12:15)\r\n"
        b"0.9.1(12:15:00)0.9.2(26-11-28)\r\n"
        b"C.1.0(IEC-1)F.F(00000000)\r\n"
        b"2.8.0(ERROR)\r\n"
        b"(0.123)(0.045)\r\n"
        b"!\r\nignored(after the end)\r\n"
    )
    sets = parse_data_block(block)
    assert [s.obis for s in sets] == [
        "1-0:0.0.0*255",
        "1-0:1.8.0*255",
        "1-0:1.8.0*1",
        "1-0:1.6.0*255",
        "1-0:0.9.1*255",
        "1-0:0.9.2*255",
        "0-0:96.1.0*255",
        "0-0:97.97.0*255",
        "1-0:2.8.0*255",
        None,
    ]
    energy = sets[1].value
    assert energy is not None and (energy.text, energy.unit) == ("001234.567", "kWh")
    assert number(energy.text) == (1234567, -3)
    demand = sets[3]
    assert parse_timestamp(demand.values[1].text, UTC) == datetime(2026, 11, 26, 12, 15, tzinfo=UTC)
    assert sets[8].is_error and not sets[1].is_error
    assert [v.text for v in sets[9].values] == ["0.123", "0.045"]


@pytest.mark.parametrize(
    ("block", "message"),
    [
        (b"1.8.0(12", "line 1, column 6: '(' without ')'"),
        (b"1.8.0(1*)", "'*' without a unit"),
        (b"1.8.0(1)junk", "text after the last value"),
        (b"1.8.0(1)\r\n1.8.0(1(2))", "line 2"),
        (b"1.8.0(\xff)", "not ASCII"),
    ],
)
def test_parse_errors_say_where(block: bytes, message: str) -> None:
    with pytest.raises(Iec21ParseError, match=message.replace("(", "\\(").replace(")", "\\)")):
        parse_data_block(block)


def test_obis_short_forms() -> None:
    assert obis_of("1.8.1") == "1-0:1.8.1*255"
    assert obis_of("C.1.0") == "0-0:96.1.0*255"
    assert obis_of("96.1.0") == "0-0:96.1.0*255"
    assert obis_of("1-0:32.7.0*255") == "1-0:32.7.0*255"
    assert obis_of("not-obis") is None and obis_of("") is None


def test_numbers_and_times() -> None:
    assert number("-0012.50") == (-125_0, -2)
    assert number("42") == (42, 0)
    assert number("12:15:00") is None and number("1e5") is None
    assert parse_timestamp("2603021215", UTC) == datetime(2026, 3, 2, 12, 15, tzinfo=UTC)
    assert parse_timestamp("26-13-01 00:00", UTC) is None


@given(st.binary(max_size=300))
def test_random_bytes_never_crash_the_parser(data: bytes) -> None:
    try:
        sets = parse_data_block(data)
    except Iec21ParseError as exc:
        assert str(exc).startswith("data block")
    else:
        for dataset in sets:
            assert dataset.obis is None or dataset.obis.count(":") == 1


ALPHABET = st.sampled_from(list("0123456789.*()-:CFP !\r\nkWhV"))


@given(st.text(ALPHABET, max_size=200))
def test_near_valid_text_never_crashes(text: str) -> None:
    try:
        parse_data_block(text.encode("ascii"))
    except Iec21ParseError:
        pass


@given(st.binary(max_size=40))
def test_random_identification_and_blocks(data: bytes) -> None:
    for parse in (parse_identification, check_block):
        try:
            parse(data)
        except Iec21ParseError:
            pass
