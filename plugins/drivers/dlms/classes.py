"""Interface classes of COSEM objects: the one place that decides how an OBIS code is read.

A logical-name GET names the object's interface class, so the driver must know it before the
first request. It never reads the association's object list just to learn it (that is a dozen
frames and most of a session's CPU). :class:`ClassDirectory` answers from, in this order:

1. **the request**: ``read_registers(codes, classes={"1-0:1.8.0": 4})``;
2. **the ``object_classes`` setting**: ``"1-0:1.8.0=4, 0-0:96.1.0=1"`` for a meter type whose
   objects differ from the conventions;
3. **the meter's own object list** as the caller keeps it: the ``object_list`` setting in the
   compact form of :class:`ObjectList` (read once with ``read_object_list()``, handed back in
   the connection's ``state`` with the time it was read);
4. **the conventions of IEC 62056-6-1 / the DLMS UA Blue Book** (:func:`standard_class`) for
   well-known codes: energy registers are class 3, maximum demand class 4, the clock class 8 ...

Sources 1–3 are the meter's truth and are used as given; a code the kept object list does not
have is not available (as of the time the list was read). A class from source 4 is a guess:
when the meter answers *object-undefined* or *object-class-inconsistent* to it, or a code has no
class at all, the session reads the object list once (setting ``object_list_on_demand``) and
goes on with the classes the meter declares; ``state`` then hands the list back to the caller,
so the next session of that meter needs no guess.

The compact object list (the ``object_list`` setting and ``state`` key)::

    2026-11-28T12:00:00Z;8/0 0-0:1.0.0*255;3/0 1-0:1.8.0*255;7/1 1-0:99.1.0*255

is the UTC time it was read, then ``<class>/<version> <OBIS>`` per object, separated by ``;``.
A meter with short name referencing lists every object's base name too, written after the OBIS
code in hex: ``8/0 0-0:1.0.0*255 0x0A00`` (:meth:`ClassDirectory.base_name`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from meterhub.errors import InvalidValue
from meterhub.identifiers import canonical_obis

__all__ = [
    "ClassDirectory",
    "ClassSource",
    "ObjectList",
    "parse_object_classes",
    "parse_short_names",
    "standard_class",
]

# Interface class ids (IEC 62056-6-2).
DATA, REGISTER, EXTENDED_REGISTER, DEMAND_REGISTER = 1, 3, 4, 5
PROFILE_GENERIC, CLOCK, SCRIPT_TABLE, SPECIAL_DAYS = 7, 8, 9, 11
ASSOCIATION_LN, IMAGE_TRANSFER, ACTIVITY_CALENDAR = 15, 18, 20
REGISTER_MONITOR, SINGLE_ACTION_SCHEDULE, IEC_HDLC_SETUP = 21, 22, 23
TCP_UDP_SETUP, IPV4_SETUP, SECURITY_SETUP = 41, 42, 64
DISCONNECT_CONTROL, LIMITER = 70, 71

#: Abstract objects (A = 0) by (C, D, E): the Blue Book's standard object identifications.
_ABSTRACT_CDE: dict[tuple[int, int, int], int] = {
    (1, 0, 0): CLOCK,
    (13, 0, 0): ACTIVITY_CALENDAR,
    (11, 0, 0): SPECIAL_DAYS,
    (17, 0, 0): LIMITER,
    (22, 0, 0): IEC_HDLC_SETUP,
    (25, 0, 0): TCP_UDP_SETUP,
    (25, 1, 0): IPV4_SETUP,
    (40, 0, 0): ASSOCIATION_LN,
    (42, 0, 0): DATA,  # COSEM logical device name
    (44, 0, 0): IMAGE_TRANSFER,
    (96, 3, 10): DISCONNECT_CONTROL,
}
#: Abstract objects (A = 0) by (C, D), any E.
_ABSTRACT_CD: dict[tuple[int, int], int] = {
    (10, 0): SCRIPT_TABLE,  # 0-0:10.0.x script tables (global reset, tariffication ...)
    (15, 0): SINGLE_ACTION_SCHEDULE,
    (43, 0): SECURITY_SETUP,  # 0-0:43.0.x security setup
    (43, 1): DATA,  # 0-0:43.1.x invocation (frame) counters
    (96, 1): DATA,  # device ids: serial number, equipment id ...
    (96, 10): DATA,  # status words (AMR profile status)
    (96, 11): DATA,  # event codes of the event logs
}
#: Value groups C of electricity (A = 1) that hold quantities read as registers.
_QUANTITIES = frozenset({*range(1, 81), 81, 91, 92})
#: Processing D of those quantities and the class their objects conventionally have.
_PROCESSING: dict[int, int] = {
    7: REGISTER,  # instantaneous value
    8: REGISTER,  # time integral 1: cumulative (energy register)
    9: REGISTER,  # time integral 2
    10: REGISTER,  # time integral 3
    29: REGISTER,  # time integral 5: energy of the last capture period
    4: DEMAND_REGISTER,  # current average 1
    5: DEMAND_REGISTER,  # last average 1
    14: DEMAND_REGISTER,  # current average 2
    15: DEMAND_REGISTER,  # last average 2
    24: DEMAND_REGISTER,  # current average 3
    25: DEMAND_REGISTER,  # last average 3
    6: EXTENDED_REGISTER,  # maximum 1: maximum demand with its capture time
    16: EXTENDED_REGISTER,  # maximum 2
    26: EXTENDED_REGISTER,  # maximum 3
}


def _groups(obis: str) -> tuple[int, int, int, int, int, int]:
    """The six value groups of a canonical OBIS text ``A-B:C.D.E*F``."""
    a_b, rest = obis.split(":", 1)
    a, b = a_b.split("-", 1)
    c_d_e, f = rest.split("*", 1)
    c, d, e = c_d_e.split(".")
    return int(a), int(b), int(c), int(d), int(e), int(f)


@lru_cache(maxsize=4096)
def standard_class(obis: str) -> int | None:
    """The interface class the conventions give a canonical OBIS code, or ``None``.

    IEC 62056-6-1 (OBIS) and the Blue Book's object identifications: ``0-0:1.0.0`` clock (8);
    ``0-0:96.1.x``, ``96.10.x``, ``96.11.x``, ``0-0:42.0.0``, ``0-0:43.1.x`` data (1);
    ``0-0:96.3.10`` disconnect control (70); ``0-0:17.0.0`` limiter (71); ``0-0:13.0.0``
    activity calendar (20); ``0-0:44.0.0`` image transfer (18); ``0-0:40.0.0`` the current
    association (15); ``0-0:22.0.0`` HDLC setup (23); ``0-0:10.0.x`` script tables (9);
    profiles ``A-x:99.x.x`` and ``A-x:98.x.x`` (7) for any medium A. Electricity (A = 1),
    quantities C = 1..80, 81 (angles), 91/92 (neutral): D = 7, 8, 9, 10, 29 register (3);
    D = 4, 5, 14, 15, 24, 25 demand register (5); D = 6, 16, 26 maximum with its capture time,
    extended register (4); ``1-0:0.2.x`` firmware identifiers data (1). Everything else —
    manufacturer-specific codes (C = 96.50+, 128..199), other media's registers — is unknown.
    """
    a, _b, c, d, e, _f = _groups(obis)
    if c in (98, 99):
        return PROFILE_GENERIC
    if a == 0:
        return _ABSTRACT_CDE.get((c, d, e)) or _ABSTRACT_CD.get((c, d))
    if a == 1:
        if c == 0 and d == 2:
            return DATA  # firmware identifiers and signatures
        if c in _QUANTITIES:
            return _PROCESSING.get(d)
    return None


class ClassSource(StrEnum):
    """Where :class:`ClassDirectory` found a class."""

    REQUEST = "request"
    SETTING = "object_classes setting"
    OBJECT_LIST = "object list"
    STANDARD = "OBIS conventions"
    UNKNOWN = "unknown"

    @property
    def authoritative(self) -> bool:
        """Whether the class is the meter's truth (not a guess from the conventions)."""
        return self in (ClassSource.REQUEST, ClassSource.SETTING, ClassSource.OBJECT_LIST)


