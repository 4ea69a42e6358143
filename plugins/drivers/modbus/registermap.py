"""Modbus register maps as data, and the encoding of values in registers.

A register map describes one meter type: which holding (function 3) or input (function 4)
registers hold which quantity, how the value is encoded and what it means. Maps are TOML or JSON
files (:func:`load_map`); the driver ships some (:func:`shipped_map`). A map file::

    name = "sdm630"
    description = "Eastron SDM630 three-phase meter"
    max_gap = 16                # registers a block read may skip (0: only adjacent ones)

    [defaults]                  # applied to every register that does not say otherwise
    function = 4
    type = "float32"
    word_order = "big"
    byte_order = "big"

    [[registers]]
    name = "voltage_l1"
    address = 0x0000            # 0-based PDU address
    unit = "V"
    obis = "1-0:32.7.0*255"
    kind = "instantaneous"      # instantaneous | register | clock (default: register)
    scale = 1.0                 # physical value = raw * scale
    writable = false            # holding registers the driver may write (the clock)

Data types: ``int16``, ``uint16``, ``int32``, ``uint32``, ``float32``, ``float64``. ``word_order``
is the order of the 16-bit words of a multi-register value (``big``: most significant word
first; ``little``: least significant first); ``byte_order`` the order of the two bytes inside each
word (``big`` is Modbus' own). A ``clock`` register holds Unix seconds (UTC) in an integer type.

Every problem is a :class:`MapError` naming the file, the entry and the field. Decoding raises
:class:`RegisterDecodeError` (a :class:`ValueError`) for a wrong register count or a register
outside 0..65535; it never raises anything else.
"""

from __future__ import annotations

import json
import math
import struct
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from meterhub.errors import InvalidValue
from meterhub.identifiers import canonical_obis

__all__ = [
    "DATA_TYPES",
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

#: Data type → (struct code, number of registers).
DATA_TYPES: Mapping[str, tuple[str, int]] = {
    "int16": ("h", 1),
    "uint16": ("H", 1),
    "int32": ("i", 2),
    "uint32": ("I", 2),
    "float32": ("f", 2),
    "float64": ("d", 4),
}
ORDERS = ("big", "little")
KINDS = ("register", "instantaneous", "clock")
FUNCTIONS = (3, 4)
CLOCK_OBIS = "0-0:1.0.0*255"
#: Registers per read request (Modbus allows 125).
MAX_READ = 125


class RegisterDecodeError(ValueError):
    """Registers that cannot be a value of the given type."""


class MapError(InvalidValue):
    """A register map that cannot be used; ``field`` names file, entry and field."""


def _words_to_bytes(registers: Sequence[int], word_order: str, byte_order: str) -> bytes:
    words = list(registers) if word_order == "big" else list(reversed(registers))
    out = bytearray()
    for word in words:
        pair = word.to_bytes(2, "big")
        out += pair if byte_order == "big" else pair[::-1]
    return bytes(out)


def decode_value(
    registers: Sequence[int], data_type: str, word_order: str = "big", byte_order: str = "big"
) -> int | float:
    """The value encoded in ``registers`` (as read, in address order)."""
    if data_type not in DATA_TYPES:
        raise RegisterDecodeError(f"unknown data type {data_type!r}")
    if word_order not in ORDERS or byte_order not in ORDERS:
        raise RegisterDecodeError(f"word and byte order must be big or little, got {word_order!r}")
    code, count = DATA_TYPES[data_type]
    if len(registers) != count:
        raise RegisterDecodeError(f"{data_type} needs {count} register(s), got {len(registers)}")
    for register in registers:
        if (
            isinstance(register, bool)
            or not isinstance(register, int)
            or not 0 <= register <= 0xFFFF
        ):
            raise RegisterDecodeError(f"a register holds 0..65535, got {register!r}")
    return struct.unpack(f">{code}", _words_to_bytes(registers, word_order, byte_order))[0]


def encode_value(
    value: int | float, data_type: str, word_order: str = "big", byte_order: str = "big"
) -> list[int]:
    """The registers (in address order) that hold ``value``; the inverse of :func:`decode_value`.

    :raises RegisterDecodeError: the value does not fit the type (an integer out of range, a
        float for an integer type).
    """
    if data_type not in DATA_TYPES:
        raise RegisterDecodeError(f"unknown data type {data_type!r}")
    if word_order not in ORDERS or byte_order not in ORDERS:
        raise RegisterDecodeError(f"word and byte order must be big or little, got {word_order!r}")
    code, count = DATA_TYPES[data_type]
    if code not in "fd":
        if isinstance(value, float):
            if not value.is_integer():
                raise RegisterDecodeError(f"{data_type} holds whole numbers, got {value!r}")
            value = int(value)
    try:
        raw = struct.pack(f">{code}", value)
    except (struct.error, OverflowError) as exc:
        raise RegisterDecodeError(f"{value!r} does not fit {data_type}: {exc}") from None
    words = [raw[i : i + 2] for i in range(0, len(raw), 2)]
    if byte_order == "little":
        words = [word[::-1] for word in words]
    registers = [int.from_bytes(word, "big") for word in words]
    return registers if word_order == "big" else list(reversed(registers))


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
    """A meter type's registers, by OBIS code and in address order."""

    name: str
    description: str
    registers: tuple[Register, ...]
    max_gap: int = 0
    source: str = ""

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
    "kind", "writable",
)  # fmt: skip


def _fail(source: str, entry: str, field: str, reason: str) -> MapError:
    return MapError(f"{source}: {entry}: field {field!r}", reason)


