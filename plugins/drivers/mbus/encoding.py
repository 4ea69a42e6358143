"""Encoders for record data (EN 13757-3 annex A): BCD, integers, dates of types F and G.

No library encodes M-Bus records (pymbusparser and pyMeterBus only decode), so the simulators
and the driver's clock setting use these. Decoding stays with pymbusparser; the tests check
that it reads back what these write.
"""

from __future__ import annotations

from datetime import date, datetime

__all__ = ["bcd", "integer", "record", "type_f", "type_g"]


def bcd(value: int, size: int) -> bytes:
    """``value`` as ``2 * size`` BCD digits, least significant byte first."""
    if value < 0 or value >= 10 ** (2 * size):
        raise ValueError(f"{value} does not fit {2 * size} BCD digits")
    digits = f"{value:0{2 * size}d}"
    return bytes.fromhex(digits)[::-1]


def integer(value: int, size: int) -> bytes:
    """``value`` as a signed little-endian integer of ``size`` bytes."""
    return value.to_bytes(size, "little", signed=True)


def type_f(moment: datetime) -> bytes:
    """Date and time, type F (4 bytes): minute, hour, day + year low bits, month + year high."""
    year = moment.year - 2000
    if not 0 <= year <= 99:
        raise ValueError("type F dates cover 2000..2099")
    return bytes(
        [
            moment.minute & 0x3F,
            moment.hour & 0x1F,
            (moment.day & 0x1F) | ((year & 0x07) << 5),
            (moment.month & 0x0F) | ((year & 0x78) << 1),
        ]
    )


def type_g(day: date) -> bytes:
    """Date, type G (2 bytes): day + year low bits, month + year high bits."""
    year = day.year - 2000
    if not 0 <= year <= 99:
        raise ValueError("type G dates cover 2000..2099")
    return bytes(
        [(day.day & 0x1F) | ((year & 0x07) << 5), (day.month & 0x0F) | ((year & 0x78) << 1)]
    )


def record(
    dif: int, vif: bytes, data: bytes, *, storage: int = 0, tariff: int = 0, subunit: int = 0
) -> bytes:
    """One data record: DIF (with the storage number's lowest bit), DIFEs, VIF(s), data.

    ``dif`` gives the data field and function (``0x04`` = 32-bit integer, instantaneous);
    storage number, tariff and subunit go into the DIF bit 6 and as many DIFEs as they need.
    """
    head = dif | ((storage & 1) << 6)
    storage >>= 1
    difes = []
    while storage or tariff or subunit:
        difes.append((storage & 0x0F) | ((tariff & 0x03) << 4) | ((subunit & 0x01) << 6))
        storage, tariff, subunit = storage >> 4, tariff >> 2, subunit >> 1
    for index in range(len(difes) - 1):
        difes[index] |= 0x80
    if difes:
        head |= 0x80
    return bytes([head, *difes]) + vif + data