@dataclass(frozen=True)
class ObjectList:
    """A meter's object list as the caller keeps it: ``{OBIS: (class, version)}``, its time and,
    with short name referencing, ``{OBIS: base name}``."""

    read_at: datetime
    objects: Mapping[str, tuple[int, int]]
    base_names: Mapping[str, int] = dataclass_field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_entries(
        cls, entries: Iterable[Sequence[Any]], read_at: datetime | None = None
    ) -> ObjectList:
        """From ``(class id, OBIS, version)`` triples (what ``read_object_list()`` returns), or
        ``(class id, OBIS, version, base name)`` with short names."""
        moment = (read_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        objects: dict[str, tuple[int, int]] = {}
        base_names: dict[str, int] = {}
        for entry in entries:
            class_id, obis, version = entry[0], entry[1], entry[2]
            if obis in objects:
                continue
            objects[obis] = (int(class_id), int(version))
            if len(entry) > 3 and entry[3]:
                base_names[obis] = int(entry[3])
        return cls(moment, MappingProxyType(objects), MappingProxyType(base_names))

    def entries(self) -> list[tuple[int, str, int]]:
        """``(class id, OBIS, version)`` per object, in the meter's order."""
        return [(class_id, obis, version) for obis, (class_id, version) in self.objects.items()]

    def text(self) -> str:
        """The compact form (see the module docstring)."""
        stamp = self.read_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        parts = []
        for obis, (class_id, version) in self.objects.items():
            base_name = self.base_names.get(obis)
            suffix = f" 0x{base_name:04X}" if base_name is not None else ""
            parts.append(f"{class_id}/{version} {obis}{suffix}")
        body = ";".join(parts)
        return f"{stamp};{body}" if body else stamp

    @staticmethod
    @lru_cache(maxsize=256)
    def parse(text: str, field: str = "settings.object_list") -> ObjectList:
        """The object list from its compact form; :class:`InvalidValue` names what is wrong.

        Parsed lists are cached by their text: a fleet of meters of one type shares one.
        """
        parts = [part.strip() for part in text.split(";")]
        try:
            read_at = datetime.fromisoformat(parts[0].replace("Z", "+00:00"))
        except ValueError:
            raise InvalidValue(field, "must start with the UTC time it was read") from None
        if read_at.tzinfo is None:
            raise InvalidValue(field, "the time it was read needs a zone (…Z)")
        objects: dict[str, tuple[int, int]] = {}
        base_names: dict[str, int] = {}
        for number, part in enumerate(parts[1:], start=1):
            if not part:
                continue
            kind, _, rest = part.partition(" ")
            code, _, base_text = rest.strip().partition(" ")
            class_text, _, version_text = kind.partition("/")
            if not class_text.isdigit() or not (version_text or "0").isdigit() or not code:
                raise InvalidValue(
                    field, f"entry {number} must be '<class>/<version> <OBIS>[ <base name>]'"
                )
            obis = canonical_obis(code.strip(), field=field)
            if obis in objects:
                continue
            objects[obis] = (int(class_text), int(version_text or 0))
            if base_text.strip():
                base_names[obis] = _base_name(base_text.strip(), field, f"entry {number}")
        return ObjectList(
            read_at.astimezone(UTC), MappingProxyType(objects), MappingProxyType(base_names)
        )


def _base_name(text: str, field: str, where: str) -> int:
    """A short name (base name): 0x0008–0xFFF8, a multiple of 8, decimal or ``0x`` hex."""
    try:
        value = int(text, 0)
    except ValueError:
        raise InvalidValue(field, f"{where}: base name {text!r} is not a number") from None
    if not 0 < value <= 0xFFFF or value % 8:
        raise InvalidValue(field, f"{where}: base name {text} must be 8..0xFFF8, a multiple of 8")
    return value


def parse_short_names(text: str, field: str = "settings.short_names") -> dict[str, int]:
    """``"0-0:1.0.0=0x0A00, 1-0:1.8.0=0x0B30"`` → ``{"0-0:1.0.0*255": 2560, ...}``."""
    found: dict[str, int] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        code, sign, base_text = item.partition("=")
        if not sign or not base_text.strip():
            raise InvalidValue(field, f"{item.strip()!r} must be <OBIS>=<base name>")
        obis = canonical_obis(code.strip(), field=field)
        found[obis] = _base_name(base_text.strip(), field, obis)
    return found


def parse_object_classes(text: str, field: str = "settings.object_classes") -> dict[str, int]:
    """``"1-0:1.8.0=4, 0-0:96.1.0=1"`` → ``{"1-0:1.8.0*255": 4, "0-0:96.1.0*255": 1}``."""
    found: dict[str, int] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        code, sign, class_text = item.partition("=")
        class_text = class_text.strip()
        if not sign or not class_text.isdigit() or not 0 < int(class_text) < 65536:
            raise InvalidValue(field, f"{item.strip()!r} must be <OBIS>=<interface class>")
        found[canonical_obis(code.strip(), field=field)] = int(class_text)
    return found


class ClassDirectory:
    """The interface class of each OBIS code of one session (see the module docstring)."""

    def __init__(
        self,
        configured: Mapping[str, int],
        object_list: ObjectList | None = None,
        short_names: Mapping[str, int] | None = None,
    ) -> None:
        self.configured = dict(configured)
        #: The meter's object list, from the settings or read in this session.
        self.object_list = object_list
        #: Base names given in the ``short_names`` setting (short name referencing).
        self.short_names = dict(short_names or {})

    def base_name(self, obis: str) -> int | None:
        """The base name of ``obis`` (short name referencing): from the ``short_names``
        setting, else from the object list; ``None`` when neither has it."""
        if obis in self.short_names:
            return self.short_names[obis]
        if self.object_list is not None:
            return self.object_list.base_names.get(obis)
        return None

    def resolve(self, obis: str, requested: int | None = None) -> tuple[int | None, ClassSource]:
        """``(class id or None, where it came from)`` for a canonical OBIS code."""
        if requested is not None:
            return int(requested), ClassSource.REQUEST
        if obis in self.configured:
            return self.configured[obis], ClassSource.SETTING
        if self.object_list is not None:
            # The meter's list is its truth: a code it does not list is not there (as of
            # ``read_at``; ``read_object_list()`` refreshes the list).
            found = self.object_list.objects.get(obis)
            return (found[0] if found else None), ClassSource.OBJECT_LIST
        guess = standard_class(obis)
        if guess is not None:
            return guess, ClassSource.STANDARD
        return None, ClassSource.UNKNOWN
