"""Push telegrams: DSMR P1 and IEC 62056-21 mode D, framed, checked and parsed.

A **P1 telegram** (DSMR, e-MUCS) runs from the identification line ``/XXX5ident`` to ``!``
followed by a CRC and CR LF. DSMR 4.x and 5.0 (and e-MUCS) append four hex digits of
CRC16/ARC (polynomial 0x8005 reflected, initial value 0, no final XOR) over every byte from
``/`` up to and including ``!``; DSMR 2.2 and 3.0 append nothing. A **mode D message**
(IEC 62056-21: the meter sends on its own, at 2400 Bd) is the identification line followed by
a data message ``STX … ! CR LF ETX BCC``.

:func:`parse_telegram` checks the frame (CRC or BCC) and parses the data lines with the mode C
parser (:func:`~meterhub.plugins.drivers.iec62056_21.protocol.parse_data_block`). Every
refusal is a :class:`TelegramError` (a
:class:`~meterhub.extensions.driver.ProtocolError`) that says what is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import anycrc

from meterhub.extensions.driver import ProtocolError
from meterhub.plugins.drivers.iec62056_21.protocol import (
    ETX,
    STX,
    DataSet,
    Identification,
    Iec21ParseError,
    check_block,
    parse_data_block,
    parse_identification,
)

__all__ = ["MAX_TELEGRAM", "Telegram", "TelegramError", "crc16", "parse_telegram"]

#: The largest telegram accepted (DSMR allows lines of 1024 characters; telegrams are ~1 KB).
MAX_TELEGRAM = 64 * 1024
_CRC = anycrc.Model("CRC16-ARC")
_HEX4 = re.compile(rb"^[0-9A-Fa-f]{4}$")


class TelegramError(ProtocolError):
    """A push telegram that is malformed or fails its CRC or block check."""


def crc16(data: bytes) -> int:
    """CRC16/ARC of ``data`` (the P1 telegram check: pass ``/`` … ``!``)."""
    return int(_CRC.calc(data))


@dataclass(frozen=True, slots=True)
class Telegram:
    """One checked telegram.

    ``kind`` is ``p1`` or ``mode_d``; ``crc`` the CRC the meter sent (``None`` for DSMR
    2.2/3.0 and mode D, which has a BCC); ``raw`` the telegram as received, from ``/`` to its
    last byte.
    """

    identification: Identification
    kind: str
    datasets: tuple[DataSet, ...]
    crc: int | None
    raw: bytes


def _identification(raw: bytes) -> tuple[Identification, int]:
    end = raw.find(b"\n")
    if not raw.startswith(b"/") or end < 0:
        raise TelegramError(
            "not a telegram: it must start with an identification line /XXXZident",
            frame=raw[:256],
        )
    try:
        return parse_identification(raw[: end + 1]), end + 1
    except Iec21ParseError as exc:
        raise TelegramError(f"telegram identification: {exc}", frame=raw[:256]) from None


def _parse(body: bytes) -> tuple[DataSet, ...]:
    try:
        return tuple(parse_data_block(body))
    except Iec21ParseError as exc:
        raise TelegramError(f"telegram {exc}", frame=exc.frame) from None


def parse_telegram(raw: bytes, *, require_crc: bool = False) -> Telegram:
    """Check and parse one telegram (``/`` … ``!CRC`` CR LF, or ident + mode D data message).

    :param require_crc: refuse a P1 telegram without a CRC (a DSMR 4+ line cut short after
        ``!`` would otherwise pass as a DSMR 2.2 telegram).
    :raises TelegramError: no identification, no end, a CRC or BCC mismatch, a malformed CRC,
        or a data line the parser refuses.
    """
    if len(raw) > MAX_TELEGRAM:
        raise TelegramError(f"telegram of {len(raw)} bytes is oversized", frame=raw[:256])
    identification, start = _identification(raw)
    data_start = raw.find(STX, start)
    bang = raw.find(b"!", start)
    if data_start >= 0 and (bang < 0 or data_start < bang):
        frame = raw[data_start:].rstrip(b"\r\n")
        if frame[-2:-1] != ETX:
            raise TelegramError("mode D data message does not end with ETX and a BCC", frame=frame)
        try:
            body = check_block(frame)
        except Iec21ParseError as exc:
            raise TelegramError(f"mode D data message: {exc}", frame=frame) from None
        return Telegram(identification, "mode_d", _parse(body), None, raw)
    if bang < 0:
        raise TelegramError("telegram without its end mark '!'", frame=raw[-256:])
    trailer = raw[bang + 1 :].strip()
    crc = None
    if trailer:
        if not _HEX4.match(trailer):
            raise TelegramError(
                f"telegram CRC must be 4 hex digits after '!', got {trailer[:16]!r}",
                frame=raw[-256:],
            )
        crc = int(trailer, 16)
        computed = crc16(raw[: bang + 1])
        if crc != computed:
            raise TelegramError(
                f"telegram CRC mismatch: the meter sent {crc:04X}, the telegram gives "
                f"{computed:04X} (a damaged telegram is refused)",
                frame=raw[-256:],
            )
    elif require_crc:
        raise TelegramError(
            "telegram without a CRC after '!' (require_crc is set: DSMR 4 and later send one)",
            frame=raw[-256:],
        )
    return Telegram(identification, "p1", _parse(raw[start : bang + 1]), crc, raw)
