"""A Hayes modem emulator on a pseudo-terminal, in front of simulated meters.

:class:`ModemEmulator` answers AT commands on the master side of a pty; the ``modem`` medium
opens :attr:`ModemEmulator.port` like a real modem. Dialling a number looks it up in the phone
book given to the constructor:

* a **peer address** (``tcp:127.0.0.1:4059`` or ``serial:/dev/pts/7``) connects: the emulator
  answers ``CONNECT <rate>`` and from then on passes bytes both ways, transparently, between the
  pty and the peer (a simulated DLMS, Modbus or IEC 62056-21 meter);
* a :class:`~meterhub.plugins.media.modem.ModemFailure` scripts a failure: ``BUSY``,
  ``NO CARRIER``, ``NO DIALTONE``, ``NO ANSWER``, ``ERROR``, or ``TIMEOUT`` (no answer at all);
* an unknown number gives ``NO CARRIER``.

In data mode ``+++`` framed by the guard time returns to command mode (``OK``); ``ATO`` goes
back online, ``ATH`` hangs up. When the peer closes, the emulator sends ``NO CARRIER`` and is
back in command mode. ``ATE0``/``ATE1`` switch the echo, every other ``AT`` command is ``OK``.
"""

from __future__ import annotations

import re
import select
import socket
import threading
import time
from collections.abc import Mapping

import serial

from meterhub.extensions.driverkit import PtyClosed, PtyPair
from meterhub.plugins.media.modem import ModemFailure
from meterhub.plugins.media.tcp import parse_host_port

__all__ = ["ModemEmulator"]

_RESULT_TEXT = {
    ModemFailure.NO_CARRIER: "NO CARRIER",
    ModemFailure.BUSY: "BUSY",
    ModemFailure.NO_DIALTONE: "NO DIALTONE",
    ModemFailure.NO_ANSWER: "NO ANSWER",
    ModemFailure.ERROR: "ERROR",
}
_DIAL = re.compile(r"^D[TP]?(.+?);?$")


class _Peer:
    """The remote end of a call: a TCP socket or a serial port."""

    def __init__(self, address: str, timeout: float) -> None:
        kind, _, rest = address.partition(":")
        self.socket: socket.socket | None = None
        self.port: serial.Serial | None = None
        if kind == "tcp":
            self.socket = socket.create_connection(parse_host_port(rest), timeout=timeout)
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        elif kind == "serial":
            self.port = serial.Serial(rest, timeout=0, write_timeout=timeout)
        else:
            raise OSError(f"unknown peer address {address!r}")

    def fileno(self) -> int:
        if self.socket is not None:
            return self.socket.fileno()
        assert self.port is not None
        return self.port.fileno()

    def recv(self) -> bytes:
        """What the peer sent; ``b""`` means it hung up."""
        if self.socket is not None:
            return self.socket.recv(4096)
        assert self.port is not None
        data = self.port.read(self.port.in_waiting or 1)
        return bytes(data) if data else b""

    def send(self, data: bytes) -> None:
        if self.socket is not None:
            self.socket.sendall(data)
        else:
            assert self.port is not None
            self.port.write(data)

    def close(self) -> None:
        for closable in (self.socket, self.port):
            if closable is not None:
                try:
                    closable.close()
                except (OSError, serial.SerialException):
                    pass


class ModemEmulator:
    """An AT-command modem on a pty; a context manager that starts and stops its thread.

    :param phone_book: number → peer address or scripted :class:`ModemFailure`.
    :param connect_rate: the rate announced with ``CONNECT``.
    :param guard_time: seconds of silence around ``+++`` (match the medium's ``guard_time``).
    :param dial_delay: seconds between dialling and the result (call setup time).
    """

    def __init__(
        self,
        phone_book: Mapping[str, str | ModemFailure],
        *,
        connect_rate: int = 9600,
        guard_time: float = 0.2,
        dial_delay: float = 0.0,
    ) -> None:
        self.phone_book = dict(phone_book)
        self.connect_rate = connect_rate
        self.guard_time = guard_time
        self.dial_delay = dial_delay
        self.pty = PtyPair()
        #: The device path the ``modem`` medium opens as its ``port`` setting.
        self.port = self.pty.path
        #: Every command line received, for tests.
        self.commands: list[str] = []
        #: Numbers dialled, in order.
        self.dialled: list[str] = []
        self.echo = True
        self._peer: _Peer | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"modem {self.port}", daemon=True)

    def start(self) -> ModemEmulator:
        """Start answering on the pty."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread, drop any call and close the pty; idempotent."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._hang_up()
        self.pty.close()

    def __enter__(self) -> ModemEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the device loop ---------------------------------------------------------------------

    def _send(self, text: str) -> None:
        self.pty.write(f"\r\n{text}\r\n".encode("ascii"))

    def _hang_up(self) -> None:
        peer, self._peer = self._peer, None
        if peer is not None:
            peer.close()

    def _run(self) -> None:
        line = bytearray()
        try:
            while not self._stop.is_set():
                if self._peer is not None:
                    self._data_mode()
                    continue
                data = self.pty.read(256, 0.05)
                for byte in data:
                    if self.echo:
                        self.pty.write(bytes([byte]))
                    if byte in (13, 10):
                        if line:
                            self._command(line.decode("ascii", "replace").strip())
                            line.clear()
                    elif byte in (8, 127):
                        del line[-1:]
                    elif len(line) < 256:
                        line.append(byte)
        except PtyClosed:
            pass

    def _command(self, text: str) -> None:
        self.commands.append(text)
        upper = text.upper()
        if not upper.startswith("AT"):
            self._send("ERROR")
            return
        body = upper[2:].replace(" ", "")
        dial = _DIAL.match(body)
        if dial:
            self._dial(text[2:].strip()[1:].lstrip("TtPp").rstrip(";"))
            return
        if body in ("H", "H0"):
            self._hang_up()
        elif body == "O":
            self._send("NO CARRIER")
            return
        elif "E0" in body:
            self.echo = False
        elif "E1" in body or body.startswith("Z") or body.startswith("&F"):
            self.echo = True
        self._send("OK")

    def _dial(self, number: str) -> None:
        self.dialled.append(number)
        if self.dial_delay:
            time.sleep(self.dial_delay)
        target = self.phone_book.get(number, ModemFailure.NO_CARRIER)
        if target is ModemFailure.TIMEOUT:
            return  # no answer at all: the caller times out
        if isinstance(target, ModemFailure):
            self._send(_RESULT_TEXT.get(target, "ERROR"))
            return
        try:
            self._peer = _Peer(target, timeout=5.0)
        except (OSError, serial.SerialException):
            self._send("NO CARRIER")
            return
        self._send(f"CONNECT {self.connect_rate}")

    def _data_mode(self) -> None:
        """Pass bytes both ways until escape, hang-up by the peer, or stop."""
        peer = self._peer
        assert peer is not None
        last_rx = time.monotonic()
        pluses = b""
        while not self._stop.is_set() and self._peer is peer:
            try:
                ready, _, _ = select.select([self.pty.master, peer], [], [], 0.05)
            except (OSError, ValueError):
                ready = []
            now = time.monotonic()
            if pluses == b"+++" and now - last_rx >= self.guard_time:
                self._send("OK")  # escaped to command mode; the call stays up until ATH
                self._command_mode_while_connected(peer)
                return
            if peer in ready:
                try:
                    data = peer.recv()
                except (OSError, serial.SerialException):
                    data = b""
                if not data:
                    self._hang_up()
                    self._send("NO CARRIER")
                    return
                self.pty.write(data)
            if self.pty.master in ready:
                data = self.pty.read(4096, 0)
                if not data:
                    continue
                gap, last_rx = now - last_rx, now
                if (
                    data == b"+" * len(data)
                    and (pluses or gap >= self.guard_time)
                    and len(pluses) + len(data) <= 3
                ):
                    pluses += data
                    continue
                data, pluses = pluses + data, b""
                try:
                    peer.send(data)
                except (OSError, serial.SerialException):
                    self._hang_up()
                    self._send("NO CARRIER")
                    return

    def _command_mode_while_connected(self, peer: _Peer) -> None:
        """Command mode with the call up: ``ATH`` ends it, ``ATO`` returns to data mode."""
        line = bytearray()
        while not self._stop.is_set():
            data = self.pty.read(256, 0.05)
            for byte in data:
                if self.echo:
                    self.pty.write(bytes([byte]))
                if byte in (13, 10):
                    text = line.decode("ascii", "replace").strip().upper()
                    line.clear()
                    if not text:
                        continue
                    self.commands.append(text)
                    if text in ("ATO", "ATO0"):
                        self._send(f"CONNECT {self.connect_rate}")
                        return
                    if text in ("ATH", "ATH0"):
                        self._hang_up()
                        self._send("OK")
                        return
                    self._send("OK" if text.startswith("AT") else "ERROR")
                else:
                    line.append(byte)
