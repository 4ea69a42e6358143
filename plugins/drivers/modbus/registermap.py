"""Modbus register maps as data: one file per meter type, validated before any line is opened.

A register map says which holding (function 3) or input (function 4) registers hold which
quantity, how the value is encoded (:mod:`.encoding`), what it means (an OBIS code, a unit, a
sign convention) and how the meter wants to be read (``max_read`` registers per request,
``max_gap`` unmapped registers a block read may span). Maps are TOML or JSON files
(:func:`load_map`); the driver ships some (:func:`shipped_map`). A map file::

    name = "sdm630"
    description = "Eastron SDM630 three-phase meter"
    reference = "Eastron SDM630 Modbus Protocol Implementation V1.8"
    max_gap = 64                # unmapped registers a block read may span (0: adjacent only)
    max_read = 80               # registers per request the meter accepts (Modbus allows 125)

    [defaults]                  # applied to every register that does not say otherwise
    function = 4
    type = "float32"
    word_order = "big"
    byte_order = "big"

    [[registers]]
    name = "active_power_l1"
    description = "Phase 1 power"
    address = 0x000C            # 0-based PDU address
    unit = "W"
    obis = "1-0:36.7.0"
    sign = "import-export"      # see SIGNS
    kind = "instantaneous"      # instantaneous | register | clock (default: from the OBIS code)
    scale = 1.0                 # physical value = raw * scale
    writable = false            # holding registers the driver may write (the clock)

Data types: ``int16``, ``uint16``, ``int32``, ``uint32``, ``float32``, ``float64``. A ``clock``
register holds Unix seconds (UTC) in an integer type. ``kind`` defaults to ``instantaneous``
when the OBIS code's value group D is 7 (instantaneous value), to ``clock`` for ``0-0:1.0.0``
and to ``register`` otherwise; a time integral (D 8, 9, 10, 17-20, 29, 30, 58: an energy
counter) can never be ``instantaneous``.

Every problem is a :class:`MapError` (an :class:`~meterhub.errors.InvalidValue`) naming the
file, the register (number and name) and the field.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from meterhub.errors import InvalidValue
from meterhub.identifiers import ObisCode
from meterhub.plugins.drivers.modbus.encoding import (
    DATA_TYPES,
    ORDERS,
    SIGNED_TYPES,
    RegisterDecodeError,
    decode_value,
    encode_value,
)

__all__ = [
    "DATA_TYPES",
    "MAX_READ",
    "SIGNS",
    "MapError",
    "Register",
    "RegisterDecodeError",
    "RegisterMap",
    "decode_value",
    "encode_value",
    "load_map",
    "parse_map",
    "shipped_map",
    "shipped_map_names",
]

KINDS = ("register", "instantaneous", "clock")
FUNCTIONS = (3, 4)
CLOCK_OBIS = "0-0:1.0.0*255"
#: Registers per read request (Modbus allows 125).
MAX_READ = 125
#: Value group D codes that are time integrals (energy counters), never instantaneous values.
TIME_INTEGRALS = frozenset({8, 9, 10, 17, 18, 19, 20, 29, 30, 58})
#: Sign conventions of a register (the ``sign`` field) and what a negative value means.
SIGNS: Mapping[str, str] = {
    "none": "never negative",
    "import-export": (
        "positive: import, energy flowing to the customer (QI+QIV); negative: export (QII+QIII)"
    ),
    "reactive": (
        "positive: +R (QI+QII, inductive while importing); "
        "negative: -R (QIII+QIV, capacitive while importing)"
    ),
    "lag-lead": "positive: lagging (inductive, L); negative: leading (capacitive, C)",
    "angle": "an angle in degrees, -180..180, counted as the meter does",
}


class MapError(InvalidValue):
    """A register map that cannot be used; ``field`` names file, register and field."""


@dataclass(frozen=True, slots=True)
class Register:
    """One quantity in a register map."""

    name: str
    address: int
    function: int
    data_type: str
    word_order: str
    byte_order: str
    scale: float
    unit: str | None
    obis: str
    kind: str = "register"
    writable: bool = False
    sign: str = "none"
    description: str = ""

    @property
    def count(self) -> int:
        """How many 16-bit registers the value takes."""
        return DATA_TYPES[self.data_type][1]

    @property
    def end(self) -> int:
        """The address after the last register of the value."""
        return self.address + self.count

    @property
    def scaler(self) -> int | None:
        """The decimal exponent when ``scale`` is a power of ten (0.001 → -3), else ``None``."""
        if self.scale <= 0:
            return None
        exponent = round(math.log10(self.scale))
        return exponent if math.isclose(10.0**exponent, self.scale, rel_tol=1e-12) else None

    def decode(self, registers: Sequence[int]) -> int | float:
        """The raw value in ``registers`` (not scaled)."""
        return decode_value(registers, self.data_type, self.word_order, self.byte_order)

    def encode(self, value: int | float) -> list[int]:
        """The registers that hold the raw ``value``."""
        return encode_value(value, self.data_type, self.word_order, self.byte_order)


@dataclass(frozen=True, slots=True)
class RegisterMap:
    """A meter type's registers, by OBIS code and in map order."""

    name: str
    description: str
    registers: tuple[Register, ...]
    max_gap: int = 0
    source: str = ""
    max_read: int = MAX_READ
    reference: str = ""

    def by_obis(self) -> dict[str, Register]:
        """OBIS code → register."""
        return {register.obis: register for register in self.registers}

    def of_kind(self, kind: str) -> list[Register]:
        """The registers of one kind, in map order."""
        return [register for register in self.registers if register.kind == kind]

    @property
    def clock(self) -> Register | None:
        """The clock register, if the meter has one."""
        clocks = self.of_kind("clock")
        return clocks[0] if clocks else None


