"""The ``tcp`` medium: a TCP client socket (DLMS wrapper, Modbus TCP, IEC 62056-21 over TCP).

Address ``host:port`` (``[::1]:4059`` for IPv6). Settings (all optional):

* ``nodelay``: ``true`` (default) sends small frames at once (``TCP_NODELAY``);
* ``keepalive``: ``true`` turns on TCP keep-alive probes (default ``false``).

:meth:`TcpMedium.open` raises :class:`~meterhub.extensions.driver.LinkLost` when the connection
is refused or does not come up in time; ``read`` and ``write`` raise it when the peer closes or
resets the connection. A read that times out returns what arrived (possibly ``b""``).
"""

from __future__ import annotations

import select
import socket
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field

from meterhub import hookimpl
from meterhub.errors import InvalidValue
from meterhub.extensions.driver import LinkLost
from meterhub.extensions.medium import Medium
from meterhub.extensions.settings import PluginSettings
from meterhub.extensions.trace import FrameTrace

__all__ = ["TcpMedium", "TcpMediumPlugin", "TcpSettings", "parse_host_port"]


def parse_host_port(address: str, field: str = "address") -> tuple[str, int]:
    """``"host:port"`` or ``"[v6]:port"`` → ``(host, port)``; :class:`InvalidValue` otherwise."""
    text = address.strip() if isinstance(address, str) else ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_text = text.rpartition(":")
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise InvalidValue(field, f"must be host:port with a port 1..65535, got {address!r}")
    return host, int(port_text)


class TcpSettings(PluginSettings):
    """Settings of the ``tcp`` medium."""

    nodelay: bool = Field(True, description="send small frames at once (TCP_NODELAY)")
    keepalive: bool = Field(False, description="TCP keep-alive probes")


class TcpMedium(Medium):
    """A TCP connection to a meter or a communication device."""

    name: ClassVar[str] = "tcp"
    description: ClassVar[str] = "TCP/IP socket (DLMS wrapper, Modbus TCP, IEC 62056-21 over IP)"
    address_syntax: ClassVar[str] = "host:port, e.g. 10.0.0.5:4059 or [fe80::1]:502"
    settings_model: ClassVar[type[PluginSettings]] = TcpSettings

    def __init__(
        self,
        address: str,
        settings: Mapping[str, Any] | None = None,
        trace: FrameTrace | None = None,
    ) -> None:
        super().__init__(address, settings, trace)
        self.host, self.port = parse_host_port(self.address)
        self.nodelay: bool = self.options.nodelay
        self.keepalive: bool = self.options.keepalive
        self._socket: socket.socket | None = None

    def open(self, timeout: float) -> None:
        """Connect within ``timeout`` seconds."""
        try:
            sock = socket.create_connection((self.host, self.port), timeout=timeout)
        except OSError as exc:
            raise LinkLost(f"tcp {self.host}:{self.port}: cannot connect: {exc}") from exc
        if self.nodelay:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.keepalive:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.settimeout(None)
        self._socket = sock
        if self.trace is not None:
            self.trace.note(f"tcp connected to {self.host}:{self.port}")

    def _sock(self) -> socket.socket:
        if self._socket is None:
            raise LinkLost(f"tcp {self.host}:{self.port}: not open")
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
            raise LinkLost(f"tcp {self.host}:{self.port}: {exc}") from exc
        if not data:
            raise LinkLost(f"tcp {self.host}:{self.port}: connection closed by the peer")
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
            raise LinkLost(f"tcp {self.host}:{self.port}: {exc}") from exc

    def close(self) -> None:
        """Close the socket; never raises."""
        sock, self._socket = self._socket, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass


class TcpMediumPlugin:
    """Plugin object of the ``tcp`` entry point (feature ``medium:tcp``)."""

    @hookimpl(trylast=True)
    def register_media(self) -> list[type[Medium]]:
        """Contribute :class:`TcpMedium`."""
        return [TcpMedium]
