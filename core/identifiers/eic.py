"""Energy Identification Codes (EIC, ENTSO-E): 16 characters, the last one a check character.

An EIC such as ``10YCZ-CEPS-----N`` is written with ``A``-``Z``, ``0``-``9`` and ``-``. The
first 15 characters are the issuing office (2), the object type (1) and the object (12). The
16th is computed from them (the EIC Reference Manual):

* map ``0``-``9`` to 0-9, ``A``-``Z`` to 10-35 and ``-`` to 36;
* S = the sum of value × weight over the first 15 characters, with weights 16 down to 2;
* check = 36 − ((S − 1) mod 37), mapped back to a character.

The check value can come out as 36 (``-``), but ``-`` is never a valid check character. No
EIC can start with such 15 characters, so :func:`eic_check_character` raises
:class:`~meterhub.errors.InvalidValue` for them instead of returning a character.

Because 37 is prime and every weight is below 37 (the check character's weight is 1), the
code catches every change of a single character and every swap of two different characters.

EICs are uppercase by definition. These functions also accept lowercase and return the
uppercase code, and :func:`validate_eic` ignores whitespace around the code. They check only
the form and the check character: whether an office ever issued the code is a question for
the EIC registry.
"""

from __future__ import annotations

from meterhub.errors import InvalidValue

__all__ = ["EIC_LENGTH", "eic_check_character", "validate_eic"]

#: The length of an EIC, check character included.
EIC_LENGTH = 16
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-"
_VALUES = {char: value for value, char in enumerate(_ALPHABET)}
_MODULUS = 37


def _check_characters(field: str, text: str, what: str) -> None:
    """Raise InvalidValue naming the first character of ``text`` that is not in the alphabet."""
    for position, char in enumerate(text, start=1):
        if char not in _VALUES:
            raise InvalidValue(
                field,
                f"character {position} of the {what} is {char!r}; an EIC has only A-Z, 0-9 and '-'",
            )


def _check_value(base: str) -> int:
    """The check value 0..36 of 15 valid uppercase characters (36 means ``-``)."""
    total = sum(_VALUES[char] * weight for char, weight in zip(base, range(16, 1, -1), strict=True))
    return _MODULUS - 1 - (total - 1) % _MODULUS


def eic_check_character(first15: str, field: str = "eic") -> str:
    """Return the check character (16th) of an EIC starting with ``first15``.

    :param first15: the first 15 characters; lowercase letters count as uppercase.
    :param field: the field named in the error.
    :raises InvalidValue: ``first15`` is not 15 characters of ``A-Z``, ``0-9``, ``-``, or
        its check value is 36. That value would be ``-``, which is never a valid check
        character, so no EIC starts with these 15 characters.
    """
    if not isinstance(first15, str):
        raise InvalidValue(
            field,
            f"expected the first 15 characters of an EIC as text, got {type(first15).__name__}",
        )
    base = first15.upper()
    _check_characters(field, base, "first 15")
    if len(base) != EIC_LENGTH - 1:
        raise InvalidValue(
            field, f"the part before the check character must be 15 characters, got {len(base)}"
        )
    value = _check_value(base)
    if value == _MODULUS - 1:
        raise InvalidValue(
            field,
            f"{base!r} has no check character: the computation gives '-', which is never "
            "valid, so no EIC starts with these 15 characters",
        )
    return _ALPHABET[value]


def validate_eic(text: str, field: str = "eic") -> str:
    """Return ``text`` as a valid EIC (uppercase, whitespace around it removed).

    :param text: the code, e.g. ``"10YCZ-CEPS-----N"`` or ``" 10ycz-ceps-----n"``.
    :param field: the field named in the error, e.g. ``"parties[0].eic"``.
    :raises InvalidValue: wrong length, a character outside ``A-Z``, ``0-9``, ``-``, or a
        wrong check character; the reason says which and, for the check, the expected one.
    """
    if not isinstance(text, str):
        raise InvalidValue(field, f"expected an EIC as text, got {type(text).__name__}")
    code = text.strip().upper()
    _check_characters(field, code, "EIC")
    if len(code) != EIC_LENGTH:
        raise InvalidValue(field, f"EIC must be {EIC_LENGTH} characters, got {len(code)}")
    expected = eic_check_character(code[:-1], field)
    if code[-1] != expected:
        raise InvalidValue(field, f"check character is {code[-1]!r}, expected {expected!r}")
    return code
