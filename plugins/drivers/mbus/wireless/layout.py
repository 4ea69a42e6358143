"""Compiled record layouts: decoding many telegrams of one meter model with numpy.

A meter sends the same records every time; only the values change. The first telegram of a
layout is decoded by pymbusparser (:func:`~..records.decode_records`), and the result compiled
into a :class:`Layout`: where each record's header and data lie, how its data is coded, the
power of ten it is scaled by and the OBIS channel it maps to. The scale comes from the library
too: a *calibration* copy of the telegram, every numeric record set to 1, is decoded once and
each value read back is the record's factor — so no VIF table is written here.

Telegrams of the same layout are then stacked into a ``uint8`` matrix: one vectorised compare
proves that their header bytes (DIF, DIFE, VIF, VIFE) are the layout's, and each field is
decoded for all rows at once (integers, BCD, 32-bit reals, dates of types F and G). A row whose
header bytes differ goes back to the library.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from meterhub.plugins.drivers.mbus.obis import map_record
from meterhub.plugins.drivers.mbus.records import Function, Record, decode_records

__all__ = ["Field", "Layout", "compile_layout", "layout_key"]

_INTEGER = {
    "8-bit integer": 1,
    "16-bit integer": 2,
    "24-bit integer": 3,
    "32-bit integer": 4,
    "48-bit integer": 6,
    "64-bit integer": 8,
}
_BCD = {"2-digit BCD": 1, "4-digit BCD": 2, "6-digit BCD": 3, "8-digit BCD": 4, "12-digit BCD": 6}
_TIME_POINTS = {"Date (type G)": "g", "Date and time (type F)": "f"}


@dataclass(frozen=True, slots=True)
class Field:
    """One record of a layout: data position and coding, scale, and its channel (or date)."""

    offset: int
    size: int
    coding: str  # int, bcd, real, date_f, date_g
    scale: float
    storage: int
    subunit: int
    obis: str | None
    unit: str | None


@dataclass
class Layout:
    """A compiled layout (see the module docstring)."""

    length: int
    check_positions: npt.NDArray[np.intp]
    check_values: npt.NDArray[np.uint8]
    values: list[Field]
    dates: dict[int, Field]
    clock: Field | None
    unmapped: list[tuple[int, str, str]]
    number: int = 0
    channels: list[tuple[str, str | None]] = field(default_factory=list)


def layout_key(records: bytes) -> bytes:
    """A cheap identity of a plaintext's layout guess: its length and first header bytes."""
    return len(records).to_bytes(2, "little") + records[:2]


def _calibrate(plain: bytes, spans: list[tuple[Record, int]]) -> list[Record]:
    probe = bytearray(plain)
    for record, offset in spans:
        size = len(record.data)
        if record.coding in _INTEGER or record.coding in _BCD:
            probe[offset : offset + size] = b"\x01" + bytes(size - 1)
        elif record.coding == "32-bit real":
            probe[offset : offset + size] = np.float32(1.0).tobytes()
    return decode_records(bytes(probe))