_REGISTER_FIELDS = (
    "name", "address", "function", "type", "word_order", "byte_order", "scale", "unit", "obis",
    "kind", "writable", "sign", "description",
)  # fmt: skip
_MAP_FIELDS = ("name", "description", "reference", "max_gap", "max_read", "defaults", "registers")


def _fail(source: str, entry: str, field: str, reason: str) -> MapError:
    return MapError(f"{source}: {entry}: field {field!r}", reason)


class _Entry:
    """One ``[[registers]]`` table being checked: its merged fields and where it is."""

    def __init__(self, source: str, index: int, item: Mapping[str, Any], defaults: Any) -> None:
        self.source = source
        name = item.get("name")
        self.entry = f"register {index}" + (
            f" ({name!r})" if isinstance(name, str) and name else ""
        )
        self.fields = {**defaults, **item}

    def fail(self, field: str, reason: str) -> MapError:
        return _fail(self.source, self.entry, field, reason)

    def need(self, field: str, kinds: type | tuple[type, ...], what: str) -> Any:
        if field not in self.fields:
            raise self.fail(field, "is missing")
        value = self.fields[field]
        allowed = kinds if isinstance(kinds, tuple) else (kinds,)
        if (isinstance(value, bool) and bool not in allowed) or not isinstance(value, allowed):
            raise self.fail(field, f"must be {what}, got {value!r}")
        return value

    def choice(self, field: str, default: str, choices: Sequence[str]) -> str:
        value = self.fields.get(field, default)
        if value not in choices:
            allowed = " or ".join(choices) if len(choices) == 2 else f"one of {', '.join(choices)}"
            raise self.fail(field, f"must be {allowed}, got {value!r}")
        return str(value)

    def text(self, field: str) -> str | None:
        value = self.fields.get(field)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise self.fail(field, f"must be a non-empty text, got {value!r}")
        return value.strip() if value is not None else None


def _register(
    source: str, index: int, item: object, defaults: Mapping[str, Any], max_read: int
) -> Register:
    if not isinstance(item, Mapping):
        raise MapError(
            f"{source}: register {index}", f"must be a table of fields, got {type(item).__name__}"
        )
    entry = _Entry(source, index, item, defaults)
    unknown = sorted(set(item) - set(_REGISTER_FIELDS))
    if unknown:
        raise entry.fail(unknown[0], f"unknown field; known: {', '.join(_REGISTER_FIELDS)}")
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise entry.fail("name", "must be a non-empty text")
    address = entry.need("address", int, "a whole number 0..65535")
    if not 0 <= address <= 0xFFFF:
        raise entry.fail("address", f"must be 0..65535, got {address}")
    function = entry.need("function", int, "3 or 4")
    if function not in FUNCTIONS:
        raise entry.fail("function", f"must be 3 (holding) or 4 (input), got {function}")
    data_type = entry.need("type", str, "a data type")
    if data_type not in DATA_TYPES:
        raise entry.fail("type", f"must be one of {', '.join(DATA_TYPES)}, got {data_type!r}")
    count = DATA_TYPES[data_type][1]
    if address + count > 0x10000:
        raise entry.fail("address", "the value runs past register 65535")
    if count > max_read:
        raise entry.fail("type", f"{data_type} takes {count} registers, more than max_read")
    word_order = entry.choice("word_order", "big", ORDERS)
    byte_order = entry.choice("byte_order", "big", ORDERS)
    scale = entry.fields.get("scale", 1.0)
    if (
        isinstance(scale, bool)
        or not isinstance(scale, int | float)
        or not math.isfinite(scale)
        or scale == 0
    ):
        raise entry.fail("scale", f"must be a non-zero number, got {scale!r}")
    unit = entry.text("unit")
    obis_text = entry.need("obis", str, "an OBIS code")
    try:
        code = ObisCode.parse(obis_text, field="obis")
    except InvalidValue as exc:
        raise entry.fail("obis", exc.reason) from None
    obis = str(code)
    kind = entry.choice("kind", _default_kind(code, obis), KINDS)
    if kind == "clock" and data_type.startswith("float"):
        raise entry.fail("type", "a clock holds Unix seconds in an integer type")
    if kind == "instantaneous" and code.d in TIME_INTEGRALS:
        raise entry.fail(
            "kind", f"{obis} is a time integral (an energy counter), not an instantaneous value"
        )
    sign = entry.choice("sign", "none", tuple(SIGNS))
    if sign != "none" and data_type not in SIGNED_TYPES:
        raise entry.fail("sign", f"a {data_type} cannot hold a negative value: use sign 'none'")
    if sign != "none" and kind == "clock":
        raise entry.fail("sign", "a clock is never signed")
    writable = entry.fields.get("writable", False)
    if not isinstance(writable, bool):
        raise entry.fail("writable", f"must be true or false, got {writable!r}")
    if writable and function != 3:
        raise entry.fail("writable", "only holding registers (function 3) are writable")
    return Register(
        name=name.strip(),
        address=address,
        function=function,
        data_type=data_type,
        word_order=word_order,
        byte_order=byte_order,
        scale=float(scale),
        unit=unit,
        obis=obis,
        kind=kind,
        writable=writable,
        sign=sign,
        description=entry.text("description") or "",
    )


