"""Records to OBIS channels: which code, unit and scaler a data record is stored under.

Value group A comes from the meter's medium (the device type of the header), C from the
record's quantity, D from its function, B from its subunit, E from its tariff and F from its
storage number (1..254; 255 for the current value). The table for heat, cooling, gas and water
follows the value groups of EN 13757-1 (the OBIS part for non-electricity media); the codes that
describe the device rather than the medium use A = 0. Every mapping is in :data:`QUANTITY_C` and
documented in ``docs/drivers/mbus.md``; a record without a mapping is returned with the reason,
never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

from meterhub.identifiers import ObisCode
from meterhub.plugins.drivers.mbus.records import Function, Record

__all__ = [
    "ABSTRACT",
    "MEDIUM_A",
    "MEDIUM_NAMES",
    "PLAIN_UNITS",
    "QUANTITY_C",
    "Mapping",
    "channel_problem",
    "map_record",
    "medium_group",
    "unit_of",
]

#: Device type (medium) of the M-Bus header → OBIS value group A.
MEDIUM_A: dict[int, int] = {
    0x02: 1,  # electricity
    0x03: 7,  # gas
    0x04: 6,  # heat, outlet (return)
    0x0C: 6,  # heat, inlet (flow)
    0x0D: 6,  # heat / cooling
    0x0A: 5,  # cooling, outlet
    0x0B: 5,  # cooling, inlet
    0x07: 8,  # water
    0x16: 8,  # cold water
    0x06: 9,  # warm water (30..90 °C)
    0x15: 9,  # hot water (>= 90 °C)
    0x08: 4,  # heat cost allocator
}

#: Names of the common device types, for lists of meters heard on air and docs.
MEDIUM_NAMES: dict[int, str] = {
    0x00: "other",
    0x02: "electricity",
    0x03: "gas",
    0x04: "heat (return)",
    0x06: "warm water",
    0x07: "water",
    0x08: "heat cost allocator",
    0x0A: "cooling (return)",
    0x0B: "cooling (flow)",
    0x0C: "heat (flow)",
    0x0D: "heat/cooling",
    0x15: "hot water",
    0x16: "cold water",
}

#: (value group A, the library's quantity) → (C, D for the current value).
QUANTITY_C: dict[tuple[int, str], tuple[int, int]] = {
    **{
        (a, quantity): (c, 0)
        for a in (5, 6)
        for quantity, c in (
            ("Energy", 1),
            ("Volume", 2),
            ("Mass", 3),
            ("Power", 8),
            ("Volume flow", 9),
            ("Flow temperature", 10),
            ("Return temperature", 11),
            ("Temperature difference", 12),
        )
    },
    **{
        (a, quantity): (c, 0)
        for a in (8, 9)
        for quantity, c in (("Volume", 1), ("Volume flow", 2), ("Flow temperature", 3))
    },
    (7, "Volume"): (3, 0),
    (7, "Volume flow"): (43, 0),
    (7, "Flow temperature"): (41, 0),
    (7, "Pressure"): (42, 0),
    (1, "Energy"): (1, 8),
    (1, "Power"): (1, 7),
}

#: Quantities that describe the device, whatever the medium: (A=0) C.D.
ABSTRACT: dict[str, tuple[int, int]] = {
    "On time": (96, 8),
    "Operating time": (96, 9),
    "Error flags": (97, 97),
    "Fabrication number": (96, 1),
}

#: The library's unit text → MeterHub's unit.
_UNITS = {
    "W.h": "Wh",
    "m3": "m³",
    "Cel": "°C",
    "J.h-1": "J/h",
    "m3.h-1": "m³/h",
    "m3.min-1": "m³/min",
    "m3.s-1": "m³/s",
    "kg.h-1": "kg/h",
}
#: Units a mapped record may have; anything else comes from a VIF extension folded into the
#: unit by the library (``m³ per input pulse``) and is not the plain quantity.
PLAIN_UNITS = frozenset(
    {"Wh", "J", "cal", "m³", "kg", "t", "W", "J/h", "m³/h", "m³/min", "m³/s", "kg/h", "°C", "K"}
    | {"bar", "s", "min", "h", "d"}
)
_D_OF_FUNCTION = {Function.INSTANTANEOUS: 0, Function.MINIMUM: 4, Function.MAXIMUM: 5}


def unit_of(record: Record) -> str | None:
    """MeterHub's unit of ``record`` (``Wh``, ``m³``, ``°C``, ...)."""
    return _UNITS.get(record.unit, record.unit) if record.unit else None


def medium_group(medium: int) -> int | None:
    """Value group A of a device type, ``None`` when there is none."""
    return MEDIUM_A.get(medium)


@dataclass(frozen=True, slots=True)
class Mapping:
    """Where a record goes: ``obis`` (canonical text) with ``unit``, or why it goes nowhere."""

    obis: str | None
    unit: str | None
    reason: str = ""


