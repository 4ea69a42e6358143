"""The ``tcp`` medium: a TCP client socket (DLMS wrapper, Modbus TCP, IEC 62056-21 over TCP).

Address ``host:port`` (``[::1]:4059`` for IPv6). Settings (all optional):

* ``nodelay``: ``true`` (default) sends small frames at once (``TCP_NODELAY``);
* ``keepalive``: ``true`` turns on TCP keep-alive probes (default ``false``).

:meth:`TcpMedium.open` raises :class:`~meterhub.extensions.driver.LinkLost` when the connection
is refused or does not come up in time; ``read`` and ``write`` (the driver kit's
:class:`~meterhub.extensions.driverkit.SocketMedium`) raise it when the peer closes or resets the
connection. A read that times out returns what arrived (possibly ``b""``).
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field

from meterhub import hookimpl
from meterhub.errors import InvalidValue
from meterhub.extensions.driver import LinkLost
from meterhub.extensions.driverkit import SocketMedium
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


class TcpMedium(SocketMedium):
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
        self._socket = None

    def open(self, timeout: float) -> None:
        """Connect within ``timeout`` seconds."""
        try:
            sock = socket.create_connection((self.host, self.port), timeout=timeout)
        except OSError as exc:
            raise LinkLost(f"tcp {self.host}:{self.port}: cannot connect: {exc}") from exc
        self.attach(sock, nodelay=self.nodelay, keepalive=self.keepalive)
        if self.trace is not None:
            self.trace.note(f"tcp connected to {self.host}:{self.port}")

    def label(self) -> str:
        """``tcp host:port`` in error messages."""
        return f"tcp {self.host}:{self.port}"


class TcpMediumPlugin:
    """Plugin object of the ``tcp`` entry point (feature ``medium:tcp``)."""

    @hookimpl(trylast=True)
    def register_media(self) -> list[type[Medium]]:
        """Contribute :class:`TcpMedium`."""
        return [TcpMedium]
