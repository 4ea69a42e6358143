"""Wireless M-Bus telegrams as a meter sends them, and a generator that pushes them out.

:func:`build_telegram` writes one SND_NR telegram (C = 44h) of a simulated meter with a short
transport header (CI 7Ah) and its records, encrypted in OMS security mode 5 (AES-128-CBC, IV
from the address and the access number) or mode 7 (an Authentication and Fragmentation Layer,
CI 90h, carrying the message counter and an 8-byte AES-CMAC; AES-128-CBC with IV 0 under a key
derived per message by AES-CMAC from the meter key), or in clear (mode 0); then adds the link
layer CRCs of frame format A or B (CRC-16/EN-13757, most significant byte first). The
encryption here is written with ``cryptography`` independently of the driver's decryption, and
pymbusparser decrypts mode 5 telegrams of this module too, so the tests have a peer.

:class:`TelegramGenerator` sends each meter's telegram every ``interval`` seconds to the TCP
clients of a feed (one hex line per telegram), to a UDP address (one datagram per telegram) and
to a file (``<ISO time> <hex>`` lines).
"""

from __future__ import annotations

import queue
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import fastcrc
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from meterhub.extensions.driverkit import ByteChannel, ChannelClosed
from meterhub.plugins.drivers.mbus.simulator.model import MeterSpec, records_of

__all__ = ["TelegramGenerator", "build_telegram", "link_frame", "meter_key"]

SND_NR = 0x44


def meter_key(identification: str) -> bytes:
    """The AES key of a simulated meter (derived from its number; for demos and tests only)."""
    return bytes.fromhex(f"{identification}{identification}00000000{identification}"[:32])


def _manufacturer(letters: str) -> bytes:
    code = sum((ord(char) - 64) << (5 * (2 - i)) for i, char in enumerate(letters))
    return code.to_bytes(2, "little")


def _crc(data: bytes) -> bytes:
    return fastcrc.crc16.en_13757(data).to_bytes(2, "big")


def link_frame(data: bytes, frame_format: str) -> bytes:
    """Add the CRCs of ``frame_format`` (``a``, ``b`` or ``none``) and the L field.

    ``data`` runs from the C field to the end. Format A: a CRC after the first 10 bytes (L, C,
    M, A) and after every 16 bytes that follow; format B: one CRC over the first 126 bytes (or
    all) and one over the rest; L counts the CRCs only in format B.
    """
    if frame_format == "none":
        return bytes([len(data)]) + data
    if frame_format == "a":
        whole = bytes([len(data)]) + data
        out = bytearray(whole[:10] + _crc(whole[:10]))
        for start in range(10, len(whole), 16):
            block = whole[start : start + 16]
            out += block + _crc(block)
        return bytes(out)
    crcs = 1 if len(data) + 1 + 2 <= 128 else 2
    whole = bytes([len(data) + 2 * crcs]) + data
    first = whole[:126] if crcs == 2 else whole
    out = first + _crc(first)
    if crcs == 2:
        out += whole[126:] + _crc(whole[126:])
    return out


def _cmac(key: bytes, data: bytes) -> bytes:
    mac = cmac.CMAC(algorithms.AES(key))
    mac.update(data)
    return mac.finalize()