def _code(a: int, b: int, c: int, d: int, e: int, f: int) -> str:
    return f"{a}-{b}:{c}.{d}.{e}*{f}"


def map_record(record: Record, medium: int) -> Mapping:
    """The OBIS channel of ``record`` from a meter of device type ``medium``."""
    unit = unit_of(record)
    if record.function in (Function.MANUFACTURER, Function.MORE_FOLLOWS, Function.UNDECODED):
        return Mapping(None, unit, f"{record.function.value} data ({len(record.data)} bytes)")
    if record.function is Function.ERROR_STATE:
        return Mapping(None, unit, "value during error state")
    if record.storage > 254 or record.tariff > 255 or record.subunit > 255:
        return Mapping(None, unit, "storage, tariff or subunit out of the OBIS range")
    if record.modifiers:
        # A VIF extension changes what the value is (backward flow, a manufacturer's average,
        # the date of a maximum): it is not the plain quantity and must not share its channel.
        return Mapping(
            None, unit, f"{record.quantity} with VIF extension: {'; '.join(record.modifiers)}"
        )
    if unit is not None and unit not in PLAIN_UNITS:
        return Mapping(None, unit, f"{record.quantity} in {unit!r}, not a plain unit")
    if isinstance(record.value, str) or record.value is None:
        return Mapping(None, unit, f"{record.quantity or 'record'} without a numeric value")
    f = record.storage if record.storage else 255
    if record.quantity in ABSTRACT and record.storage == 0:
        c, d = ABSTRACT[record.quantity]
        return Mapping(_code(0, record.subunit, c, d, record.tariff, 255), unit)
    a = medium_group(medium)
    if a is None:
        return Mapping(None, unit, f"no OBIS value group for device type {medium:02X}h")
    found = QUANTITY_C.get((a, record.quantity))
    if found is None:
        return Mapping(None, unit, f"no OBIS code for {record.quantity or 'this record'} (A={a})")
    c, d = found
    function_d = _D_OF_FUNCTION.get(record.function)
    if function_d is None:
        return Mapping(None, unit, f"function {record.function.value} has no OBIS group D")
    if a == 1:
        d = {0: d, 5: 6}.get(function_d, -1)
        if d < 0:
            return Mapping(None, unit, "minimum values of electricity have no OBIS group D")
    else:
        d = function_d
    return Mapping(_code(a, record.subunit, c, d, record.tariff, f), unit)


#: The units the driver reports for each quantity (as :func:`unit_of` gives them).
QUANTITY_UNITS: dict[str, frozenset[str | None]] = {
    "Energy": frozenset({"Wh", "J", "cal"}),
    "Volume": frozenset({"m³"}),
    "Mass": frozenset({"kg", "t"}),
    "Power": frozenset({"W", "J/h"}),
    "Volume flow": frozenset({"m³/h", "m³/min", "m³/s"}),
    "Flow temperature": frozenset({"°C"}),
    "Return temperature": frozenset({"°C"}),
    "Temperature difference": frozenset({"K"}),
    "Pressure": frozenset({"bar"}),
    "On time": frozenset({"s", "min", "h", "d"}),
    "Operating time": frozenset({"s", "min", "h", "d"}),
    "Error flags": frozenset({None}),
    "Fabrication number": frozenset({None}),
}
#: Value groups A a meter type of each medium gets from its device types.
MEDIUM_OF_A = {6: "heat", 5: "cold", 8: "water", 9: "hot_water", 7: "gas", 1: "electricity"}


def channel_problem(obis: str, unit: str | None, medium: str) -> str | None:
    """Why :func:`map_record` never yields channel ``obis`` in ``unit`` for a meter of
    ``medium`` (a metering-point medium: ``heat``, ``water``, ...); ``None`` when it can."""
    code = ObisCode.parse(obis)
    if code.a == 0:
        found = [q for q, (c, d) in ABSTRACT.items() if (c, d) == (code.c, code.d)]
        if not found:
            return f"{obis}: no device record maps to 0-x:{code.c}.{code.d}"
        if code.f != 255:
            return f"{obis}: device records are current values (F = 255)"
    else:
        if MEDIUM_OF_A.get(code.a) != medium:
            return f"{obis}: value group A={code.a} is not a {medium} meter's"
        found = [
            quantity
            for (a, quantity), (c, d) in QUANTITY_C.items()
            if a == code.a and c == code.c and code.d in ({0: {0, 4, 5}, 8: {8}, 7: {7, 6}}[d])
        ]
        if not found:
            return f"{obis}: no record maps to C={code.c}, D={code.d} for A={code.a}"
        if code.f == 0 or (code.f != 255 and code.f > 254):
            return f"{obis}: F is a storage number 1..254 or 255"
    if not any(unit in QUANTITY_UNITS.get(quantity, frozenset()) for quantity in found):
        return f"{obis}: the driver reports {found[0]} in other units than {unit!r}"
    return None
