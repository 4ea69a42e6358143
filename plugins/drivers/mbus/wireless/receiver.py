"""Where wireless telegrams come from: a TCP feed, a UDP port, a serial stick, or a file.

Every source yields raw telegrams (bytes from the L field on) with the time they arrived:

* **hex lines** (a TCP feed of a receiver gateway, a serial stick in text mode, a file): one
  telegram per line in hex, optionally after a time stamp — ``2026-03-02T12:00:00Z 2E44…``.
  Lines that are not hex are skipped and counted (:attr:`LineReceiver.skipped`);
* **Amber** (AMB8465 and relatives in command mode, documented in the maker's manual): frames
  ``FF 03 len data… CS`` where ``CS`` is the XOR of every byte before it and ``data`` is the
  telegram without its CRCs (the stick checked them); a bad ``CS`` is skipped and counted;
* **UDP**: one telegram per datagram, binary, on a local port the sender pushes to.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from meterhub.extensions.driver import LinkLost
from meterhub.extensions.driverkit import read_exactly
from meterhub.extensions.medium import Medium

__all__ = ["AmberReceiver", "FileReceiver", "LineReceiver", "UdpReceiver", "parse_line"]

_MAX_LINE = 4096


def parse_line(line: bytes) -> tuple[bytes, datetime | None] | None:
    """``[ISO time] hex`` → (telegram, time); ``None`` for a line that is not one."""
    text = line.decode("ascii", "replace").strip()
    if not text or text.startswith("#"):
        return None
    stamp = None
    parts = text.split()
    if len(parts) == 2:
        try:
            stamp = datetime.fromisoformat(parts[0].replace("Z", "+00:00"))
        except ValueError:
            return None
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        text = parts[1]
    elif len(parts) != 1:
        return None
    try:
        telegram = bytes.fromhex(text)
    except ValueError:
        return None
    return (telegram, stamp) if telegram else None


class LineReceiver:
    """Hex lines from a medium (TCP feed or serial port)."""

    def __init__(self, medium: Medium) -> None:
        self.medium = medium
        self.skipped = 0
        self._buffer = b""

    def receive(self, timeout: float) -> tuple[bytes, datetime] | None:
        """The next telegram within ``timeout`` seconds, or ``None``."""
        deadline = time.monotonic() + timeout
        while True:
            cut = self._buffer.find(b"\n")
            if cut >= 0:
                line, self._buffer = self._buffer[:cut], self._buffer[cut + 1 :]
                parsed = parse_line(line)
                if parsed is None:
                    self.skipped += line.strip() != b""
                    continue
                return parsed[0], parsed[1] or datetime.now(UTC)
            if len(self._buffer) > _MAX_LINE:
                self._buffer = b""
                self.skipped += 1
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self._buffer += self.medium.read(4096, left)


class AmberReceiver:
    """Amber command frames (``FF 03 len data CS``) from a serial stick."""

    def __init__(self, medium: Medium) -> None:
        self.medium = medium
        self.skipped = 0

    def receive(self, timeout: float) -> tuple[bytes, datetime] | None:
        """The next telegram within ``timeout`` seconds, or ``None``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            start = self.medium.read(1, max(deadline - time.monotonic(), 0))
            if start != b"\xff":
                continue
            head = read_exactly(self.medium, 2, 1.0, what="Amber header")
            body = read_exactly(self.medium, head[1] + 1, 1.0, what="Amber frame")
            check = 0
            for byte in start + head + body[:-1]:
                check ^= byte
            if head[0] != 0x03 or check != body[-1]:
                self.skipped += 1
                continue
            data = body[:-1]
            return bytes([len(data)]) + data, datetime.now(UTC)
        return None


class UdpReceiver:
    """Telegrams pushed as UDP datagrams to a local address (``host:port``)."""

    def __init__(self, host: str, port: int) -> None:
        self.socket = socket.socket(
            socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM
        )
        try:
            self.socket.bind((host, port))
        except OSError as exc:
            self.socket.close()
            raise LinkLost(f"udp {host}:{port}: cannot listen: {exc}") from exc

    @property
    def address(self) -> tuple[str, int]:
        """The bound address (the port the sender must push to)."""
        host, port = self.socket.getsockname()[:2]
        return host, port

    def receive(self, timeout: float) -> tuple[bytes, datetime] | None:
        """The next datagram within ``timeout`` seconds, or ``None``."""
        self.socket.settimeout(max(timeout, 0.001))
        try:
            data, _ = self.socket.recvfrom(4096)
        except TimeoutError:
            return None
        return data, datetime.now(UTC)

    def close(self) -> None:
        """Close the socket."""
        self.socket.close()


class FileReceiver:
    """Telegrams of a file of hex lines (a receiver's log), oldest first."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise LinkLost(f"file {path}: not found")
        self.path = path
        self.skipped = 0
        self._lines: Iterator[bytes] = iter(path.read_bytes().splitlines())

    def receive(self, timeout: float) -> tuple[bytes, datetime] | None:
        """The next telegram of the file (``None`` at its end)."""
        for line in self._lines:
            parsed = parse_line(line)
            if parsed is None:
                self.skipped += line.strip() != b""
                continue
            return parsed[0], parsed[1] or datetime.now(UTC)
        return None
