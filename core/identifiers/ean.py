"""GS1 check digits and the 18-digit EAN (GSRN) that names a metering point.

GS1 computes one check digit the same way for every key length: GTIN-8/12/13/14, GLN,
SSCC and GSRN. Weights 3 and 1 alternate from the rightmost data digit (3 first), and the
check digit is (10 − (sum mod 10)) mod 10. Counted with the check digit (weight 1), the
weighted sum of a valid code is a multiple of 10.

The scheme catches every change of a single digit (3 and 1 are both coprime to 10). It
catches a swap of two neighbouring different digits unless they differ by exactly 5 (the sum
changes by 2 × their difference).

European metering points (Czech "EAN odběrného místa", for example) use 18-digit GS1
numbers: a GS1 company prefix (859 is GS1 Czech Republic), a serial and the check digit.
:func:`validate_ean18` ignores whitespace around the code, but not inside it.
"""

from __future__ import annotations

from meterhub.errors import InvalidValue

__all__ = ["EAN18_LENGTH", "gs1_check_digit", "validate_ean18"]

#: The length of an EAN-18 (GSRN), check digit included.
EAN18_LENGTH = 18
_DIGITS = frozenset("0123456789")


def _check_digits(field: str, text: str, what: str) -> None:
    """Raise InvalidValue naming the first character of ``text`` that is not an ASCII digit."""
    for position, char in enumerate(text, start=1):
        if char not in _DIGITS:
            raise InvalidValue(
                field,
                f"character {position} of the {what} is {char!r}; only digits 0-9 are allowed",
            )


def gs1_check_digit(digits: str, field: str = "ean") -> str:
    """Return the GS1 check digit for ``digits``, the data digits of a key of any length.

    ``gs1_check_digit("400638133393") == "1"`` (the EAN-13 4006381333931).

    :raises InvalidValue: ``digits`` is empty or holds anything but the digits 0-9.
    """
    if not isinstance(digits, str):
        raise InvalidValue(field, f"expected digits as text, got {type(digits).__name__}")
    if not digits:
        raise InvalidValue(field, "no digits to compute a GS1 check digit of")
    _check_digits(field, digits, "digits")
    total = sum(
        int(char) * (3 if index % 2 == 0 else 1) for index, char in enumerate(reversed(digits))
    )
    return str(-total % 10)


def validate_ean18(text: str, field: str = "ean") -> str:
    """Return ``text`` as a valid 18-digit EAN/GSRN (whitespace around it removed).

    :param text: the code, e.g. a Czech metering point ``"859182400..."``.
    :param field: the field named in the error, e.g. ``"metering_points[3].ean"``.
    :raises InvalidValue: a character that is not a digit, not 18 digits, or a wrong check
        digit; the reason says which and, for the check, the expected digit.
    """
    if not isinstance(text, str):
        raise InvalidValue(field, f"expected an EAN-18 as text, got {type(text).__name__}")
    code = text.strip()
    _check_digits(field, code, "EAN-18")
    if len(code) != EAN18_LENGTH:
        raise InvalidValue(field, f"EAN-18 must be {EAN18_LENGTH} digits, got {len(code)}")
    expected = gs1_check_digit(code[:-1], field)
    if code[-1] != expected:
        raise InvalidValue(field, f"check digit is {code[-1]!r}, expected {expected!r}")
    return code
