"""OBIS codes (IEC 62056-61): the six value groups A..F that name every data item in a meter.

An :class:`ObisCode` is a value: frozen, hashable and ordered by ``(a, b, c, d, e, f)``. Its
canonical text is the full form ``A-B:C.D.E*F`` (``1-0:1.8.0*255``); its wire form is the
6-byte logical name of DLMS/COSEM (``to_bytes`` / ``from_bytes``).

Accepted text (surrounding whitespace is ignored, nothing else is):

``A-B:C.D.E*F``, ``A-B:C.D.E&F``, ``A-B:C.D.E``
    The full form; F is 255 (not used) when left out.
``A.B.C.D.E.F``
    The logical name as six dotted numbers: ``1.0.1.8.0.255``.
``C.D.E``, ``C.D.E*F``, ``C.D.E&F``, ``C.D``, ``A-B:C.D``
    The reduced ID codes meters print in IEC 62056-21 data readouts (``1.8.0``,
    ``1.8.0*01``, ``F.F``).

Rules for reduced codes, from IEC 62056-61 "reduced ID codes":

* Groups C and D are mandatory; A, B, E and F may be left out. A left-out group takes its
  default: A = ``default_a`` (1, electricity, unless the caller says otherwise), B = 0,
  E = 0, F = 255. E = 0 is what meters mean: ``F.F`` is the error register 97.97.0.
* The medium is never guessed from C, D or E. The readout does not say it, and the same
  reduced code exists under several media: ``0.9.1`` (local time) is ``0-0:0.9.1`` and
  ``1-0:0.9.1``, and both are real OBIS codes. ``C.1.0`` read with ``default_a=1`` is
  ``1-0:96.1.0`` (metering point ID), not ``0-0:96.1.0`` (device ID 1, serial number). The
  standard allows electricity meters to put the energy type in group A "even for abstract
  objects". A driver that needs the abstract code passes ``default_a=0`` or maps the meter's
  codes in its own table.
* In groups C and D the letters ``C``, ``F``, ``L`` and ``P`` stand for 96 (service entries),
  97 (errors), 98 (lists) and 99 (profiles): ``C.1.0`` = 96.1.0, ``F.F`` = 97.97, ``P.01`` =
  99.1. Only uppercase letters are accepted, and no other group takes a letter.
* ``&`` in place of ``*`` before F marks a billing period that was reset by hand. F has the
  same value either way, and the logical name has no room for that mark, so it is dropped:
  ``1.8.0&01`` and ``1.8.0*01`` give the same code.
* The standard limits every group of a reduced code to 0..99. The parser accepts 0..255 in
  every form, because the text still means only one thing. :attr:`ObisCode.short` writes
  only codes that fit the limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from meterhub.errors import InvalidValue

__all__ = [
    "ACTIVE_ENERGY_EXPORT",
    "ACTIVE_ENERGY_IMPORT",
    "ACTIVE_POWER_IMPORT",
    "CLOCK",
    "CURRENT_L1",
    "DEVICE_ID_1",
    "DISCONNECT_CONTROL",
    "LOAD_PROFILE_1",
    "LOAD_PROFILE_2",
    "MAXIMUM_DEMAND_IMPORT",
    "VOLTAGE_L1",
    "ObisCode",
    "canonical_obis",
    "parse_obis",
]

#: Letters of reduced codes in value groups C and D (IEC 62056-61).
_LETTERS = {"C": 96, "F": 97, "L": 98, "P": 99}
_DIGITS = frozenset("0123456789")
_ALLOWED = _DIGITS | frozenset("-:.*&") | frozenset(_LETTERS)
_GROUP_NAMES = "ABCDEF"
_FORMS = "write A-B:C.D.E*F, C.D.E (as meters print it) or the logical name A.B.C.D.E.F"
_EXAMPLE = "an OBIS code such as 1-0:1.8.0*255 or 1.8.0"
#: The largest value of any group of a reduced ID code (IEC 62056-61).
_REDUCED_MAX = 99
_NOT_USED = 255


def _shown(token: str) -> str:
    """``token`` for a message, cut short if someone pasted something long."""
    return token if len(token) <= 12 else token[:12] + "..."


def _check_group(field: str, name: str, value: object) -> int:
    """Return ``value`` if it is an int in 0..255, else raise InvalidValue for group ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValue(field, f"group {name} must be an integer 0..255, got {value!r}")
    if not 0 <= value <= 255:
        raise InvalidValue(field, f"group {name} must be 0..255, got {value}")
    return value


