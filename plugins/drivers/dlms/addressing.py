"""HDLC server addresses (IEC 62056-46): the logical and physical parts in 1, 2 or 4 bytes.

A server address on HDLC has an *upper* part, the logical device (1 = the management logical
device), and a *lower* part, the physical device on the line. Each byte carries 7 bits; the last
byte of the address has its lowest bit set. The three forms:

========  ==========================================  ===================================
size      content                                     ranges
========  ==========================================  ===================================
1 byte    upper address only (point to point)         logical 0..0x7F
2 bytes   upper and lower, one byte each              logical 0..0x7F, physical 0..0x7F
4 bytes   upper and lower, two bytes each             logical 0..0x3FFF, physical 0..0x3FFF
========  ==========================================  ===================================

Reserved values: 0 no station, 0x7F (1- and 2-byte forms) or 0x3FFF (4-byte form) all stations
(broadcast), 0x7E / 0x3FFE the calling physical device; usable physical addresses start at
0x10. gurux keeps a server address as one integer (upper part shifted by 7 bits in the 2-byte
form, by 14 in the 4-byte form) plus the address size, which :func:`server_address` computes.
"""

from __future__ import annotations

from meterhub.errors import InvalidValue

__all__ = ["ADDRESS_SIZES", "address_bytes", "resolve_size", "server_address"]

#: The sizes a server address may have; 0 lets :func:`resolve_size` choose.
ADDRESS_SIZES = (0, 1, 2, 4)


def resolve_size(logical: int, physical: int, size: int) -> int:
    """The address size to use: ``size`` itself, or for 0 the smallest form with a lower part.

    Automatic choice: 2 bytes when both parts fit in 7 bits, 4 bytes otherwise (a physical
    address above 127, such as one derived from a serial number).
    """
    if size:
        return size
    return 2 if logical <= 0x7F and physical <= 0x7F else 4


def server_address(logical: int, physical: int, size: int = 0) -> tuple[int, int]:
    """``(gurux server address, address size)`` of a logical and physical device address.

    :raises InvalidValue: a part does not fit the size (``settings.logical_address`` or
        ``settings.physical_address``), or the size is not 0, 1, 2 or 4.
    """
    if size not in ADDRESS_SIZES:
        raise InvalidValue("settings.address_size", f"must be 0 (auto), 1, 2 or 4, got {size}")
    size = resolve_size(logical, physical, size)
    limit = 0x3FFF if size == 4 else 0x7F
    if not 0 <= logical <= limit:
        raise InvalidValue(
            "settings.logical_address", f"must be 0..{limit} for a {size}-byte address"
        )
    if size == 1:
        return logical, 1
    if not 0 <= physical <= limit:
        raise InvalidValue(
            "settings.physical_address", f"must be 0..{limit} for a {size}-byte address"
        )
    shift = 14 if size == 4 else 7
    return logical << shift | physical, size


def address_bytes(logical: int, physical: int, size: int) -> bytes:
    """The address field as it goes on the line (7 bits per byte, the last byte's bit 0 set)."""
    value, size = server_address(logical, physical, size)
    if size == 1:
        parts = [value]
    elif size == 2:
        parts = [logical, physical]
    else:
        parts = [logical >> 7, logical & 0x7F, physical >> 7, physical & 0x7F]
    encoded = [part << 1 for part in parts]
    encoded[-1] |= 1
    return bytes(encoded)
