"""A simulated wired M-Bus: several slaves behind one line (a pty or a TCP gateway).

The bus answers like its slaves would, each keeping its own link state:

* SND_NKE to a slave's primary address (or 253 for the selected ones, 254 for all) resets its
  frame count state and it answers E5h; 255 resets all without an answer;
* SND_UD CI 52h (select) with a 16-digit mask selects the slaves whose secondary address
  matches (``F`` = any digit) and deselects the others; the selected ones answer E5h;
* SND_UD CI 50h (application reset) restarts the readout; CI 51h with ``04 6D`` sets the clock;
* REQ_UD2: the readout is cut into telegrams of at most 252 bytes ending in DIF 1Fh ("more
  follows") but the last. With FCV set, a toggled FCB fetches the next telegram and a repeated
  FCB repeats the last one (the master did not get it); the first request after a reset starts
  at telegram 1.

When several slaves answer one request their bytes overlay on the bus: the master sees the
bitwise AND of the answers (the idle line is 1s), which for different telegrams is a broken
frame — a collision, as a secondary search must handle. With ``baudrate`` the bus takes the
real time for every byte of a request and an answer (11 bits per byte, 8E1).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from meterhub.extensions.driverkit import ByteChannel
from meterhub.extensions.simulator import Faults
from meterhub.plugins.drivers.mbus.frames import BITS_PER_BYTE, checksum
from meterhub.plugins.drivers.mbus.simulator.model import MeterSpec, records_of

__all__ = ["BusState", "SimulatedBus", "SlaveState", "long_frame", "telegrams_of"]

_MAX_USER_DATA = 252 - 3  # L counts C, A, CI and the user data
_HEADER = 12
_MORE = b"\x1f"


def _manufacturer_bytes(letters: str) -> bytes:
    code = sum((ord(char) - 64) << (5 * (2 - i)) for i, char in enumerate(letters))
    return code.to_bytes(2, "little")


def long_frame(control: int, address: int, ci: int, data: bytes) -> bytes:
    """``68 L L 68 C A CI data CS 16``."""
    body = bytes([control, address, ci]) + data
    return bytes([0x68, len(body), len(body), 0x68]) + body + bytes([checksum(body), 0x16])


def secondary_of(spec: MeterSpec) -> str:
    """The slave's secondary address as 16 hex digits (manufacturer in wire order)."""
    return (
        spec.identification
        + _manufacturer_bytes(spec.manufacturer).hex().upper()
        + f"{spec.version:02X}{spec.medium:02X}"
    )


def telegrams_of(spec: MeterSpec, records: list[bytes], access: int) -> list[bytes]:
    """The readout cut into RSP_UD user data parts (header + records [+ 1Fh])."""
    header = (
        bytes.fromhex(spec.identification)[::-1]
        + _manufacturer_bytes(spec.manufacturer)
        + bytes([spec.version, spec.medium, access & 0xFF, 0x00, 0x00, 0x00])
    )
    parts: list[bytes] = []
    current = b""
    for item in records:
        if len(header) + len(current) + len(item) + 1 > _MAX_USER_DATA:
            parts.append(current + _MORE)
            current = b""
        current += item
    parts.append(current)
    return [header + part for part in parts]


@dataclass
class SlaveState:
    """One slave's link state."""

    spec: MeterSpec
    selected: bool = False
    last_fcb: bool | None = None
    index: int = -1
    telegrams: list[bytes] = field(default_factory=list)
    access: int = 0
    clock_offset: int = 0

    def reset(self) -> None:
        """SND_NKE / application reset: the next request starts the readout anew."""
        self.last_fcb = None
        self.index = -1
        self.telegrams = []


@dataclass
class BusState:
    """What the whole bus has done (for tests and the benchmark)."""

    requests: int = 0
    replies: int = 0
    collisions: int = 0
    bytes_in: int = 0
    bytes_out: int = 0