def _cbc(key: bytes, iv: bytes, data: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def build_telegram(
    spec: MeterSpec,
    at: int,
    *,
    access: int,
    security: int = 5,
    key: bytes | None = None,
    counter: int = 0,
    frame_format: str = "a",
    storages: int = 1,
) -> bytes:
    """One SND_NR telegram of ``spec`` at Unix second ``at`` (see the module docstring)."""
    address = bytes.fromhex(spec.identification)[::-1] + bytes([spec.version, spec.medium])
    link = bytes([SND_NR]) + _manufacturer(spec.manufacturer) + address
    plain = b"".join(records_of(spec, at, at, storages=storages, tail=False))
    if security == 0:
        tpl = bytes([0x7A, access & 0xFF, 0x00]) + (0).to_bytes(2, "little")
        return link_frame(link + tpl + plain, frame_format)
    if key is None or len(key) != 16:
        raise ValueError("an encrypted telegram needs a 16-byte key")
    payload = b"\x2f\x2f" + plain
    payload += b"\x2f" * (-len(payload) % 16)
    blocks = len(payload) // 16
    if blocks > 15:
        raise ValueError("too many records for one encrypted telegram")
    if security == 5:
        config = (5 << 8) | (blocks << 4)
        tpl = bytes([0x7A, access & 0xFF, 0x00]) + config.to_bytes(2, "little")
        iv = _manufacturer(spec.manufacturer) + address + bytes([access & 0xFF]) * 8
        return link_frame(link + tpl + _cbc(key, iv, payload), frame_format)
    if security != 7:
        raise ValueError(f"security mode {security} is not simulated (0, 5 or 7)")
    config = (7 << 8) | (blocks << 4)
    tpl = bytes([0x7A, access & 0xFF, 0x00]) + config.to_bytes(2, "little") + b"\x10"
    count = counter.to_bytes(4, "little")
    derivation = count + address[:4] + b"\x07" * 7
    encryption_key = _cmac(key, b"\x00" + derivation)
    mac_key = _cmac(key, b"\x01" + derivation)
    tpdu = tpl + _cbc(encryption_key, b"\x00" * 16, payload)
    mcl = 0x25  # counter in the message, AT = 5 (AES-CMAC-128, 8 bytes)
    mac = _cmac(mac_key, bytes([mcl]) + count + tpdu)[:8]
    fcl = (1 << 13) | (1 << 11) | (1 << 10)  # MCL, MCR and MAC present; not fragmented
    afl = bytes([0x90, 15]) + fcl.to_bytes(2, "little") + bytes([mcl]) + count + mac
    return link_frame(link + afl + tpdu, frame_format)


@dataclass
class _MeterClock:
    spec: MeterSpec
    key: bytes
    access: int
    counter: int
    due: float


@dataclass
class TelegramGenerator:
    """Sends every meter's telegram every ``interval`` seconds (see the module docstring)."""

    specs: list[MeterSpec]
    security: int = 5
    frame_format: str = "a"
    interval: float = 5.0
    frozen: int | None = None
    udp_target: tuple[str, int] | None = None
    file: Path | None = None
    keys: dict[str, bytes] = field(default_factory=dict)
    sent: int = 0

    def __post_init__(self) -> None:
        self._subscribers: list[queue.Queue[bytes]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._udp: socket.socket | None = None
        start = time.monotonic()
        step = self.interval / max(len(self.specs), 1)
        self._clocks = [
            _MeterClock(
                spec,
                self.keys.get(spec.identification) or meter_key(spec.identification),
                index * 7 % 256,
                1000 + index,
                start + index * step,
            )
            for index, spec in enumerate(self.specs)
        ]

    def next_telegram(self, clock: _MeterClock) -> bytes:
        """The meter's next telegram (access number and counter advance)."""
        clock.access = (clock.access + 1) & 0xFF
        clock.counter += 1
        at = self.frozen if self.frozen is not None else int(time.time())
        return build_telegram(
            clock.spec,
            at,
            access=clock.access,
            security=self.security,
            key=clock.key,
            counter=clock.counter,
            frame_format=self.frame_format,
        )

    def start(self) -> None:
        """Start sending (a daemon thread)."""
        if self.udp_target is not None:
            self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._thread = threading.Thread(target=self._run, name="wmbus-air", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            for clock in self._clocks:
                if clock.due <= now:
                    clock.due = now + self.interval
                    self._send(self.next_telegram(clock))
            self._stop.wait(0.02)

    def _send(self, telegram: bytes) -> None:
        self.sent += 1
        line = telegram.hex().upper().encode("ascii") + b"\n"
        with self._lock:
            for subscriber in self._subscribers:
                subscriber.put(line)
        if self._udp is not None and self.udp_target is not None:
            self._udp.sendto(telegram, self.udp_target)
        if self.file is not None:
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            with self.file.open("a", encoding="ascii") as out:
                out.write(f"{stamp} {telegram.hex().upper()}\n")

    def serve(self, channel: ByteChannel) -> None:
        """A TCP feed session: every telegram sent from now on, one hex line each."""
        lines: queue.Queue[bytes] = queue.Queue()
        with self._lock:
            self._subscribers.append(lines)
        try:
            while not self._stop.is_set():
                try:
                    line = lines.get(timeout=0.1)
                except queue.Empty:
                    channel.read(1024, 0)  # notices a client that left
                    continue
                channel.write(line)
        except ChannelClosed:
            pass
        finally:
            with self._lock:
                self._subscribers.remove(lines)

    def stop(self) -> None:
        """Stop sending; idempotent."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3)
        if self._udp is not None:
            self._udp.close()
            self._udp = None
