"""GS1 check digits and EAN-18: known keys, what the 3-1 weighting catches, precise reasons."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterhub.errors import InvalidValue
from meterhub.identifiers import gs1_check_digit, validate_ean18

DIGITS = "0123456789"
data17 = st.text(alphabet=DIGITS, min_size=17, max_size=17)
#: Czech metering points: the GS1 Czech prefix 859 and a distributor's company prefix.
czech_data = st.text(alphabet=DIGITS, min_size=8, max_size=8).map(
    lambda serial: "859182400" + serial
)


@st.composite
def ean18s(draw: st.DrawFn, data: st.SearchStrategy[str] = data17) -> str:
    digits = draw(data)
    return digits + gs1_check_digit(digits)


# --- known vectors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "4006381333931",  # EAN-13
        "5901234123457",  # EAN-13
        "036000291452",  # UPC-A / GTIN-12
        "73513537",  # EAN-8
        "96385074",  # EAN-8
    ],
)
def test_check_digit_of_published_keys_of_any_length(key: str) -> None:
    assert gs1_check_digit(key[:-1]) == key[-1]


def test_check_digit_by_hand() -> None:
    # 85918240010000000 read from the right: the digits at weight 3 are 0,0,0,0,0,4,8,9,8
    # (sum 29), those at weight 1 are 0,0,0,1,0,2,1,5 (sum 9); 3 * 29 + 9 = 96, check 4
    assert gs1_check_digit("85918240010000000") == "4"
    assert validate_ean18("859182400100000004") == "859182400100000004"
    assert gs1_check_digit("0") == "0"
    assert gs1_check_digit("1") == "7"


def test_surrounding_whitespace_is_ignored() -> None:
    assert validate_ean18(" 859182400100000004\n") == "859182400100000004"


# --- properties ------------------------------------------------------------------------------


@given(st.one_of(ean18s(), ean18s(czech_data)))
def test_generated_codes_validate(code: str) -> None:
    assert validate_ean18(code) == code


@given(st.text(alphabet=DIGITS, min_size=1, max_size=30))
def test_weighted_sum_with_check_is_a_multiple_of_10(digits: str) -> None:
    key = digits + gs1_check_digit(digits)
    weights = [1 if index % 2 == 0 else 3 for index in range(len(key))]
    assert sum(int(char) * w for char, w in zip(reversed(key), weights, strict=True)) % 10 == 0


@given(ean18s(), st.integers(min_value=0, max_value=17), st.sampled_from(DIGITS))
def test_every_single_digit_substitution_is_rejected(code: str, position: int, digit: str) -> None:
    if code[position] == digit:
        return
    changed = code[:position] + digit + code[position + 1 :]
    with pytest.raises(InvalidValue, match="check digit is"):
        validate_ean18(changed)


@given(ean18s(), st.integers(min_value=0, max_value=16))
def test_adjacent_transposition_caught_unless_the_digits_differ_by_5(
    code: str, position: int
) -> None:
    first, second = code[position], code[position + 1]
    if first == second:
        return
    swapped = code[:position] + second + first + code[position + 2 :]
    # neighbours carry weights 3 and 1, so the swap moves the sum by ±2 × (first − second):
    # a multiple of 10 exactly when the digits differ by 5
    if abs(int(first) - int(second)) == 5:
        assert validate_ean18(swapped) == swapped
    else:
        with pytest.raises(InvalidValue, match="check digit is"):
            validate_ean18(swapped)


@given(data17, st.integers(min_value=0, max_value=15), st.sampled_from(DIGITS))
def test_transposition_of_digits_5_apart_goes_unnoticed(
    digits: str, position: int, digit: str
) -> None:
    partner = str((int(digit) + 5) % 10)
    data = digits[:position] + digit + partner + digits[position + 2 :]
    code = data + gs1_check_digit(data)
    swapped = code[:position] + partner + digit + code[position + 2 :]
    assert swapped != code
    assert validate_ean18(swapped) == swapped


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("85918240010000000", "EAN-18 must be 18 digits, got 17"),
        ("8591824001000000041", "EAN-18 must be 18 digits, got 19"),
        ("", "EAN-18 must be 18 digits, got 0"),
        ("85918240010000000A", "character 18 of the EAN-18 is 'A'; only digits 0-9 are allowed"),
        ("859182400 100000004", "character 10 of the EAN-18 is ' '"),
        ("8591824001-0000004", "character 11 of the EAN-18 is '-'"),
        ("85918240010000000\u0666", "character 18 of the EAN-18 is '\u0666'"),  # Arabic-Indic 6
        ("859182400100000007", "check digit is '7', expected '4'"),
        ("859182400100000060", "check digit is '0', expected '6'"),
    ],
)
def test_bad_ean18(text: str, reason: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        validate_ean18(text)
    assert caught.value.field == "ean"
    assert caught.value.reason.startswith(reason)


@pytest.mark.parametrize(
    ("digits", "reason"),
    [
        ("", "no digits to compute a GS1 check digit of"),
        ("40063813339x", "character 12 of the digits is 'x'; only digits 0-9 are allowed"),
    ],
)
def test_bad_check_digit_input(digits: str, reason: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        gs1_check_digit(digits)
    assert (caught.value.field, caught.value.reason) == ("ean", reason)


def test_field_name_is_the_callers() -> None:
    with pytest.raises(InvalidValue) as caught:
        validate_ean18("859182400100000007", field="metering_points[3].ean")
    assert str(caught.value) == "metering_points[3].ean: check digit is '7', expected '4'"
    with pytest.raises(InvalidValue, match=r"^gtin: "):
        gs1_check_digit("", field="gtin")


@pytest.mark.parametrize("value", [None, 859182400100000004, b"859182400100000004"])
def test_not_text(value: object) -> None:
    with pytest.raises(InvalidValue, match="expected an EAN-18 as text"):
        validate_ean18(value)  # type: ignore[arg-type]
    with pytest.raises(InvalidValue, match="expected digits as text"):
        gs1_check_digit(value)  # type: ignore[arg-type]
