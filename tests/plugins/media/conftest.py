"""Fixtures for the media tests: a loopback TCP echo server; an echo peer for a modem to dial."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest


class EchoServer:
    """Accepts connections on loopback and echoes; ``b"close"`` closes the connection."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(0.1)
            while not self.stop.is_set():
                try:
                    data = conn.recv(4096)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data or data == b"close":
                    return
                conn.sendall(data)

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=2)
        self.listener.close()


@pytest.fixture
def echo_server() -> Iterator[EchoServer]:
    server = EchoServer()
    yield server
    server.close()


class EchoPeer:
    """A TCP listener that echoes, standing in for the meter behind the phone line."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.address = f"tcp:127.0.0.1:{self.listener.getsockname()[1]}"
        self.stop = threading.Event()
        self.connections: list[socket.socket] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(0.1)
        while not self.stop.is_set():
            try:
                data = conn.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            if data == b"bye":
                conn.close()
                return
            conn.sendall(data)

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=2)
        self.listener.close()
        for conn in self.connections:
            conn.close()


@pytest.fixture
def echo_peer() -> Iterator[EchoPeer]:
    peer = EchoPeer()
    yield peer
    peer.close()
