"""The socket line: a :class:`~meterhub.extensions.medium.Medium` over a connected TCP socket.

Reading with a timeout, sending all, closing and the frame trace are the same whoever opened the
connection: the ``tcp`` medium dials a meter, the acquisition engine's listener accepts a meter
that called in. :class:`SocketMedium` holds that part once; a subclass says how the line opens
(:meth:`~meterhub.extensions.medium.Medium.open`) and how errors name it (:meth:`label`).

* ``read(size, timeout)`` returns what arrived within ``timeout`` (possibly ``b""``) and
  raises :class:`~meterhub.extensions.driver.LinkLost` when the peer closed or reset the
  connection (:attr:`SocketMedium.peer_closed`) or the line is not open
  (:attr:`SocketMedium.not_open`);
* ``write(data)`` sends all of it, ``LinkLost`` when the connection is gone;
* with a trace, every write is recorded with ``trace.sent`` (before it is sent) and every
  non-empty read with ``trace.received``;
* ``close()`` never raises and may be called twice.
"""

from __future__ import annotations

import select
import socket
from typing import ClassVar

from meterhub.extensions.driver import LinkLost
from meterhub.extensions.medium import Medium

__all__ = ["SocketMedium"]


class SocketMedium(Medium):
    """A medium over a connected stream socket (see the module docstring).

    :meth:`attach` hands it the socket (dialled or accepted); until then, and after
    :meth:`close`, every call raises ``LinkLost``.
    """

    #: The reason of ``LinkLost`` when the peer closed the connection.
    peer_closed: ClassVar[str] = "connection closed by the peer"
    #: The reason of ``LinkLost`` when there is no socket (never opened, or closed here).
    not_open: ClassVar[str] = "not open"

    _socket: socket.socket | None = None

    def label(self) -> str:
        """How error messages name this line (default: ``"<name> <address>"``)."""
        return f"{self.name} {self.address}"

    def attach(self, sock: socket.socket, *, nodelay: bool = True, keepalive: bool = False) -> None:
        """Use the connected socket ``sock`` (blocking; reads wait with ``select``)."""
        if nodelay:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if keepalive:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.settimeout(None)
        self._socket = sock

    def _sock(self) -> socket.socket:
        if self._socket is None:
            raise LinkLost(f"{self.label()}: {self.not_open}")
        return self._socket

    def read(self, size: int, timeout: float) -> bytes:
        """Up to ``size`` bytes within ``timeout``; ``LinkLost`` when the peer closed."""
        sock = self._sock()
        try:
            ready, _, _ = select.select([sock], [], [], max(timeout, 0.0))
            if not ready:
                return b""
            data = sock.recv(size)
        except (OSError, ValueError) as exc:
            raise LinkLost(f"{self.label()}: {exc}") from exc
        if not data:
            raise LinkLost(f"{self.label()}: {self.peer_closed}")
        if self.trace is not None:
            self.trace.received(data)
        return data

    def write(self, data: bytes) -> None:
        """Send all of ``data``; ``LinkLost`` when the connection is gone."""
        sock = self._sock()
        if self.trace is not None:
            self.trace.sent(data)
        try:
            sock.sendall(data)
        except OSError as exc:
            raise LinkLost(f"{self.label()}: {exc}") from exc

    def close(self) -> None:
        """Close the socket; never raises."""
        sock, self._socket = self._socket, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    @property
    def closed(self) -> bool:
        """Whether the line has no socket (not opened yet, or closed)."""
        return self._socket is None
