"""A pseudo-terminal pair: a serial port for simulated devices (meters, modems) in tests and demos.

The simulated device works on the master side; a driver opens :attr:`PtyPair.path` (the slave
side) with the ``serial`` medium exactly like a real port. The pair keeps its own slave
descriptor open, so the master never sees end-of-file when a client closes and reopens the port.
On a pty the baud rate is not physical: a baud switch is a ``tcsetattr`` both sides still
perform, and it never garbles bytes.
"""

from __future__ import annotations

import os
import select
import termios
import threading
import tty

from meterhub.extensions.driverkit.channel import ChannelClosed

__all__ = ["PtyClosed", "PtyPair"]


class PtyClosed(ChannelClosed):
    """The pair was closed while a device thread was reading or writing."""


class PtyPair:
    """``os.openpty()`` in raw mode, with reads and writes that honour a stop event."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave, termios.TCSANOW)
        os.set_blocking(self.master, False)
        #: The device path a client opens (``/dev/pts/N``).
        self.path = os.ttyname(self.slave)
        self.closed = threading.Event()

    def read(self, size: int, timeout: float) -> bytes:
        """Up to ``size`` bytes from the client within ``timeout``; ``b""`` if none came."""
        if self.closed.is_set():
            raise PtyClosed(self.path)
        try:
            ready, _, _ = select.select([self.master], [], [], max(timeout, 0.0))
            if not ready:
                return b""
            return os.read(self.master, size)
        except BlockingIOError:
            return b""
        except (OSError, ValueError) as exc:
            raise PtyClosed(self.path) from exc

    def write(self, data: bytes) -> None:
        """Send ``data`` to the client, waiting while its buffer is full (until closed)."""
        view = memoryview(data)
        while view:
            if self.closed.is_set():
                raise PtyClosed(self.path)
            try:
                _, ready, _ = select.select([], [self.master], [], 0.1)
                if ready:
                    written = os.write(self.master, view)
                    view = view[written:]
            except BlockingIOError:
                continue
            except (OSError, ValueError) as exc:
                raise PtyClosed(self.path) from exc

    def discard_input(self) -> None:
        """Drop what the client sent and the device has not read."""
        try:
            termios.tcflush(self.master, termios.TCIFLUSH)
        except (OSError, termios.error):
            pass

    def close(self) -> None:
        """Close both descriptors; idempotent."""
        if self.closed.is_set():
            return
        self.closed.set()
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass
