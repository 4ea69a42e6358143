"""The frame server: TCP listeners and ptys serving session functions, stopped cleanly."""

from __future__ import annotations

import socket
import threading

import pytest
import serial

from meterhub.extensions.driverkit import ByteChannel, ChannelClosed, FrameServer

pytestmark = pytest.mark.timeout(20)


def echo_upper(channel: ByteChannel) -> None:
    while True:
        data = channel.read(1024, 0.1)
        if data == b"bye":
            return
        if data:
            channel.write(data.upper())


def test_tcp_sessions_run_one_thread_per_connection() -> None:
    server = FrameServer("test-sim")
    try:
        host, port = server.listen("127.0.0.1", 0, echo_upper)
        clients = [socket.create_connection((host, port), timeout=10) for _ in range(3)]
        for number, client in enumerate(clients):
            client.sendall(f"hello {number}".encode())
        for number, client in enumerate(clients):
            assert client.recv(100) == f"HELLO {number}".encode()
        clients[0].sendall(b"bye")  # the session ends: the server closes that connection
        assert clients[0].recv(100) == b""
        clients[1].sendall(b"still")
        assert clients[1].recv(100) == b"STILL"
        for client in clients:
            client.close()
    finally:
        server.stop()
    assert not [t for t in threading.enumerate() if t.name == "test-sim" and t.is_alive()]


def test_a_pty_serves_like_a_serial_port() -> None:
    server = FrameServer("test-pty")
    try:
        path = server.serve_pty(echo_upper)
        with serial.Serial(path, 9600, timeout=2) as port:
            port.write(b"meter")
            assert port.read(5) == b"METER"
    finally:
        server.stop()


def test_stop_ends_sessions_blocked_in_read() -> None:
    ended = threading.Event()

    def wait_forever(channel: ByteChannel) -> None:
        try:
            while True:
                channel.read(10, 0.05)
        except ChannelClosed:
            ended.set()
            raise

    server = FrameServer("test-stop")
    host, port = server.listen("127.0.0.1", 0, wait_forever)
    client = socket.create_connection((host, port), timeout=10)
    client.sendall(b"x")
    for _ in range(100):
        if server._channels:  # the session started
            break
        threading.Event().wait(0.01)
    server.stop()
    assert ended.wait(2)
    assert client.recv(10) == b""
    client.close()
    server.stop()  # idempotent


def test_a_failing_session_ends_only_itself(caplog: pytest.LogCaptureFixture) -> None:
    def broken(channel: ByteChannel) -> None:
        first = channel.read(10, 1)
        if first == b"boom":
            raise RuntimeError("simulated bug")
        channel.write(first.upper())
        echo_upper(channel)

    server = FrameServer("test-broken")
    try:
        host, port = server.listen("127.0.0.1", 0, broken)
        first = socket.create_connection((host, port), timeout=10)
        first.sendall(b"boom")
        assert first.recv(10) == b""
        second = socket.create_connection((host, port), timeout=10)
        second.sendall(b"ok")
        assert second.recv(10) == b"OK"
        second.sendall(b"again")
        assert second.recv(10) == b"AGAIN"
        first.close()
        second.close()
    finally:
        server.stop()
    assert "simulated bug" in caplog.text