class SimulatedBus:
    """The slaves of one bus and how they answer a master frame."""

    def __init__(
        self, specs: list[MeterSpec], faults: Faults, frozen: int | None, baudrate: int = 0
    ) -> None:
        self.slaves = [SlaveState(spec, clock_offset=spec.model.clock_drift) for spec in specs]
        self.faults = faults
        self.frozen = frozen
        self.baudrate = baudrate
        self.state = BusState()
        self._lock = threading.Lock()

    def now(self) -> int:
        """The time the meters live in (frozen in tests)."""
        return self.frozen if self.frozen is not None else int(time.time())

    # -- addressing ------------------------------------------------------------------------------

    def _addressed(self, address: int) -> list[SlaveState]:
        if address == 0xFD:
            return [slave for slave in self.slaves if slave.selected]
        if address in (0xFE, 0xFF):
            return list(self.slaves)
        return [slave for slave in self.slaves if slave.spec.primary_address == address]

    @staticmethod
    def _matches(mask: str, address: str) -> bool:
        return all(m == "F" or m == a for m, a in zip(mask, address, strict=True))

    # -- answers -------------------------------------------------------------------------------

    def _data(self, slave: SlaveState, fcb: bool | None) -> bytes:
        if fcb is None or slave.last_fcb is None or fcb != slave.last_fcb:
            if not slave.telegrams or slave.index + 1 >= len(slave.telegrams):
                at = self.now()
                slave.access = (slave.access + 1) & 0xFF
                records = records_of(slave.spec, at, at + slave.clock_offset)
                slave.telegrams = telegrams_of(slave.spec, records, slave.access)
                slave.index = 0
            else:
                slave.index += 1
        slave.last_fcb = fcb
        return long_frame(0x08, slave.spec.primary_address, 0x72, slave.telegrams[slave.index])

    def answer(self, frame: bytes) -> bytes | None:
        """The bytes the bus carries back for one master frame (``None``: silence)."""
        with self._lock:
            self.state.requests += 1
            answers = self._answers(frame)
        if not answers:
            return None
        if len(answers) == 1:
            return answers[0]
        self.state.collisions += 1
        size = max(len(answer) for answer in answers)
        overlay = bytearray(b"\xff" * size)
        for answer in answers:
            for position, byte in enumerate(answer):
                overlay[position] &= byte
        return bytes(overlay)

    def _answers(self, frame: bytes) -> list[bytes]:
        if frame[0] == 0x10:
            control, address = frame[1], frame[2]
            slaves = self._addressed(address)
            if control == 0x40:
                for slave in slaves:
                    slave.reset()
                return [] if address == 0xFF else [b"\xe5"] * len(slaves)
            if control & 0xCF == 0x4B:  # REQ_UD2 (FCB, FCV masked)
                fcb = bool(control & 0x20) if control & 0x10 else None
                return [] if address == 0xFF else [self._data(slave, fcb) for slave in slaves]
            return []
        control, address, ci, data = frame[4], frame[5], frame[6], frame[7:-2]
        if control & 0xCF != 0x43:  # SND_UD
            return []
        if ci == 0x52 and address == 0xFD and len(data) == 8:
            mask = data[3::-1].hex().upper() + data[4:].hex().upper()
            chosen = []
            for slave in self.slaves:
                slave.selected = self._matches(mask, secondary_of(slave.spec))
                if slave.selected:
                    slave.reset()
                    chosen.append(b"\xe5")
            return chosen
        slaves = self._addressed(address)
        if ci == 0x50:
            for slave in slaves:
                slave.reset()
            return [b"\xe5"] * len(slaves)
        if ci == 0x51 and data[:2] == b"\x04\x6d" and len(data) == 6:
            minute, hour, day, month = (
                data[2] & 0x3F,
                data[3] & 0x1F,
                data[4] & 0x1F,
                data[5] & 0x0F,
            )
            year = 2000 + ((data[4] >> 5) | ((data[5] & 0xF0) >> 1))
            target = int(datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp())
            for slave in slaves:
                slave.clock_offset = target - self.now()
                slave.reset()
            return [b"\xe5"] * len(slaves)
        return []

    # -- the line ------------------------------------------------------------------------------

    def _pace(self, size: int) -> None:
        if self.baudrate:
            time.sleep(size * BITS_PER_BYTE / self.baudrate)

    def serve(self, channel: ByteChannel) -> None:
        """A session function for :class:`~meterhub.extensions.driverkit.FrameServer`."""
        buffer = bytearray()
        replies = 0
        while True:
            chunk = channel.read(4096, 0.2)
            if not chunk:
                continue
            buffer += chunk
            while buffer:
                frame, used = _next_frame(buffer)
                if used == 0:
                    break
                del buffer[:used]
                if frame is None:
                    continue
                self.state.bytes_in += len(frame)
                self._pace(len(frame))
                reply = self.answer(frame)
                if reply is None:
                    continue
                replies += 1
                faults = self.faults
                if faults.silent_after is not None and replies > faults.silent_after:
                    continue
                if faults.drop_after is not None and replies > faults.drop_after:
                    return
                if faults.corrupt_every and replies % faults.corrupt_every == 0 and len(reply) > 2:
                    reply = reply[:-2] + bytes([reply[-2] ^ 0x5A]) + reply[-1:]
                if faults.latency:
                    time.sleep(faults.latency)
                self.state.replies += 1
                self.state.bytes_out += len(reply)
                if not self.baudrate:
                    channel.write(reply)
                    continue
                for start in range(0, len(reply), 8):  # the bytes come as the bus carries them
                    chunk = reply[start : start + 8]
                    self._pace(len(chunk))
                    channel.write(chunk)


def _next_frame(buffer: bytearray) -> tuple[bytes | None, int]:
    """The next master frame in ``buffer`` and the bytes it used (0: wait for more)."""
    start = buffer[0]
    if start == 0x10:
        if len(buffer) < 5:
            return None, 0
        frame = bytes(buffer[:5])
        ok = frame[4] == 0x16 and checksum(frame[1:3]) == frame[3]
        return (frame if ok else None), 5
    if start == 0x68:
        if len(buffer) < 4:
            return None, 0
        length = buffer[1]
        if buffer[2] != length or buffer[3] != 0x68:
            return None, 1
        if len(buffer) < length + 6:
            return None, 0
        frame = bytes(buffer[: length + 6])
        ok = frame[-1] == 0x16 and checksum(frame[4:-2]) == frame[-2]
        return (frame if ok else None), length + 6
    return None, 1