def _default_kind(code: ObisCode, obis: str) -> str:
    if obis == CLOCK_OBIS:
        return "clock"
    return "instantaneous" if code.d == 7 else "register"


def _whole(source: str, data: Mapping[str, Any], field: str, default: int, low: int) -> int:
    value = data.get(field, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_READ:
        raise MapError(f"{source}: {field}", f"must be a whole number {low}..{MAX_READ}")
    return value


def _check_layout(source: str, registers: Sequence[Register]) -> None:
    seen_obis: dict[str, str] = {}
    used: dict[tuple[int, int], str] = {}
    for index, register in enumerate(registers, start=1):
        entry = f"register {index} ({register.name!r})"
        if register.obis in seen_obis:
            raise _fail(
                source, entry, "obis", f"{register.obis} is also {seen_obis[register.obis]!r}"
            )
        seen_obis[register.obis] = register.name
        for address in range(register.address, register.end):
            other = used.get((register.function, address))
            if other is not None:
                raise _fail(
                    source,
                    entry,
                    "address",
                    f"register {address} is also used by {other!r} (address 0x{address:04X})",
                )
            used[(register.function, address)] = register.name
    if len([r for r in registers if r.kind == "clock"]) > 1:
        raise MapError(f"{source}: registers", "a map has at most one clock register")


def parse_map(data: object, source: str = "<map>") -> RegisterMap:
    """Validate a map given as plain data (a parsed TOML or JSON document)."""
    if not isinstance(data, Mapping):
        raise MapError(source, "a register map must be a table (TOML) or an object (JSON)")
    unknown = sorted(set(data) - set(_MAP_FIELDS))
    if unknown:
        raise MapError(f"{source}: {unknown[0]}", "unknown top-level field")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise MapError(f"{source}: name", "the map needs a non-empty name")
    texts = {}
    for field in ("description", "reference"):
        texts[field] = data.get(field, "")
        if not isinstance(texts[field], str):
            raise MapError(f"{source}: {field}", "must be a text")
    max_read = _whole(source, data, "max_read", MAX_READ, 1)
    max_gap = _whole(source, data, "max_gap", 0, 0)
    if max_gap >= max_read:
        raise MapError(f"{source}: max_gap", f"must be less than max_read ({max_read})")
    defaults = data.get("defaults", {})
    if not isinstance(defaults, Mapping):
        raise MapError(f"{source}: defaults", "must be a table of register fields")
    bad_default = sorted(
        set(defaults) - (set(_REGISTER_FIELDS) - {"name", "address", "obis", "description"})
    )
    if bad_default:
        raise MapError(f"{source}: defaults.{bad_default[0]}", "is not a field with a default")
    items = data.get("registers")
    if not isinstance(items, list) or not items:
        raise MapError(f"{source}: registers", "the map needs a non-empty list of registers")
    registers = tuple(
        _register(source, index, item, defaults, max_read)
        for index, item in enumerate(items, start=1)
    )
    _check_layout(source, registers)
    return RegisterMap(
        name=name.strip(),
        description=texts["description"],
        registers=registers,
        max_gap=max_gap,
        source=source,
        max_read=max_read,
        reference=texts["reference"],
    )


def load_map(path: str | Path) -> RegisterMap:
    """Read and validate a map file (``.toml`` or ``.json``); errors name the file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise MapError(str(file), f"cannot read the map file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise MapError(str(file), f"not UTF-8 text: {exc.reason}") from None
    try:
        if file.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            data = tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise MapError(
            str(file), f"not valid {file.suffix.lstrip('.').upper() or 'TOML'}: {exc}"
        ) from None
    return parse_map(data, file.name)


def shipped_map_names() -> list[str]:
    """The names of the maps that come with the driver (``sdm630``, ``em24``, ...)."""
    folder = resources.files(__package__).joinpath("maps")
    return sorted(item.name[:-5] for item in folder.iterdir() if item.name.endswith(".toml"))


def shipped_map(name: str) -> RegisterMap:
    """A map shipped with the driver, by name."""
    if name not in shipped_map_names():
        raise MapError(
            "settings.map", f"no shipped map {name!r}; shipped: {', '.join(shipped_map_names())}"
        )
    resource = resources.files(__package__).joinpath("maps", f"{name}.toml")
    return parse_map(tomllib.loads(resource.read_text(encoding="utf-8")), f"{name}.toml")