def _register(source: str, index: int, item: object, defaults: Mapping[str, Any]) -> Register:
    entry = f"register {index}"
    if not isinstance(item, Mapping):
        raise MapError(
            f"{source}: {entry}", f"must be a table of fields, got {type(item).__name__}"
        )
    name = item.get("name")
    if isinstance(name, str) and name:
        entry = f"register {index} ({name!r})"
    unknown = sorted(set(item) - set(_REGISTER_FIELDS))
    if unknown:
        raise _fail(
            source, entry, unknown[0], f"unknown field; known: {', '.join(_REGISTER_FIELDS)}"
        )
    merged = {**defaults, **item}

    def need(field: str, kinds: type | tuple[type, ...], what: str) -> Any:
        if field not in merged:
            raise _fail(source, entry, field, "is missing")
        value = merged[field]
        if isinstance(value, bool) and bool not in (
            kinds if isinstance(kinds, tuple) else (kinds,)
        ):
            raise _fail(source, entry, field, f"must be {what}, got {value!r}")
        if not isinstance(value, kinds):
            raise _fail(source, entry, field, f"must be {what}, got {value!r}")
        return value

    if not isinstance(name, str) or not name.strip():
        raise _fail(source, entry, "name", "must be a non-empty text")
    address = need("address", int, "a whole number 0..65535")
    if not 0 <= address <= 0xFFFF:
        raise _fail(source, entry, "address", f"must be 0..65535, got {address}")
    function = need("function", int, "3 or 4")
    if function not in FUNCTIONS:
        raise _fail(source, entry, "function", f"must be 3 (holding) or 4 (input), got {function}")
    data_type = need("type", str, "a data type")
    if data_type not in DATA_TYPES:
        raise _fail(
            source, entry, "type", f"must be one of {', '.join(DATA_TYPES)}, got {data_type!r}"
        )
    if address + DATA_TYPES[data_type][1] > 0x10000:
        raise _fail(source, entry, "address", "the value runs past register 65535")
    orders = {}
    for field in ("word_order", "byte_order"):
        value = merged.get(field, "big")
        if value not in ORDERS:
            raise _fail(source, entry, field, f"must be big or little, got {value!r}")
        orders[field] = value
    scale = merged.get("scale", 1.0)
    if (
        isinstance(scale, bool)
        or not isinstance(scale, int | float)
        or not math.isfinite(scale)
        or scale == 0
    ):
        raise _fail(source, entry, "scale", f"must be a non-zero number, got {scale!r}")
    unit = merged.get("unit")
    if unit is not None and (not isinstance(unit, str) or not unit):
        raise _fail(source, entry, "unit", f"must be a non-empty text, got {unit!r}")
    obis_text = need("obis", str, "an OBIS code")
    try:
        obis = canonical_obis(obis_text, field="obis")
    except InvalidValue as exc:
        raise _fail(source, entry, "obis", exc.reason) from None
    kind = merged.get("kind", "clock" if obis == CLOCK_OBIS else "register")
    if kind not in KINDS:
        raise _fail(source, entry, "kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "clock" and data_type.startswith("float"):
        raise _fail(source, entry, "type", "a clock holds Unix seconds in an integer type")
    writable = merged.get("writable", False)
    if not isinstance(writable, bool):
        raise _fail(source, entry, "writable", f"must be true or false, got {writable!r}")
    if writable and function != 3:
        raise _fail(source, entry, "writable", "only holding registers (function 3) are writable")
    return Register(
        name=name.strip(),
        address=address,
        function=function,
        data_type=data_type,
        word_order=orders["word_order"],
        byte_order=orders["byte_order"],
        scale=float(scale),
        unit=unit,
        obis=obis,
        kind=kind,
        writable=writable,
    )


def parse_map(data: object, source: str = "<map>") -> RegisterMap:
    """Validate a map given as plain data (a parsed TOML or JSON document)."""
    if not isinstance(data, Mapping):
        raise MapError(source, "a register map must be a table (TOML) or an object (JSON)")
    unknown = sorted(set(data) - {"name", "description", "max_gap", "defaults", "registers"})
    if unknown:
        raise MapError(f"{source}: {unknown[0]}", "unknown top-level field")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise MapError(f"{source}: name", "the map needs a non-empty name")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise MapError(f"{source}: description", "must be a text")
    max_gap = data.get("max_gap", 0)
    if isinstance(max_gap, bool) or not isinstance(max_gap, int) or not 0 <= max_gap <= MAX_READ:
        raise MapError(f"{source}: max_gap", f"must be a whole number 0..{MAX_READ}")
    defaults = data.get("defaults", {})
    if not isinstance(defaults, Mapping):
        raise MapError(f"{source}: defaults", "must be a table of register fields")
    bad_default = sorted(set(defaults) - (set(_REGISTER_FIELDS) - {"name", "address", "obis"}))
    if bad_default:
        raise MapError(f"{source}: defaults.{bad_default[0]}", "is not a field with a default")
    items = data.get("registers")
    if not isinstance(items, list) or not items:
        raise MapError(f"{source}: registers", "the map needs a non-empty list of registers")
    registers = tuple(
        _register(source, index, item, defaults) for index, item in enumerate(items, start=1)
    )
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
                    source, entry, "address", f"register {address} is also used by {other!r}"
                )
            used[(register.function, address)] = register.name
    if len([r for r in registers if r.kind == "clock"]) > 1:
        raise MapError(f"{source}: registers", "a map has at most one clock register")
    return RegisterMap(name.strip(), description, registers, max_gap, source)


def load_map(path: str | Path) -> RegisterMap:
    """Read and validate a map file (``.toml`` or ``.json``)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise MapError(str(file), f"cannot read the map file: {exc.strerror or exc}") from None
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
    """The names of the maps that come with the driver (``sdm630``, ``int32-lw``)."""
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
