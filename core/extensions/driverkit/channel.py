"""The byte channel a simulated device talks through: a TCP connection or a pseudo-terminal.

Simulators written on :class:`~meterhub.extensions.driverkit.FrameServer` get one
:class:`ByteChannel` per session and never see sockets or file descriptors: ``read`` returns
what arrived within the time asked (``b""`` if nothing), ``write`` sends everything, and both
raise :class:`ChannelClosed` once the client has gone or the server is stopping.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["ByteChannel", "ChannelClosed"]


class ChannelClosed(Exception):
    """The channel is closed: the client left, or the server is stopping."""


class ByteChannel(Protocol):
    """What a simulated device reads from and writes to."""

    def read(self, size: int, timeout: float) -> bytes:
        """Up to ``size`` bytes within ``timeout`` seconds; ``b""`` when none came."""
        ...

    def write(self, data: bytes) -> None:
        """Send all of ``data``."""
        ...

    def discard_input(self) -> None:
        """Drop what the client sent and the device has not read yet."""
        ...
