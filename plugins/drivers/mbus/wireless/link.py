"""The wireless M-Bus link layer: frame formats A and B and their CRCs (EN 13757-4).

A telegram as a receiver hands it over starts with the L field. Frame format A (T1, C1, S1
meters) carries a CRC after the first block of 10 bytes (L, C, manufacturer, address) and after
every following block of 16 bytes (the last one shorter); L counts the bytes after itself
without the CRCs. Frame format B (C1 meters) carries one CRC over the first 126 bytes (or all)
and one over the rest, and L counts the CRCs. Many receivers check and strip the CRCs
themselves (``none``). The CRC is CRC-16/EN-13757 (polynomial 3D65h, final XOR FFFFh), sent most
significant byte first; :mod:`fastcrc` computes it.

:func:`strip_link` returns the frame without CRCs, its L field set to the data length, or raises
:class:`LinkError` with the :class:`~.telegram.Status` that says what is wrong.
"""

from __future__ import annotations

import fastcrc

from meterhub.plugins.drivers.mbus.wireless.status import Status, TelegramError

__all__ = ["LinkError", "format_a_length", "strip_link"]

_crc16 = fastcrc.crc16.en_13757
LinkError = TelegramError


def format_a_length(length_field: int) -> int:
    """Bytes on the wire of a format A frame whose L field is ``length_field``."""
    data = length_field + 1
    return data + 2 * (1 + (data - 10 + 15) // 16)


def _crc_ok(block: bytes, crc: bytes) -> bool:
    return _crc16(block) == (crc[0] << 8 | crc[1])


def _format_a(frame: bytes) -> bytes:
    out = bytearray()
    if not _crc_ok(frame[:10], frame[10:12]):
        raise TelegramError(Status.CRC_ERROR, "format A: CRC of block 1 is wrong")
    out += frame[:10]
    position, block = 12, 2
    while position < len(frame):
        chunk = frame[position : position + 18]
        data, crc = chunk[:-2], chunk[-2:]
        if not _crc_ok(data, crc):
            raise TelegramError(Status.CRC_ERROR, f"format A: CRC of block {block} is wrong")
        out += data
        position += len(chunk)
        block += 1
    return bytes(out)


def _format_b(frame: bytes) -> bytes | None:
    if len(frame) <= 128:
        return frame[:-2] if _crc_ok(frame[:-2], frame[-2:]) else None
    first, rest = frame[:128], frame[128:]
    if not (_crc_ok(first[:-2], first[-2:]) and _crc_ok(rest[:-2], rest[-2:])):
        return None
    return first[:-2] + rest[:-2]


def strip_link(frame: bytes, frame_format: str = "auto") -> bytes:
    """``frame`` without its CRCs (L set to the data length); :class:`LinkError` when broken.

    ``frame_format``: ``a``, ``b``, ``none`` (the receiver stripped them) or ``auto`` (format A
    by its length, else B if its CRC fits, else stripped; a stripped frame cannot be checked).
    """
    if len(frame) < 12:
        raise TelegramError(Status.TRUNCATED, f"{len(frame)} bytes are too few for a telegram")
    length = frame[0]
    wire_a = format_a_length(length)
    if frame_format == "auto":
        if len(frame) == wire_a:
            frame_format = "a"
        elif len(frame) == length + 1:
            body = _format_b(frame)
            if body is not None:
                return bytes([len(body) - 1]) + body[1:]
            frame_format = "none"
        else:
            raise TelegramError(
                Status.TRUNCATED if len(frame) < wire_a else Status.MALFORMED,
                f"{len(frame)} bytes do not fit the L field {length}",
            )
    if frame_format == "a":
        if len(frame) != wire_a:
            status = Status.TRUNCATED if len(frame) < wire_a else Status.MALFORMED
            raise TelegramError(
                status, f"format A with L={length} has {wire_a} bytes, not {len(frame)}"
            )
        return _format_a(frame)
    if len(frame) != length + 1:
        status = Status.TRUNCATED if len(frame) < length + 1 else Status.MALFORMED
        raise TelegramError(status, f"L={length} means {length + 1} bytes, not {len(frame)}")
    if frame_format == "b":
        body = _format_b(frame)
        if body is None:
            raise TelegramError(Status.CRC_ERROR, "format B: CRC is wrong")
        return bytes([len(body) - 1]) + body[1:]
    return frame
