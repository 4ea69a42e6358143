"""Wired M-Bus frames on the line (EN 13757-2): reading them whole and checking them.

Three frame shapes answer a master: the single character ``E5`` (ACK), the short frame
``10 C A CS 16`` and the long frame ``68 L L 68 C A CI data CS 16`` (checksum = the byte sum of
C..data modulo 256). :func:`read_frame` reads exactly one of them from a medium within a time
budget that grows with the frame's length at the bus baud rate, and raises

* :class:`~meterhub.extensions.driver.MeterTimeout` when nothing (or too little) came;
* :class:`FrameError` (a :class:`~meterhub.extensions.driver.ProtocolError`) for a frame that
  cannot be right: unknown start byte, the two L fields differ, wrong stop byte or checksum.
  During a secondary-address search that is what a *collision* looks like (several slaves
  answering at once overlay their bits), so the search treats it as one.

The request frames are built by pyMeterBus (:mod:`.pymeterbus_compat`).
"""

from __future__ import annotations

from dataclasses import dataclass

from meterhub.extensions.driver import MeterTimeout, ProtocolError
from meterhub.extensions.driverkit import read_exactly
from meterhub.extensions.medium import Medium

__all__ = ["ACK", "Frame", "FrameError", "bits_per_byte", "byte_time", "checksum", "read_frame"]

ACK = 0xE5
SHORT_START = 0x10
LONG_START = 0x68
STOP = 0x16
#: Bits of one character on the bus: start, 8 data, even parity, stop (8E1).
BITS_PER_BYTE = 11


def bits_per_byte() -> int:
    """Bits a character occupies on the bus (8E1: 11)."""
    return BITS_PER_BYTE


def byte_time(baudrate: int) -> float:
    """Seconds one character takes on the bus at ``baudrate``."""
    return BITS_PER_BYTE / baudrate


def checksum(data: bytes) -> int:
    """The M-Bus checksum: the arithmetic sum of ``data`` modulo 256."""
    return sum(data) & 0xFF


class FrameError(ProtocolError):
    """A frame that cannot be right (framing, length or checksum): a line fault or a collision."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame from the line: ``kind`` ``ack``, ``short`` or ``long``; ``raw`` is all of it."""

    kind: str
    raw: bytes

    @property
    def control(self) -> int:
        """The C field (short and long frames)."""
        return self.raw[1] if self.kind == "short" else self.raw[4]

    @property
    def address(self) -> int:
        """The A field (short and long frames)."""
        return self.raw[2] if self.kind == "short" else self.raw[5]

    @property
    def ci(self) -> int:
        """The CI field of a long frame."""
        return self.raw[6]

    @property
    def user_data(self) -> bytes:
        """The bytes after CI up to the checksum (long frames)."""
        return self.raw[7:-2]


def read_frame(medium: Medium, timeout: float, baudrate: int = 2400, what: str = "answer") -> Frame:
    """Read one whole frame: ``timeout`` for the first byte, then the frame's own transfer time.

    :raises MeterTimeout: no answer, or the frame stopped half-way.
    :raises FrameError: the bytes are not a valid frame.
    """
    first = read_exactly(medium, 1, timeout, what=what)
    start = first[0]
    per_byte = byte_time(baudrate)
    if start == ACK:
        return Frame("ack", first)
    if start == SHORT_START:
        rest = read_exactly(medium, 4, timeout + 4 * per_byte, what=what)
        raw = first + rest
        if raw[4] != STOP or checksum(raw[1:3]) != raw[3]:
            raise FrameError(f"{what}: short frame with a bad checksum or stop byte", frame=raw)
        return Frame("short", raw)
    if start == LONG_START:
        head = read_exactly(medium, 3, timeout + 3 * per_byte, what=what)
        if head[0] != head[1] or head[2] != LONG_START or head[0] < 3:
            raise FrameError(f"{what}: long frame header is broken", frame=first + head)
        length = head[0]
        try:
            body = read_exactly(medium, length + 2, timeout + (length + 2) * per_byte, what=what)
        except MeterTimeout as exc:
            raise MeterTimeout(
                f"{what}: truncated long frame ({len(exc.frame or b'')} of {length + 2} bytes "
                "after the header)",
                frame=first + head + (exc.frame or b""),
            ) from None
        raw = first + head + body
        if raw[-1] != STOP:
            raise FrameError(f"{what}: long frame without its stop byte", frame=raw)
        if checksum(raw[4:-2]) != raw[-2]:
            raise FrameError(
                f"{what}: checksum {raw[-2]:02X}h, computed {checksum(raw[4:-2]):02X}h", frame=raw
            )
        return Frame("long", raw)
    raise FrameError(f"{what}: {start:02X}h is no frame start", frame=first)
