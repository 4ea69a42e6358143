"""COSEM helpers shared by the DLMS driver and its simulator: OBIS texts, units, times.

OBIS codes travel in gurux as dotted logical names (``1.0.1.8.0.255``); MeterHub writes them
canonically (``1-0:1.8.0*255``). Units are the IEC 62056-62 codes; times on the wire are
COSEM date-times, which gurux hands over as :class:`~gurux_dlms.GXDateTime`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from gurux_dlms import GXDateTime

from meterhub.identifiers import canonical_obis

__all__ = [
    "UNITS",
    "canonical",
    "from_cosem_time",
    "logical_name",
    "obis_text",
    "scaler_exponent",
    "to_cosem_time",
    "unit_text",
]

#: IEC 62056-62 unit codes → the unit texts readings carry.
UNITS: dict[int, str] = {
    1: "a",
    2: "mo",
    3: "wk",
    4: "d",
    5: "h",
    6: "min",
    7: "s",
    8: "°",
    9: "°C",
    10: "currency",
    11: "m",
    12: "m/s",
    13: "m³",
    14: "m³",
    15: "m³/h",
    16: "m³/h",
    17: "m³/d",
    18: "m³/d",
    19: "l",
    20: "kg",
    21: "N",
    22: "Nm",
    23: "Pa",
    24: "bar",
    25: "J",
    26: "J/h",
    27: "W",
    28: "VA",
    29: "var",
    30: "Wh",
    31: "VAh",
    32: "varh",
    33: "A",
    34: "C",
    35: "V",
    36: "V/m",
    37: "F",
    38: "Ω",
    44: "Hz",
    255: "count",
}


@lru_cache(maxsize=4096)
def _obis_text(ln: str) -> str:
    parts = [int(part) for part in ln.split(".")]
    if len(parts) != 6:
        raise ValueError(f"a logical name has 6 parts, got {ln!r}")
    a, b, c, d, e, f = parts
    return f"{a}-{b}:{c}.{d}.{e}*{f}"


def obis_text(ln: str | bytes | bytearray) -> str:
    """The canonical OBIS text of a gurux logical name (``1.0.1.8.0.255`` or 6 bytes)."""
    if isinstance(ln, bytes | bytearray):
        parts = list(ln)
    else:
        return _obis_text(str(ln))
    if len(parts) != 6:
        raise ValueError(f"a logical name has 6 parts, got {ln!r}")
    a, b, c, d, e, f = parts
    return f"{a}-{b}:{c}.{d}.{e}*{f}"


@lru_cache(maxsize=4096)
def canonical(code: str, field: str = "obis") -> str:
    """:func:`~meterhub.identifiers.canonical_obis`, remembered (a fleet reads the same codes
    over and over); :class:`~meterhub.errors.InvalidValue` names ``field`` for a bad one."""
    return canonical_obis(code, field=field)


@lru_cache(maxsize=4096)
def logical_name(obis: str) -> str:
    """The gurux logical name (``1.0.1.8.0.255``) of an OBIS code in any accepted form."""
    text = canonical_obis(obis, field="obis")
    a_b, rest = text.split(":")
    a, b = a_b.split("-")
    c_d_e, f = rest.split("*")
    return ".".join([a, b, *c_d_e.split("."), f])


def scaler_exponent(factor: float | int | None) -> int:
    """gurux keeps a register's scaler as a factor (0.001); the exponent is what a reading needs.

    ``GXDLMSRegister.scaler`` holds ``10 ** exponent`` (PITFALLS.md), so 0.001 → −3.
    """
    if factor is None or factor == 0:
        return 0
    exponent = 0
    value = float(factor)
    while value >= 10.0 - 1e-9:
        value /= 10.0
        exponent += 1
    while value < 1.0 - 1e-9:
        value *= 10.0
        exponent -= 1
    return exponent


def unit_text(code: Any) -> str | None:
    """The unit text of an IEC 62056-62 unit code; ``None`` for 0 (no unit)."""
    number = int(code or 0)
    if number == 0:
        return None
    return UNITS.get(number, f"unit-{number}")


def from_cosem_time(value: Any) -> datetime | None:
    """An aware UTC datetime from what gurux returns for a COSEM date-time (or ``None``)."""
    if isinstance(value, GXDateTime):
        value = value.value
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def to_cosem_time(value: datetime) -> GXDateTime:
    """A COSEM date-time in UTC (deviation 0) for an aware datetime."""
    utc = value.astimezone(UTC).replace(microsecond=0)
    return GXDateTime(utc.replace(tzinfo=timezone(timedelta(0))))
