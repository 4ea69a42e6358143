"""EIC: published codes, the check character's error detection, and precise reasons."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from meterhub.errors import InvalidValue
from meterhub.identifiers import eic_check_character, validate_eic

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-"

#: Control areas and bidding zones published by ENTSO-E (Transparency Platform area codes).
PUBLISHED = [
    "10YCZ-CEPS-----N",  # Czech Republic, ČEPS
    "10YDE-VE-------2",  # Germany, 50Hertz
    "10YDE-RWENET---I",  # Germany, Amprion
    "10YDE-EON------1",  # Germany, TenneT DE
    "10YDE-ENBW-----N",  # Germany, TransnetBW
    "10YAT-APG------L",  # Austria, APG
    "10YPL-AREA-----S",  # Poland, PSE
    "10YSK-SEPS-----K",  # Slovakia, SEPS
    "10YHU-MAVIR----U",  # Hungary, MAVIR
    "10YFR-RTE------C",  # France, RTE
    "10YNL----------L",  # Netherlands, TenneT NL
    "10YBE----------2",  # Belgium, Elia
    "10YCH-SWISSGRIDZ",  # Switzerland, Swissgrid
    "10YES-REE------0",  # Spain, REE
    "10YSI-ELES-----O",  # Slovenia, ELES
    "10YCB-GERMANY--8",  # Germany control block
    "10Y1001A1001A83F",  # Germany bidding zone
    "10Y1001A1001A82H",  # DE-LU bidding zone
]

chars = st.sampled_from(ALPHABET)
bases = st.text(alphabet=ALPHABET, min_size=15, max_size=15)


def _check_or_none(base: str) -> str | None:
    try:
        return eic_check_character(base)
    except InvalidValue:
        return None


@st.composite
def valid_eics(draw: st.DrawFn) -> str:
    base = draw(bases)
    check = _check_or_none(base)
    assume(check is not None)
    return base + str(check)


# --- known vectors ---------------------------------------------------------------------------


@pytest.mark.parametrize("code", PUBLISHED)
def test_published_codes(code: str) -> None:
    assert eic_check_character(code[:15]) == code[15]
    assert validate_eic(code) == code


def test_lowercase_and_surrounding_whitespace_are_normalized() -> None:
    assert validate_eic(" 10ycz-ceps-----n\n") == "10YCZ-CEPS-----N"
    assert eic_check_character("10ycz-ceps-----") == "N"


def test_a_base_whose_check_would_be_dash_has_no_eic() -> None:
    # 'J' (19) at weight 2 and zeros elsewhere: S = 38, (S - 1) mod 37 = 0, check = 36 = '-'.
    base = "0" * 14 + "J"
    with pytest.raises(InvalidValue) as caught:
        eic_check_character(base)
    assert caught.value.field == "eic"
    assert "no check character" in caught.value.reason
    assert "'-'" in caught.value.reason
    with pytest.raises(InvalidValue, match="no check character"):
        validate_eic(base + "-")
    # one step further, 'K' (20) at weight 2: S = 40, (S - 1) mod 37 = 2, check = 34 = 'Y'
    assert eic_check_character("0" * 14 + "K") == "Y"


# --- properties ------------------------------------------------------------------------------


@given(bases)
def test_check_character_is_never_dash(base: str) -> None:
    check = _check_or_none(base)
    assert check is None or (check in ALPHABET and check != "-")


@given(valid_eics())
def test_appending_the_check_character_validates(code: str) -> None:
    assert validate_eic(code) == code
    assert validate_eic(code.lower()) == code


@given(valid_eics(), st.integers(min_value=0, max_value=15), chars)
def test_every_single_substitution_is_rejected(code: str, position: int, char: str) -> None:
    # Σ value × weight ≡ 0 (mod 37) over all 16 characters (the check has weight 1); a change
    # at one position moves the sum by weight × difference, where weight is 1..16 and the
    # difference is 1..36, and 37 is prime, so the sum never stays ≡ 0.
    assume(code[position] != char)
    changed = code[:position] + char + code[position + 1 :]
    with pytest.raises(InvalidValue):
        validate_eic(changed)


@given(valid_eics(), st.integers(min_value=0, max_value=15), st.integers(min_value=0, max_value=15))
def test_every_transposition_is_rejected(code: str, first: int, second: int) -> None:
    # A swap moves the sum by (w_i − w_j)(v_i − v_j); both factors are 1..36, so the same
    # argument holds for any two positions, neighbours or not.
    assume(code[first] != code[second])
    swapped = list(code)
    swapped[first], swapped[second] = swapped[second], swapped[first]
    with pytest.raises(InvalidValue):
        validate_eic("".join(swapped))


def test_every_single_substitution_of_one_code_is_rejected_exhaustively() -> None:
    code = "10YCZ-CEPS-----N"
    for position in range(16):
        for char in ALPHABET:
            if char != code[position]:
                changed = code[:position] + char + code[position + 1 :]
                with pytest.raises(InvalidValue):
                    validate_eic(changed)


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("10YCZ-CEPS-----", "EIC must be 16 characters, got 15"),
        ("10YCZ-CEPS-----NN", "EIC must be 16 characters, got 17"),
        ("", "EIC must be 16 characters, got 0"),
        ("10YCZ_CEPS-----N", "character 6 of the EIC is '_'; an EIC has only A-Z, 0-9 and '-'"),
        ("10YCZ CEPS-----N", "character 6 of the EIC is ' '"),
        ("10YCZ-ČEPS-----N", "character 7 of the EIC is 'Č'"),
        ("10YCZ-CEPS-----X", "check character is 'X', expected 'N'"),
        ("10YCZ-CEPS------", "check character is '-', expected 'N'"),
        ("10YDE-VE-------3", "check character is '3', expected '2'"),
    ],
)
def test_bad_eic(text: str, reason: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        validate_eic(text)
    assert caught.value.field == "eic"
    assert caught.value.reason.startswith(reason)


def test_field_name_is_the_callers() -> None:
    with pytest.raises(InvalidValue) as caught:
        validate_eic("10YCZ-CEPS-----X", field="parties[0].eic")
    assert str(caught.value) == "parties[0].eic: check character is 'X', expected 'N'"
    with pytest.raises(InvalidValue, match=r"^area: "):
        eic_check_character("10YCZ", field="area")


@pytest.mark.parametrize(
    ("base", "reason"),
    [
        ("10YCZ-CEPS----", "must be 15 characters, got 14"),
        ("10YCZ-CEPS-----N", "must be 15 characters, got 16"),
        ("10YCZ-CEPS----*", "character 15 of the first 15 is '*'"),
    ],
)
def test_bad_base(base: str, reason: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        eic_check_character(base)
    assert reason in caught.value.reason


@pytest.mark.parametrize("value", [None, 10, b"10YCZ-CEPS-----N"])
def test_not_text(value: object) -> None:
    with pytest.raises(InvalidValue, match="expected an EIC as text"):
        validate_eic(value)  # type: ignore[arg-type]
    with pytest.raises(InvalidValue, match="as text"):
        eic_check_character(value)  # type: ignore[arg-type]
