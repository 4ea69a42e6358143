"""Helpers that read frames from any :class:`~meterhub.extensions.medium.Medium`.

A medium's ``read`` returns what arrived in time; protocols need "exactly n bytes" or "up to a
terminator" within an overall deadline. These helpers loop over ``read`` and raise
:class:`~meterhub.extensions.driver.MeterTimeout` when the deadline passes, with what arrived so
far as the error's ``frame``, so a meter that stops answering mid-frame is classified, never a hang.
"""

from __future__ import annotations

import time

from meterhub.extensions.driver import MeterTimeout, ProtocolError
from meterhub.extensions.medium import Medium

__all__ = ["pending", "read_exactly", "read_until", "take_pending", "unread"]

_PUSHBACK = "_meterhub_pushback"


def pending(medium: Medium) -> bytes:
    """Bytes read from the line but not consumed by a frame yet (kept on the medium)."""
    return getattr(medium, _PUSHBACK, b"")


def unread(medium: Medium, data: bytes) -> None:
    """Put ``data`` back in front of what the next helper call reads."""
    setattr(medium, _PUSHBACK, bytes(data) + pending(medium))


def take_pending(medium: Medium, size: int) -> bytes:
    """Up to ``size`` of the pending bytes, removed from the medium's pushback."""
    buffered = pending(medium)
    if buffered:
        setattr(medium, _PUSHBACK, buffered[size:])
    return buffered[:size]


def _take(medium: Medium, size: int, timeout: float) -> bytes:
    return take_pending(medium, size) or medium.read(size, timeout)


def read_exactly(medium: Medium, size: int, timeout: float, *, what: str = "frame") -> bytes:
    """Read exactly ``size`` bytes within ``timeout`` seconds.

    :raises MeterTimeout: fewer bytes arrived in time (``frame`` holds them).
    """
    deadline = time.monotonic() + timeout
    data = bytearray()
    while len(data) < size:
        left = deadline - time.monotonic()
        if left <= 0 and not pending(medium):
            raise MeterTimeout(
                f"{what}: {len(data)} of {size} bytes arrived within {timeout:g} s",
                frame=bytes(data),
            )
        data += _take(medium, size - len(data), max(left, 0.0))
    return bytes(data)


def read_until(
    medium: Medium,
    terminator: bytes | tuple[bytes, ...],
    timeout: float,
    *,
    max_size: int = 65536,
    what: str = "frame",
    extra: int = 0,
) -> bytes:
    """Read until ``terminator`` (or any of several) and ``extra`` bytes after it arrived.

    Reads in chunks; bytes after the frame stay pending for the next call (:func:`pending`).

    :raises MeterTimeout: the terminator did not arrive in time (``frame`` holds what did).
    :raises ProtocolError: more than ``max_size`` bytes came without a terminator (oversized).
    """
    terminators = (terminator,) if isinstance(terminator, bytes) else terminator
    deadline = time.monotonic() + timeout
    data = bytearray()
    searched = 0
    while True:
        ends = [
            index + len(end)
            for end in terminators
            if (index := data.find(end, max(searched - len(end), 0))) >= 0
        ]
        if ends:
            cut = min(ends)
            if len(data) >= cut + extra:
                unread(medium, bytes(data[cut + extra :]))
                return bytes(data[: cut + extra])
        else:
            searched = len(data)
        if len(data) >= max_size:
            raise ProtocolError(
                f"{what}: no terminator within {max_size} bytes (oversized frame)",
                frame=bytes(data[-256:]),
            )
        left = deadline - time.monotonic()
        if left <= 0 and not pending(medium):
            raise MeterTimeout(
                f"{what}: incomplete after {timeout:g} s ({len(data)} bytes arrived)",
                frame=bytes(data),
            )
        data += _take(medium, 4096, max(left, 0.0))