def _group(field: str, name: str, token: str, text: str, *, letters: bool) -> int:
    """Read one value group; ``letters`` allows C/F/L/P (groups C and D of a text code)."""
    if token == "":
        raise InvalidValue(field, f"group {name} is empty in {text!r}")
    if token in _LETTERS:
        if letters:
            return _LETTERS[token]
        raise InvalidValue(
            field,
            f"group {name} is {token!r}; the letters C, F, L, P (96..99) are allowed "
            "only in groups C and D of a code written C.D.E or A-B:C.D.E*F, not in E, F "
            "or the 6-number logical name",
        )
    if not set(token) <= _DIGITS:
        raise InvalidValue(field, f"group {name} must be a number 0..255, got {_shown(token)!r}")
    significant = token.lstrip("0")
    if len(significant) > 3 or int(token) > 255:
        raise InvalidValue(field, f"group {name} must be 0..255, got {_shown(token)}")
    return int(token)


def _parse(text: object, field: str, default_a: int) -> tuple[int, int, int, int, int, int]:
    """Split ``text`` into the six value groups; every error names what is wrong."""
    if not isinstance(text, str):
        raise InvalidValue(field, f"expected {_EXAMPLE}, got {type(text).__name__}")
    text = text.strip()
    if not text:
        raise InvalidValue(field, f"is empty; expected {_EXAMPLE}")
    for position, char in enumerate(text, start=1):
        if char not in _ALLOWED:
            raise InvalidValue(
                field,
                f"{text!r} has {char!r} at position {position}; an OBIS code has digits, the "
                "letters C, F, L, P and the separators - : . * &",
            )

    # A-B: prefix
    if text.count(":") > 1:
        raise InvalidValue(field, f"{text!r} has {text.count(':')} ':'; expected at most one")
    if ":" in text:
        prefix, rest = text.split(":")
        if prefix.count("-") != 1 or not set(prefix) <= _DIGITS | {"-"}:
            raise InvalidValue(
                field, f"the part before ':' must be A-B (medium-channel), got {prefix!r}"
            )
        a_text, b_text = prefix.split("-")
        a = _group(field, "A", a_text, text, letters=False)
        b = _group(field, "B", b_text, text, letters=False)
    else:
        if "-" in text:
            raise InvalidValue(field, f"{text!r} has '-' but no ':'; the full form is A-B:C.D.E*F")
        a, b, rest = default_a, 0, text
    if "-" in rest:
        raise InvalidValue(field, f"{text!r} has '-' after ':'; the full form is A-B:C.D.E*F")
    if not rest:
        raise InvalidValue(field, f"{text!r} has nothing after ':'; the full form is A-B:C.D.E*F")

    # *F or &F suffix
    separators = rest.count("*") + rest.count("&")
    if separators > 1:
        raise InvalidValue(
            field, f"{text!r} has {separators} of '*' and '&'; only one may come before group F"
        )
    if separators:
        mark = "*" if "*" in rest else "&"
        body, f_text = rest.split(mark)
        if "." in f_text:
            raise InvalidValue(
                field, f"{text!r} has '.' after {mark!r}; group F is last (C.D.E{mark}F)"
            )
        f: int | None = _group(field, "F", f_text, text, letters=False)
    else:
        body, f = rest, None

    groups = body.split(".")
    if len(groups) == 6 and ":" not in text and f is None:
        a, b, c, d, e, f_value = (
            _group(field, name, token, text, letters=False)
            for name, token in zip(_GROUP_NAMES, groups, strict=True)
        )
        return a, b, c, d, e, f_value
    if len(groups) not in (2, 3):
        count = f"{len(groups)} group" + ("" if len(groups) == 1 else "s")
        if ":" in text:
            reason = f"has {count} after ':'; expected C.D.E"
        elif f is not None:
            reason = f"has {count} before the billing period; expected C.D.E"
        else:
            reason = f"has {count}; {_FORMS}"
        raise InvalidValue(field, f"{text!r} {reason}")
    c = _group(field, "C", groups[0], text, letters=True)
    d = _group(field, "D", groups[1], text, letters=True)
    e = _group(field, "E", groups[2], text, letters=False) if len(groups) == 3 else 0
    return a, b, c, d, e, _NOT_USED if f is None else f


