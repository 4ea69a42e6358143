"""OBIS codes: every written form, the round trips, and a precise reason for every bad input."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterhub.errors import InvalidValue
from meterhub.identifiers import ObisCode, canonical_obis, parse_obis
from meterhub.identifiers import obis as obis_module

groups = st.integers(min_value=0, max_value=255)
codes = st.builds(ObisCode, groups, groups, groups, groups, groups, groups)
reduced = st.integers(min_value=0, max_value=99)
billing = st.one_of(st.just(255), reduced)
#: Codes that have a reduced (short) form: B = 0, C/D/E 0..99, F 0..99 or 255.
short_codes = st.builds(ObisCode, groups, st.just(0), reduced, reduced, reduced, billing)


# --- known vectors (DOMAIN.md, IEC 62056-61) ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1-0:1.8.0*255", (1, 0, 1, 8, 0, 255)),
        ("1-0:1.8.0", (1, 0, 1, 8, 0, 255)),
        ("1-0:2.8.0", (1, 0, 2, 8, 0, 255)),
        ("1-0:1.8.1", (1, 0, 1, 8, 1, 255)),
        ("1-0:32.7.0", (1, 0, 32, 7, 0, 255)),
        ("1-0:99.1.0", (1, 0, 99, 1, 0, 255)),
        ("0-0:1.0.0", (0, 0, 1, 0, 0, 255)),
        ("0-0:96.3.10", (0, 0, 96, 3, 10, 255)),
        ("1-1:1.8.0*1", (1, 1, 1, 8, 0, 1)),
        ("1-0:1.8.0&01", (1, 0, 1, 8, 0, 1)),
        ("1.0.1.8.0.255", (1, 0, 1, 8, 0, 255)),
        ("0.0.96.1.0.255", (0, 0, 96, 1, 0, 255)),
        # reduced ID codes as meters print them; A defaults to 1, B to 0, E to 0, F to 255
        ("1.8.0", (1, 0, 1, 8, 0, 255)),
        ("1.8.2", (1, 0, 1, 8, 2, 255)),
        ("1.8.0*01", (1, 0, 1, 8, 0, 1)),
        ("1.8.0&01", (1, 0, 1, 8, 0, 1)),
        ("1.8.0*99", (1, 0, 1, 8, 0, 99)),
        ("0.9.1", (1, 0, 0, 9, 1, 255)),
        ("0.9.2", (1, 0, 0, 9, 2, 255)),
        ("C.1.0", (1, 0, 96, 1, 0, 255)),
        ("F.F", (1, 0, 97, 97, 0, 255)),
        ("L.1.0", (1, 0, 98, 1, 0, 255)),
        ("P.01", (1, 0, 99, 1, 0, 255)),
        ("P.98", (1, 0, 99, 98, 0, 255)),
        ("1-0:F.F", (1, 0, 97, 97, 0, 255)),
        ("0-0:C.1.0", (0, 0, 96, 1, 0, 255)),
        ("  1.8.0\r\n", (1, 0, 1, 8, 0, 255)),
    ],
)
def test_parse_known_forms(text: str, expected: tuple[int, ...]) -> None:
    assert dataclasses.astuple(ObisCode.parse(text)) == expected


def test_default_a_sets_the_medium_of_reduced_codes_only() -> None:
    assert parse_obis("0.9.1", default_a=0) == ObisCode(0, 0, 0, 9, 1, 255)
    assert parse_obis("C.1.0", default_a=0) == obis_module.DEVICE_ID_1
    assert parse_obis("1.8.0", default_a=7) == ObisCode(7, 0, 1, 8, 0, 255)
    # a code that spells out its medium keeps it
    assert parse_obis("1-0:1.8.0", default_a=0).a == 1
    assert parse_obis("1.0.1.8.0.255", default_a=0).a == 1


def test_canonical_and_logical_name() -> None:
    code = ObisCode.parse("1.8.0")
    assert str(code) == "1-0:1.8.0*255"
    assert code.logical_name == "1.0.1.8.0.255"
    assert code.to_bytes() == b"\x01\x00\x01\x08\x00\xff"
    assert canonical_obis("1.8.0*01") == "1-0:1.8.0*1"
    assert canonical_obis("0.9.1", default_a=0) == "0-0:0.9.1*255"


@pytest.mark.parametrize(
    ("code", "short"),
    [
        (ObisCode(1, 0, 1, 8, 0, 255), "1.8.0"),
        (ObisCode(1, 0, 1, 8, 0, 1), "1.8.0*01"),
        (ObisCode(1, 0, 1, 8, 0, 0), "1.8.0*00"),
        (ObisCode(0, 0, 96, 1, 0, 255), "96.1.0"),
        (ObisCode(1, 0, 97, 97, 0, 255), "97.97.0"),
        (ObisCode(1, 1, 1, 8, 0, 255), None),  # B would be lost
        (ObisCode(0, 0, 96, 3, 100, 255), None),  # reduced codes stop at 99
        (ObisCode(1, 0, 1, 8, 0, 100), None),
        (ObisCode(1, 0, 128, 8, 0, 255), None),
    ],
)
def test_short_form(code: ObisCode, short: str | None) -> None:
    assert code.short == short


def test_constants() -> None:
    assert str(obis_module.CLOCK) == "0-0:1.0.0*255"
    assert str(obis_module.ACTIVE_ENERGY_IMPORT) == "1-0:1.8.0*255"
    assert obis_module.LOAD_PROFILE_1.logical_name == "1.0.99.1.0.255"
    assert obis_module.DEVICE_ID_1 == ObisCode.parse("0-0:96.1.0")


def test_value_semantics() -> None:
    code = ObisCode.parse("1.8.0")
    assert code == ObisCode(1, 0, 1, 8, 0, 255)
    assert hash(code) == hash(ObisCode.parse("1.0.1.8.0.255"))
    assert sorted([ObisCode.parse("2.8.0"), ObisCode.parse("1.8.1"), ObisCode.parse("1.8.0")]) == [
        ObisCode.parse("1.8.0"),
        ObisCode.parse("1.8.1"),
        ObisCode.parse("2.8.0"),
    ]
    with pytest.raises(dataclasses.FrozenInstanceError):
        code.a = 0  # type: ignore[misc]
    assert not hasattr(code, "__dict__")


# --- properties ------------------------------------------------------------------------------


@given(codes)
def test_str_round_trip(code: ObisCode) -> None:
    assert ObisCode.parse(str(code)) == code


@given(codes)
def test_logical_name_round_trip(code: ObisCode) -> None:
    assert ObisCode.parse(code.logical_name) == code


@given(codes)
def test_bytes_round_trip(code: ObisCode) -> None:
    data = code.to_bytes()
    assert len(data) == 6
    assert ObisCode.from_bytes(data) == code
    assert ObisCode.from_bytes(bytearray(data)) == code


@given(st.binary(min_size=6, max_size=6))
def test_every_6_bytes_are_a_logical_name(data: bytes) -> None:
    assert ObisCode.from_bytes(data).to_bytes() == data


@given(short_codes)
def test_short_form_parses_back(code: ObisCode) -> None:
    short = code.short
    assert short is not None
    assert ObisCode.parse(short, default_a=code.a) == code


@given(codes)
def test_short_form_exists_exactly_for_reduced_codes(code: ObisCode) -> None:
    fits = code.b == 0 and max(code.c, code.d, code.e) <= 99 and (code.f <= 99 or code.f == 255)
    assert (code.short is not None) == fits


@given(codes, codes)
def test_order_is_the_order_of_the_groups(first: ObisCode, second: ObisCode) -> None:
    assert (first < second) == (dataclasses.astuple(first) < dataclasses.astuple(second))
    assert (first == second) == (first.to_bytes() == second.to_bytes())


obis_like_text = st.text(alphabet="0123456789-:.*&CFLPc ,", max_size=24)


@given(st.one_of(st.text(max_size=30), obis_like_text))
def test_any_text_parses_or_raises_invalid_value(text: str) -> None:
    try:
        code = ObisCode.parse(text, field="x")
    except InvalidValue as error:
        assert error.field == "x"
        assert error.reason
    else:
        assert ObisCode.parse(str(code)) == code


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("", ["is empty", "1-0:1.8.0*255"]),
        ("   ", ["is empty"]),
        ("1-0:1.8.300", ["group E must be 0..255, got 300"]),
        ("256-0:1.8.0", ["group A must be 0..255, got 256"]),
        ("1-0:1.8.0*256", ["group F must be 0..255, got 256"]),
        ("1.0.1.8.0.999", ["group F must be 0..255, got 999"]),
        ("1.8.1000000000000000000000", ["group E must be 0..255", "..."]),
        ("1.0.1.8.0", ["has 5 groups", "A-B:C.D.E*F", "A.B.C.D.E.F"]),
        ("1.8.0.0", ["has 4 groups"]),
        ("1", ["has 1 group;"]),
        ("1.0.1.8.0.255.0", ["has 7 groups"]),
        ("1-0:1.8.0.255", ["has 4 groups after ':'", "C.D.E"]),
        ("1.0.1.8*1", ["has 4 groups before the billing period"]),
        ("1,8,0", ["',' at position 2", "separators - : . * &"]),
        ("1.8.0 kWh", ["' ' at position 6"]),
        ("1-0-1.8.0", ["has '-' but no ':'"]),
        ("1-0:1-8.0", ["has '-' after ':'"]),
        ("1:0:1.8.0", ["has 2 ':'"]),
        ("1:1.8.0", ["the part before ':' must be A-B", "'1'"]),
        ("1*0:1.8.0", ["the part before ':' must be A-B", "'1*0'"]),
        ("1-0:", ["has nothing after ':'"]),
        ("1-0:.8.0", ["group C is empty"]),
        ("1..0", ["group D is empty in '1..0'"]),
        ("1.8.0*", ["group F is empty"]),
        ("1.8.0*1*2", ["has 2 of '*' and '&'"]),
        ("1.8.0*1&2", ["has 2 of '*' and '&'"]),
        ("1.8.0*1.2", ["'.' after '*'", "group F is last"]),
        ("1.8.F", ["group E is 'F'", "only in groups C and D"]),
        ("1.8.0*P", ["group F is 'P'"]),
        ("1.0.C.1.0.255", ["group C is 'C'", "logical name"]),
        ("1C.8.0", ["group C must be a number 0..255, got '1C'"]),
        ("c.1.0", ["'c' at position 1"]),
        ("1.8.0\u0663", ["'\u0663' at position 6"]),  # Arabic-Indic digit three
    ],
)
def test_bad_text(text: str, fragments: list[str]) -> None:
    with pytest.raises(InvalidValue) as caught:
        ObisCode.parse(text)
    assert caught.value.field == "obis"
    for fragment in fragments:
        assert fragment in caught.value.reason


def test_field_name_is_the_callers() -> None:
    with pytest.raises(InvalidValue) as caught:
        parse_obis("1.8.300", field="channels[2].obis")
    assert caught.value.field == "channels[2].obis"
    assert str(caught.value) == "channels[2].obis: group E must be 0..255, got 300"
    with pytest.raises(InvalidValue, match=r"^register: "):
        canonical_obis("x", field="register")
    with pytest.raises(InvalidValue, match=r"^ln: "):
        ObisCode.from_bytes(b"", field="ln")


@pytest.mark.parametrize("value", [None, 180, b"1.8.0"])
def test_not_text(value: object) -> None:
    with pytest.raises(InvalidValue, match=r"obis: expected an OBIS code .*, got "):
        ObisCode.parse(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x01\x00\x01\x08\x00", "a logical name is 6 bytes, got 5"),
        (b"\x01\x00\x01\x08\x00\xff\x00", "a logical name is 6 bytes, got 7"),
        (b"", "a logical name is 6 bytes, got 0"),
        ("1.0.1.8.0.255", "a logical name is 6 bytes, got str"),
        ([1, 0, 1, 8, 0, 255], "a logical name is 6 bytes, got list"),
    ],
)
def test_bad_bytes(data: object, reason: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        ObisCode.from_bytes(data)  # type: ignore[arg-type]
    assert (caught.value.field, caught.value.reason) == ("obis", reason)


@pytest.mark.parametrize(
    ("groups_", "reason"),
    [
        ((1, 0, 1, 8, 0, 256), "group F must be 0..255, got 256"),
        ((-1, 0, 1, 8, 0, 255), "group A must be 0..255, got -1"),
        ((1, 0, "1", 8, 0, 255), "group C must be an integer 0..255, got '1'"),
        ((1, True, 1, 8, 0, 255), "group B must be an integer 0..255, got True"),
    ],
)
def test_bad_constructor_values(groups_: tuple[object, ...], reason: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        ObisCode(*groups_)  # type: ignore[arg-type]
    assert (caught.value.field, caught.value.reason) == ("obis", reason)


def test_bad_default_a() -> None:
    with pytest.raises(InvalidValue) as caught:
        parse_obis("1.8.0", default_a=300)
    assert (caught.value.field, caught.value.reason) == (
        "default_a",
        "group A must be 0..255, got 300",
    )
