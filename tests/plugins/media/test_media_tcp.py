"""The ``tcp`` medium against a real loopback socket."""

from __future__ import annotations

import socket
import time

import pytest

from meterhub.errors import InvalidValue
from meterhub.extensions.driver import LinkLost, MeterTimeout, ProtocolError
from meterhub.extensions.driverkit import read_exactly, read_until
from meterhub.extensions.trace import Direction, FrameTrace
from meterhub.plugins.media.tcp import TcpMedium, parse_host_port

pytestmark = pytest.mark.timeout(20)


def test_round_trip_is_traced(echo_server) -> None:  # type: ignore[no-untyped-def]
    trace = FrameTrace()
    with TcpMedium(f"127.0.0.1:{echo_server.port}", trace=trace) as medium:
        medium.open(timeout=2)
        medium.write(b"\x00\x01hello")
        assert read_exactly(medium, 7, timeout=2) == b"\x00\x01hello"
        assert medium.read(10, timeout=0.05) == b""
    directions = [entry.direction for entry in trace.entries]
    assert directions[0] is Direction.NOTE and Direction.TX in directions
    assert (
        b"".join(e.data for e in trace.entries if e.direction is Direction.RX) == b"\x00\x01hello"
    )


def test_peer_close_raises_link_lost(echo_server) -> None:  # type: ignore[no-untyped-def]
    medium = TcpMedium(f"127.0.0.1:{echo_server.port}")
    medium.open(timeout=2)
    medium.write(b"close")
    with pytest.raises(LinkLost, match="closed by the peer"):
        medium.read(10, timeout=2)
    medium.close()
    medium.close()


def test_refused_connection_is_link_lost() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    with pytest.raises(LinkLost, match="cannot connect"):
        TcpMedium(f"127.0.0.1:{port}").open(timeout=1)


def test_read_until_timeout_and_oversize(echo_server) -> None:  # type: ignore[no-untyped-def]
    with TcpMedium(f"127.0.0.1:{echo_server.port}") as medium:
        medium.open(timeout=2)
        medium.write(b"line\r\nrest")
        assert read_until(medium, b"\r\n", 2) == b"line\r\n"
        started = time.monotonic()
        with pytest.raises(MeterTimeout) as caught:
            read_until(medium, b"\r\n", 0.3)
        assert caught.value.frame == b"rest"
        assert time.monotonic() - started < 1.5
        medium.write(b"x" * 100)
        with pytest.raises(ProtocolError, match="oversized"):
            read_until(medium, b"\r\n", 2, max_size=50)


@pytest.mark.parametrize("address", ["", "host", "host:0", "host:70000", "[::1]", ":80"])
def test_bad_addresses(address: str) -> None:
    with pytest.raises(InvalidValue):
        TcpMedium(address)


def test_parse_host_port_ipv6() -> None:
    assert parse_host_port("[::1]:4059") == ("::1", 4059)
    assert parse_host_port("meter.example:502") == ("meter.example", 502)


def test_bad_bool_setting() -> None:
    with pytest.raises(InvalidValue, match="settings.nodelay"):
        TcpMedium("127.0.0.1:1", {"nodelay": "maybe"})