def compile_layout(plain: bytes, medium: int) -> Layout | None:
    """The layout of ``plain`` (records in clear), or ``None`` when it cannot be compiled
    (undecoded or variable-length records: such telegrams always take the library's path).
    """
    records = decode_records(plain)
    spans: list[tuple[Record, int]] = []
    checks: list[int] = []
    position = 0
    for record in records:
        if record.function is Function.UNDECODED or record.coding == "Variable length":
            return None
        while position < len(plain) and plain[position] == 0x2F and record.header[:1] != b"\x2f":
            checks.append(position)
            position += 1
        if plain[position : position + len(record.header)] != record.header:
            return None
        checks.extend(range(position, position + len(record.header)))
        position += len(record.header)
        spans.append((record, position))
        if record.function in (Function.MANUFACTURER, Function.MORE_FOLLOWS):
            checks.extend(range(position, len(plain)))
            position = len(plain)
            break
        position += len(record.data)
    checks.extend(range(position, len(plain)))  # trailing fillers
    calibrated = _calibrate(plain, spans)
    values: list[Field] = []
    dates: dict[int, Field] = {}
    clock = None
    unmapped = []
    for (record, offset), probe in zip(spans, calibrated, strict=False):
        coding = (
            "int"
            if record.coding in _INTEGER
            else "bcd"
            if record.coding in _BCD
            else "real"
            if record.coding == "32-bit real"
            else "date_" + _TIME_POINTS[record.coding]
            if record.coding in _TIME_POINTS
            else ""
        )
        if coding.startswith("date_"):
            entry = Field(
                offset, len(record.data), coding, 1.0, record.storage, record.subunit, None, None
            )
            if record.storage:
                dates[record.storage] = entry
            elif coding == "date_f":
                clock = entry
            continue
        mapping = map_record(record, medium)
        if mapping.obis is None or not coding:
            unmapped.append((record.index, record.raw, mapping.reason or "not numeric"))
            continue
        scale = 1.0
        if coding != "real" or probe.value != 0:
            value = probe.value
            if not isinstance(value, int | float):
                unmapped.append((record.index, record.raw, "no calibration value"))
                continue
            scale = float(value) * 10.0**probe.scaler
        values.append(
            Field(
                offset,
                len(record.data),
                coding,
                scale,
                record.storage,
                record.subunit,
                mapping.obis,
                mapping.unit,
            )
        )
    return Layout(
        length=len(plain),
        check_positions=np.array(checks, dtype=np.intp),
        check_values=np.frombuffer(plain, dtype=np.uint8)[checks].copy(),
        values=values,
        dates=dates,
        clock=clock,
        unmapped=unmapped,
        channels=[(entry.obis or "", entry.unit) for entry in values],
    )


def decode_field(matrix: npt.NDArray[np.uint8], entry: Field) -> npt.NDArray[np.float64]:
    """The physical values of ``entry`` for every row of ``matrix`` (NaN where invalid)."""
    columns = matrix[:, entry.offset : entry.offset + entry.size].astype(np.int64)
    if entry.coding == "int":
        weights = np.left_shift(np.int64(1), 8 * np.arange(entry.size, dtype=np.int64))
        raw = columns @ weights
        top = np.int64(1) << (8 * entry.size - 1)
        raw = np.where(raw >= top, raw - 2 * top, raw) if entry.size < 8 else raw
        return raw.astype(np.float64) * entry.scale
    if entry.coding == "bcd":
        low, high = columns & 0x0F, columns >> 4
        bad = ((low > 9) | (high > 9)).any(axis=1)
        weights = 100 ** np.arange(entry.size, dtype=np.int64)
        raw = (low + 10 * high) @ weights
        out = raw.astype(np.float64) * entry.scale
        out[bad] = np.nan
        return out
    real = np.ascontiguousarray(matrix[:, entry.offset : entry.offset + 4]).view("<f4")[:, 0]
    return real.astype(np.float64) * entry.scale


def decode_date(matrix: npt.NDArray[np.uint8], entry: Field) -> npt.NDArray[np.datetime64]:
    """Dates (type G) or dates and times (type F) of every row, ``datetime64[s]`` (NaT: invalid)."""
    b = matrix[:, entry.offset : entry.offset + entry.size].astype(np.int64)
    if entry.coding == "date_g":
        day, month = b[:, 0] & 0x1F, b[:, 1] & 0x0F
        year = 2000 + ((b[:, 0] >> 5) | ((b[:, 1] & 0xF0) >> 1))
        minute = hour = np.zeros(len(b), np.int64)
        invalid = np.zeros(len(b), bool)
    else:
        minute, hour = b[:, 0] & 0x3F, b[:, 1] & 0x1F
        day, month = b[:, 2] & 0x1F, b[:, 3] & 0x0F
        year = 2000 + ((b[:, 2] >> 5) | ((b[:, 3] & 0xF0) >> 1))
        invalid = (b[:, 0] & 0x80) != 0
    invalid |= (month < 1) | (month > 12) | (day < 1) | (hour > 23) | (minute > 59)
    months = ((year - 1970) * 12 + np.clip(month, 1, 12) - 1).astype("datetime64[M]")
    stamps = months.astype("datetime64[s]") + (
        (np.clip(day, 1, 31) - 1) * 86400 + hour * 3600 + minute * 60
    ).astype("timedelta64[s]")
    stamps[invalid] = np.datetime64("NaT")
    return stamps
