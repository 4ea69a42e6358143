"""The driver kit's socket line, shared by the ``tcp`` medium and the listener for meters that
call in: the same reads, writes, trace and errors whoever opened the socket."""

from __future__ import annotations

import socket
from typing import ClassVar

import pytest

from meterhub.acquisition.inbound import SocketLine
from meterhub.extensions.driver import LinkLost
from meterhub.extensions.driverkit import SocketMedium
from meterhub.extensions.trace import Direction, FrameTrace
from meterhub.plugins.media.tcp import TcpMedium

pytestmark = pytest.mark.timeout(20)


def tcp_pair() -> tuple[socket.socket, socket.socket]:
    """Two ends of a loopback TCP connection: ours, theirs."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        theirs = socket.create_connection(server.getsockname(), timeout=5)
        ours, _ = server.accept()
    return ours, theirs


class PairLine(SocketMedium):
    """A socket line over one end of a socket pair, named by the default label."""

    name: ClassVar[str] = "pair"

    def open(self, timeout: float) -> None:
        self._sock()


def test_reads_writes_and_traces_both_ways() -> None:
    ours, theirs = tcp_pair()
    trace = FrameTrace()
    line = PairLine("end-1", None, trace)
    with theirs, line:
        line.attach(ours)
        line.open(1)
        line.write(b"\x00\x01ask")
        assert theirs.recv(10) == b"\x00\x01ask"
        assert line.read(10, timeout=0.05) == b""  # silence is not an error
        theirs.sendall(b"answer")
        assert line.read(3, timeout=2) == b"ans"
        assert line.read(10, timeout=2) == b"wer"
    assert line.closed
    sent = [e.data for e in trace.entries if e.direction is Direction.TX]
    received = [e.data for e in trace.entries if e.direction is Direction.RX]
    assert sent == [b"\x00\x01ask"] and received == [b"ans", b"wer"]  # no empty read traced


@pytest.mark.parametrize(
    ("make", "closed_by_peer", "not_open"),
    [
        (lambda: PairLine("end-1"), "pair end-1: connection closed by the peer",
         "pair end-1: not open"),
        (lambda: TcpMedium("127.0.0.1:9"), "tcp 127.0.0.1:9: connection closed by the peer",
         "tcp 127.0.0.1:9: not open"),
    ],
)  # fmt: skip
def test_lost_and_unopened_lines_raise_link_lost_naming_the_line(
    make, closed_by_peer: str, not_open: str
) -> None:
    line = make()
    with pytest.raises(LinkLost, match=not_open):
        line.read(1, 0.1)
    with pytest.raises(LinkLost, match=not_open):
        line.write(b"x")
    ours, theirs = tcp_pair()
    line.attach(ours)
    assert ours.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    theirs.close()
    with pytest.raises(LinkLost, match=closed_by_peer):
        line.read(10, timeout=2)
    line.close()
    line.close()  # twice: never raises


def test_the_line_a_meter_opened_names_the_meter_and_refuses_use_once_closed() -> None:
    ours, theirs = tcp_pair()
    line = SocketLine(ours, "10.0.0.7:50123")
    line.open(1)  # already open: nothing to do
    assert ours.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    theirs.close()
    with pytest.raises(LinkLost, match="inbound 10.0.0.7:50123: the meter closed the connection"):
        line.read(10, timeout=2)
    line.close()
    assert line.closed
    with pytest.raises(LinkLost, match="inbound 10.0.0.7:50123: closed"):
        line.open(1)
