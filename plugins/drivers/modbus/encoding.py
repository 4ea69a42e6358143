"""Values in Modbus registers: the data types, word order and byte order of energy meters.

A Modbus register holds 16 bits, sent most significant byte first. Meters put 32- and 64-bit
values into consecutive registers in one of two word orders (``big``: most significant word
at the lower address, Eastron and Janitza; ``little``: least significant word first, Carlo
Gavazzi), and a few swap the bytes inside each word too (``byte_order = "little"``).

:func:`decode_value` and :func:`encode_value` are inverse functions over the registers *in
address order*. Decoding raises :class:`RegisterDecodeError` (a :class:`ValueError`) for a
wrong register count, a register outside 0..65535 or an unknown type or order, and nothing
else; encoding raises it for a value the type cannot hold.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence

__all__ = [
    "DATA_TYPES",
    "ORDERS",
    "SIGNED_TYPES",
    "RegisterDecodeError",
    "decode_value",
    "encode_value",
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
#: The data types that can hold a negative value.
SIGNED_TYPES = frozenset({"int16", "int32", "float32", "float64"})
#: Word and byte orders: ``big`` (most significant first) or ``little``.
ORDERS = ("big", "little")


class RegisterDecodeError(ValueError):
    """Registers that cannot be a value of the given type."""


def _check_format(data_type: str, word_order: str, byte_order: str) -> tuple[str, int]:
    if data_type not in DATA_TYPES:
        raise RegisterDecodeError(f"unknown data type {data_type!r}")
    if word_order not in ORDERS or byte_order not in ORDERS:
        raise RegisterDecodeError(
            f"word and byte order must be big or little, got {word_order!r}/{byte_order!r}"
        )
    return DATA_TYPES[data_type]


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
    code, count = _check_format(data_type, word_order, byte_order)
    if len(registers) != count:
        raise RegisterDecodeError(f"{data_type} needs {count} register(s), got {len(registers)}")
    for register in registers:
        if (
            isinstance(register, bool)
            or not isinstance(register, int)
            or not 0 <= register <= 0xFFFF
        ):
            raise RegisterDecodeError(f"a register holds 0..65535, got {register!r}")
    value: int | float = struct.unpack(
        f">{code}", _words_to_bytes(registers, word_order, byte_order)
    )[0]
    return value


def encode_value(
    value: int | float, data_type: str, word_order: str = "big", byte_order: str = "big"
) -> list[int]:
    """The registers (in address order) that hold ``value``; the inverse of :func:`decode_value`.

    :raises RegisterDecodeError: the value does not fit the type (an integer out of range, a
        float with a fraction for an integer type).
    """
    code, _count = _check_format(data_type, word_order, byte_order)
    if code not in "fd" and isinstance(value, float):
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
