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

__all__ = ["read_exactly", "read_until"]


def read_exactly(medium: Medium, size: int, timeout: float, *, what: str = "frame") -> bytes:
    """Read exactly ``size`` bytes within ``timeout`` seconds.

    :raises MeterTimeout: fewer bytes arrived in time (``frame`` holds them).
    """
    deadline = time.monotonic() + timeout
    data = bytearray()
    while len(data) < size:
        left = deadline - time.monotonic()
        if left <= 0:
            raise MeterTimeout(
                f"{what}: {len(data)} of {size} bytes arrived within {timeout:g} s",
                frame=bytes(data),
            )
        data += medium.read(size - len(data), left)
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

    Reads one byte at a time past nothing it needs, so bytes of the next frame stay unread.

    :raises MeterTimeout: the terminator did not arrive in time (``frame`` holds what did).
    :raises ProtocolError: more than ``max_size`` bytes came without a terminator (oversized).
    """
    terminators = (terminator,) if isinstance(terminator, bytes) else terminator
    deadline = time.monotonic() + timeout
    data = bytearray()
    while True:
        for end in terminators:
            if data.endswith(end):
                if extra:
                    left = max(deadline - time.monotonic(), 0.0)
                    data += read_exactly(medium, extra, left, what=what)
                return bytes(data)
        if len(data) >= max_size:
            raise ProtocolError(
                f"{what}: no terminator within {max_size} bytes (oversized frame)",
                frame=bytes(data[-256:]),
            )
        left = deadline - time.monotonic()
        if left <= 0:
            raise MeterTimeout(
                f"{what}: incomplete after {timeout:g} s ({len(data)} bytes arrived)",
                frame=bytes(data),
            )
        data += medium.read(1, left)
