"""Data records (EN 13757-3) decoded by pymbusparser, as typed :class:`Record` objects.

pymbusparser (Rust, m-bus-parser) decodes the DIF/DIFE/VIF/VIFE chains, every data coding
(BCD, integers, reals, dates of types F/G/I/J, variable length) and the VIF extension tables
``FB``/``FD``; MeterHub decodes nothing of that by hand. :func:`decode_records` turns its output
into :class:`Record` values, numbers exact (a decimal mantissa and a power-of-ten scaler).

The library stops at the first record it cannot decode (an unknown VIF, a truncated record)
and raises with the byte offset. Everything from there on is kept as one :class:`Record` of
function ``undecoded`` with its bytes, so nothing is dropped silently; manufacturer-specific data
(DIF ``0F``/``1F``) is kept the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum

import pymbusparser

__all__ = ["Function", "Record", "decode_records", "decimal_parts", "identification"]


class Function(StrEnum):
    """What a record holds (the DIF function field, plus the cases the decoder adds)."""

    INSTANTANEOUS = "instantaneous"
    MAXIMUM = "maximum"
    MINIMUM = "minimum"
    ERROR_STATE = "error_state"
    MANUFACTURER = "manufacturer"
    MORE_FOLLOWS = "more_follows"
    UNDECODED = "undecoded"


_FUNCTIONS = {
    "Instantaneous value": Function.INSTANTANEOUS,
    "Maximum value": Function.MAXIMUM,
    "Minimum value": Function.MINIMUM,
    "Value during error state": Function.ERROR_STATE,
    "Manufacturer specific": Function.MANUFACTURER,
    "More records follow": Function.MORE_FOLLOWS,
}
_OFFSET = re.compile(r"at byte offset (\d+)")


@dataclass(frozen=True, slots=True)
class Record:
    """One data record.

    ``value`` is an ``int`` mantissa for numbers (physical value ``value * 10 ** scaler`` in
    ``unit``), a ``float`` for real-coded records, a naive ``datetime``/``date`` in the meter's
    local time for time points, a ``str`` for text, ``None`` when the record carries no value.
    ``unit`` is the library's unit text (``W.h``, ``m3``, ``Cel``, ...); ``header`` the DIF..VIF
    bytes and ``data`` the data bytes, as received. ``modifiers`` names what the record's VIF
    extensions (VIFE) add to the quantity ("Accumulation only if value is negative", a
    manufacturer-specific extension, ...): a record with modifiers is not the plain quantity.
    """

    index: int
    function: Function
    storage: int
    tariff: int
    subunit: int
    quantity: str
    unit: str | None
    value: int | float | str | datetime | date | None
    scaler: int
    coding: str
    header: bytes
    data: bytes
    modifiers: tuple[str, ...] = ()

    @property
    def raw(self) -> str:
        """Header and data in hex, for reports and logs."""
        return f"{self.header.hex(' ').upper()} | {self.data.hex(' ').upper()}".strip(" |")


def decimal_parts(text: str) -> tuple[int, int]:
    """``"12345.678"`` → ``(12345678, -3)``: an exact mantissa and power-of-ten scaler."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a decimal number: {text!r}") from None
    sign, digits, exponent = number.as_tuple()
    if not isinstance(exponent, int):
        raise ValueError(f"not a finite number: {text!r}")
    mantissa = int("".join(map(str, digits)) or "0")
    # Keep whole numbers whole: 12000 stays 12000 with scaler 0 unless it came as 1.2E+4.
    return (-mantissa if sign else mantissa), exponent


def _value(found: dict[str, object]) -> tuple[int | float | str | datetime | date | None, int]:
    value = found.get("value")
    if not isinstance(value, dict):
        return None, 0
    kind, content = value.get("kind"), value.get("value")
    if kind == "decimal" and isinstance(content, str):
        return decimal_parts(content)
    if kind == "float" and isinstance(content, int | float):
        return float(content), 0
    if kind == "datetime" and isinstance(content, str):
        try:
            return datetime.fromisoformat(content), 0
        except ValueError:
            return None, 0
    if kind == "date" and isinstance(content, str):
        try:
            return date.fromisoformat(content), 0
        except ValueError:
            return None, 0
    if kind == "text" and isinstance(content, str):
        return content, 0
    return None, 0


def _record(index: int, found: dict[str, object]) -> Record:
    quantities = found.get("quantities") or []
    function = _FUNCTIONS.get(str(found.get("function")), Function.UNDECODED)
    value, scaler = _value(found)
    unit = found.get("unit")
    return Record(
        index=index,
        function=function,
        storage=int(found.get("storage_number") or 0),  # type: ignore[call-overload]
        tariff=int(found.get("tariff") or 0),  # type: ignore[call-overload]
        subunit=int(found.get("subunit") or 0),  # type: ignore[call-overload]
        quantity=str(quantities[0]) if isinstance(quantities, list) and quantities else "",
        unit=unit if isinstance(unit, str) else None,
        value=value,
        scaler=scaler,
        coding=str(found.get("data_coding") or ""),
        header=bytes.fromhex(str(found.get("header_hex") or "")),
        data=bytes.fromhex(str(found.get("data_hex") or "")),
        modifiers=tuple(str(item) for item in quantities[1:])
        if isinstance(quantities, list)
        else (),
    )


def decode_records(data: bytes) -> list[Record]:
    """Every record of the application data ``data`` (after the TPL header, decrypted).

    Never raises for bad content: what the library cannot decode ends the list as one
    ``undecoded`` record holding the remaining bytes.
    """
    try:
        found = pymbusparser.parse_records(data)
        cut = len(data)
    except pymbusparser.MbusParserError as exc:
        match = _OFFSET.search(str(exc))
        cut = int(match.group(1)) if match else 0
        try:
            found = pymbusparser.parse_records(data[:cut]) if cut else []
        except pymbusparser.MbusParserError:
            found, cut = [], 0
    records = [_record(index, item) for index, item in enumerate(found)]
    if cut < len(data):
        records.append(
            Record(
                index=len(records),
                function=Function.UNDECODED,
                storage=0,
                tariff=0,
                subunit=0,
                quantity="",
                unit=None,
                value=None,
                scaler=0,
                coding="undecoded",
                header=b"",
                data=data[cut:],
            )
        )
    return records


def identification(raw: bytes) -> str:
    """The 8-digit identification number from its 4 BCD bytes (least significant byte first)."""
    return raw[::-1].hex().upper()