@dataclass(frozen=True, slots=True, order=True)
class ObisCode:
    """An OBIS code: value groups A (medium) .. F (billing period), each 0..255.

    Build one from text with :meth:`parse`, from a logical name with :meth:`from_bytes`, or
    from the six numbers. Equal codes are equal however they were written (``1.8.0`` and
    ``1-0:1.8.0*255`` are the same code). Codes sort by A, B, C, D, E, F.
    """

    a: int
    b: int
    c: int
    d: int
    e: int
    f: int

    def __post_init__(self) -> None:
        """Refuse groups that are not integers 0..255 (field name ``"obis"``)."""
        for name in _GROUP_NAMES:
            _check_group("obis", name, getattr(self, name.lower()))

    @classmethod
    def parse(cls, text: str, field: str = "obis", default_a: int = 1) -> ObisCode:
        """Read an OBIS code in any form described in the module documentation.

        :param text: the code, e.g. ``"1-0:1.8.0*255"``, ``"1.0.1.8.0.255"``, ``"1.8.0*01"``.
        :param field: the field named in the error, e.g. ``"channels[2].obis"``.
        :param default_a: the medium of a reduced code, which does not carry one (1 =
            electricity); a code that spells out ``A-B:`` or the 6-group logical name uses
            its own A.
        :raises InvalidValue: the text is not an OBIS code; the reason says what is wrong.
        """
        _check_group("default_a", "A", default_a)
        return cls(*_parse(text, field, default_a))

    @classmethod
    def from_bytes(cls, data: bytes, field: str = "obis") -> ObisCode:
        """Read the 6-byte logical name of DLMS/COSEM (A, B, C, D, E, F as one byte each).

        :raises InvalidValue: ``data`` is not bytes or not exactly 6 bytes long.
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidValue(field, f"a logical name is 6 bytes, got {type(data).__name__}")
        raw = bytes(data)
        if len(raw) != 6:
            raise InvalidValue(field, f"a logical name is 6 bytes, got {len(raw)}")
        return cls(*raw)

    def to_bytes(self) -> bytes:
        """The 6-byte logical name: ``b"\\x01\\x00\\x01\\x08\\x00\\xff"`` for 1-0:1.8.0*255."""
        return bytes((self.a, self.b, self.c, self.d, self.e, self.f))

    def __str__(self) -> str:
        """The canonical full form ``A-B:C.D.E*F``, always with F: ``1-0:1.8.0*255``."""
        return f"{self.a}-{self.b}:{self.c}.{self.d}.{self.e}*{self.f}"

    @property
    def logical_name(self) -> str:
        """The logical name as six dotted numbers: ``1.0.1.8.0.255``."""
        return f"{self.a}.{self.b}.{self.c}.{self.d}.{self.e}.{self.f}"

    @property
    def short(self) -> str | None:
        """The reduced code an IEC 62056-21 meter prints, or None if there is none.

        The form is ``C.D.E``, plus ``*FF`` (two digits) for a billing period:
        ``1.8.0`` for 1-0:1.8.0*255 and ``1.8.0*01`` for 1-0:1.8.0*1. It is always written
        in digits (``96.1.0``, never ``C.1.0``) and always has E, so every reader
        understands it. A is left out, because a readout does not carry the medium, so
        ``ObisCode.parse(code.short, default_a=code.a) == code``.

        There is no reduced code (None) when B is not 0 (dropping B would lose it), when C,
        D or E is above 99, or when F is neither 255 nor 0..99. The standard limits reduced
        codes to 0..99.
        """
        if self.b != 0 or max(self.c, self.d, self.e) > _REDUCED_MAX:
            return None
        base = f"{self.c}.{self.d}.{self.e}"
        if self.f == _NOT_USED:
            return base
        if self.f > _REDUCED_MAX:
            return None
        return f"{base}*{self.f:02d}"


def parse_obis(text: str, field: str = "obis", default_a: int = 1) -> ObisCode:
    """Read an OBIS code; the same as :meth:`ObisCode.parse`."""
    return ObisCode.parse(text, field, default_a)


def canonical_obis(text: str, field: str = "obis", default_a: int = 1) -> str:
    """Read an OBIS code and return its canonical form: ``"1.8.0"`` → ``"1-0:1.8.0*255"``."""
    return str(ObisCode.parse(text, field, default_a))


# Common codes (DOMAIN.md, DLMS UA Blue Book); F = 255 means "current value".
#: Clock object (interface class 8).
CLOCK = ObisCode(0, 0, 1, 0, 0, 255)
#: Device ID 1: the manufacturing (serial) number.
DEVICE_ID_1 = ObisCode(0, 0, 96, 1, 0, 255)
#: Disconnect control (interface class 70).
DISCONNECT_CONTROL = ObisCode(0, 0, 96, 3, 10, 255)
#: Active energy import (+A), total of all rates: ``1.8.0``.
ACTIVE_ENERGY_IMPORT = ObisCode(1, 0, 1, 8, 0, 255)
#: Active energy export (-A), total of all rates: ``2.8.0``.
ACTIVE_ENERGY_EXPORT = ObisCode(1, 0, 2, 8, 0, 255)
#: Instantaneous active power import: ``1.7.0``.
ACTIVE_POWER_IMPORT = ObisCode(1, 0, 1, 7, 0, 255)
#: Maximum demand of active power import: ``1.6.0``.
MAXIMUM_DEMAND_IMPORT = ObisCode(1, 0, 1, 6, 0, 255)
#: Instantaneous voltage L1: ``32.7.0``.
VOLTAGE_L1 = ObisCode(1, 0, 32, 7, 0, 255)
#: Instantaneous current L1: ``31.7.0``.
CURRENT_L1 = ObisCode(1, 0, 31, 7, 0, 255)
#: Load profile 1 (profile generic, interface class 7).
LOAD_PROFILE_1 = ObisCode(1, 0, 99, 1, 0, 255)
#: Load profile 2 (profile generic, interface class 7).
LOAD_PROFILE_2 = ObisCode(1, 0, 99, 2, 0, 255)
