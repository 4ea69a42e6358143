"""Frames over a medium: wrapper and HDLC frames read whole, checked, with a deadline.

gurux's client builds and parses the frames; this module moves them. It reads exactly one
frame per answer from the :class:`~meterhub.extensions.medium.Medium` (which records every
chunk in the session's trace), checks it before gurux sees it, and classifies what goes wrong:

* nothing within the timeout → :class:`MeterTimeout`;
* the start of a frame, then silence → :class:`ProtocolError` (truncated), with the bytes;
* a wrong wrapper version, a length over the limit, a bad HDLC flag, format or FCS →
  :class:`ProtocolError` with the frame;
* a closed line → the medium's :class:`LinkLost`.
"""

from __future__ import annotations

import time

from meterhub.extensions.driver import MeterTimeout, ProtocolError
from meterhub.extensions.medium import Medium
from meterhub.extensions.trace import FrameTrace

__all__ = ["FrameLink", "fcs16"]

_WRAPPER_HEADER = 8
#: The least a read asks the medium for (it returns what is there, waiting only for the first).
_CHUNK = 4096
_HDLC_FLAG = 0x7E


def _fcs_table() -> list[int]:
    table = []
    for byte in range(256):
        value = byte
        for _ in range(8):
            value = (value >> 1) ^ 0x8408 if value & 1 else value >> 1
        table.append(value)
    return table


_FCS_TABLE = _fcs_table()


def fcs16(data: bytes) -> int:
    """The HDLC frame check sequence (CRC-16/X-25) of ``data``."""
    value = 0xFFFF
    for byte in data:
        value = (value >> 8) ^ _FCS_TABLE[(value ^ byte) & 0xFF]
    return value ^ 0xFFFF


class FrameLink:
    """Sends frames and reads whole answers over one medium.

    :param framing: ``wrapper`` or ``hdlc``.
    :param timeout: seconds the meter has for each answer.
    :param max_frame: the largest frame accepted (bytes, header included).
    """

    def __init__(
        self, medium: Medium, framing: str, timeout: float, max_frame: int, trace: FrameTrace
    ) -> None:
        self.medium = medium
        self.framing = framing
        self.timeout = timeout
        self.max_frame = max_frame
        self.trace = trace
        self._pending = b""

    def reset(self) -> None:
        """Forget bytes read ahead (the line was opened again)."""
        self._pending = b""

    def send(self, frame: bytes) -> None:
        """Write one frame."""
        self.medium.write(bytes(frame))

    def receive(self) -> bytes:
        """Read one whole, checked frame."""
        deadline = time.monotonic() + self.timeout
        if self.framing == "wrapper":
            return self._wrapper(deadline)
        return self._hdlc(deadline)

    # -- reading -------------------------------------------------------------------------------

    def _fill(self, size: int, deadline: float) -> bool:
        """Read until ``_pending`` holds ``size`` bytes; ``False`` when the time ran out."""
        while len(self._pending) < size:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            # Take whatever has arrived (one read per frame, not one for the header and one
            # for the rest); bytes past this frame wait in ``_pending`` for the next one.
            chunk = self.medium.read(max(size - len(self._pending), _CHUNK), left)
            if chunk:
                self._pending += chunk
        return True

    def _take(self, size: int) -> bytes:
        frame, self._pending = self._pending[:size], self._pending[size:]
        return frame

    def _silence(self, what: str) -> Exception:
        partial, self._pending = self._pending, b""
        if partial:
            self.trace.note(f"truncated {what} frame ({len(partial)} bytes), then silence")
            return ProtocolError(
                f"truncated {what} frame: the meter stopped mid-frame", frame=partial
            )
        self.trace.note(f"no answer within {self.timeout:g} s")
        return MeterTimeout(f"the meter did not answer within {self.timeout:g} s")

    def _bad(self, message: str, frame: bytes) -> ProtocolError:
        self._pending = b""
        self.trace.note(message)
        return ProtocolError(message, frame=frame)

    def _wrapper(self, deadline: float) -> bytes:
        if len(self._pending) < _WRAPPER_HEADER and not self._fill(_WRAPPER_HEADER, deadline):
            raise self._silence("wrapper")
        pending = self._pending
        version = int.from_bytes(pending[0:2], "big")
        total = _WRAPPER_HEADER + int.from_bytes(pending[6:8], "big")
        if version != 1:
            raise self._bad(f"wrapper version {version}, expected 1", pending)
        if total > self.max_frame:
            raise self._bad(
                f"oversized wrapper frame: {total} bytes, limit {self.max_frame}", pending
            )
        if len(pending) < total and not self._fill(total, deadline):
            raise self._silence("wrapper")
        frame, self._pending = self._pending[:total], self._pending[total:]
        return frame

    def _hdlc(self, deadline: float) -> bytes:
        while True:
            if not self._fill(1, deadline):
                raise self._silence("HDLC")
            if self._pending[0] == _HDLC_FLAG and len(self._pending) == 1:
                if not self._fill(2, deadline):
                    raise self._silence("HDLC")
            if self._pending[0] != _HDLC_FLAG:
                raise self._bad("HDLC frame does not start with the flag 7E", self._pending)
            if self._pending[1] == _HDLC_FLAG:
                self._pending = self._pending[1:]  # a shared or doubled flag
                continue
            break
        if not self._fill(3, deadline):
            raise self._silence("HDLC")
        frame_format = int.from_bytes(self._pending[1:3], "big")
        if frame_format >> 12 != 0xA:
            raise self._bad(f"HDLC frame format {frame_format:04X} is not type 3", self._pending)
        length = frame_format & 0x7FF
        total = length + 2
        if total > self.max_frame:
            raise self._bad(
                f"oversized HDLC frame: {total} bytes, limit {self.max_frame}", self._pending
            )
        if not self._fill(total, deadline):
            raise self._silence("HDLC")
        frame = self._take(total)
        if frame[-1] != _HDLC_FLAG:
            raise self._bad("HDLC frame does not end with the flag 7E", frame)
        body = frame[1:-3]
        if fcs16(body) != int.from_bytes(frame[-3:-1], "little"):
            raise self._bad("HDLC frame check sequence (FCS) is wrong", frame)
        return frame
