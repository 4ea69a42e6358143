"""What a simulated DLMS meter keeps across connections: clock, breaker, tables, image."""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from gurux_dlms import GXDateTime
from gurux_dlms.enums import (
    Authentication,
)
from gurux_dlms.objects.enums import ImageTransferStatus

from meterhub.extensions.driverkit import SimulatedMeter
from meterhub.extensions.simulator import Faults
from meterhub.plugins.drivers.dlms.mechanisms import MECHANISMS

#: Client address of the association with the configured authentication.
CLIENT_MANAGEMENT = 1
#: Client address of the public client (no authentication, clock and counters only).
CLIENT_PUBLIC = 16
#: Server logical address.
LOGICAL_ADDRESS = 1
#: HDLC physical address of every simulated meter.
PHYSICAL_ADDRESS = 17

_QUARTER = 900
_DAY = 86_400
_LP_DAYS = 40
_DAILY_DAYS = 400
_MONTHS = 24
_EVENT_DAYS = 60
_DENIED = "1.0.96.50.0.255"
_PUBLIC = frozenset({"0.0.1.0.0.255", "0.0.43.1.0.255", "0.0.40.0.0.255", "0.0.96.1.0.255"})
_WRITABLE = {
    "0.0.1.0.0.255": {2},
    "0.0.17.0.0.255": {3, 4, 5},
    "0.0.13.0.0.255": {6, 7, 8, 9, 10},
}
_METHODS = {
    "0.0.40.0.0.255": {1},
    "0.0.96.3.10.255": {1, 2},
    "0.0.13.0.0.255": {1},
    "0.0.44.0.0.255": {1, 2, 3, 4},
}
_FIRMWARE = "MHSIM-DLMS-1.0"
#: The ``authentication`` option: the mechanism of the management client (as the driver's).
_AUTH_LEVELS: dict[str, Authentication] = dict(MECHANISMS)


def _utc(seconds: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)


def _cosem(seconds: int) -> GXDateTime:
    return GXDateTime(_utc(seconds).replace(tzinfo=timezone(timedelta(0))))


def meter_secrets(serial: str, security_suite: int = 0) -> dict[str, str]:
    """The credentials of simulated meter ``serial``: password, HLS secret, keys and system
    titles (hex).

    Derived from the serial so that every run (and the credential store of ``make demo``) uses
    the same ones. ``hls_secret`` (16 characters, so it also keys mechanism 2's AES-128) is
    the secret of the HLS mechanisms 2, 3, 4 and 6, which the driver takes as its
    ``password``. Security suite 2 (AES-GCM-256) has 32-byte keys, suites 0 and 1 16-byte ones.
    """
    digest = hashlib.sha256(f"dlms-secrets|{serial}".encode()).digest()
    if security_suite == 2:
        authentication_key = hashlib.sha256(f"dlms-ak256|{serial}".encode()).digest()
        block_cipher_key = hashlib.sha256(f"dlms-bck256|{serial}".encode()).digest()
    else:
        authentication_key = digest[4:20]
        block_cipher_key = hashlib.sha256(f"dlms-bck|{serial}".encode()).digest()[:16]
    return {
        "password": digest[:4].hex().upper(),
        "hls_secret": "H" + hashlib.sha256(f"dlms-hls|{serial}".encode()).hexdigest()[:15],
        "authentication_key": authentication_key.hex().upper(),
        "block_cipher_key": block_cipher_key.hex().upper(),
        "system_title": (b"MHC" + digest[:5]).hex().upper(),
        "server_system_title": (b"MHS" + digest[5:10]).hex().upper(),
    }


@dataclass
class ImageState:
    """What the meter's image transfer object (class 18) keeps across connections."""

    #: Whether the meter has an image transfer object at all.
    present: bool = True
    #: image_transfer_enabled (attribute 5).
    enabled: bool = True
    #: image_block_size (attribute 2), bytes.
    block_size: int = 192
    #: ``False``: verification always fails (a bad signature).
    verify_ok: bool = True
    #: Seconds verification and activation take (0: done when the method answers).
    busy: float = 0.0
    #: Block numbers the meter loses the first time they arrive.
    lose: set[int] = field(default_factory=set)
    identifier: bytes = b""
    size: int = 0
    blocks: dict[int, bytes] = field(default_factory=dict)
    status: int = ImageTransferStatus.IMAGE_TRANSFER_NOT_INITIATED
    #: Activate info (attribute 7): (size, identifier) per image the meter knows.
    known: dict[bytes, int] = field(default_factory=dict)
    #: When the verification or activation in progress ends (monotonic), and its outcome.
    done_at: float = 0.0
    outcome: int = 0
    #: The identifier and bytes of the activated image.
    activated: bytes | None = None
    active_image: bytes | None = None

    @property
    def received(self) -> bytes:
        """The image as the received blocks put it together, in block order."""
        return b"".join(self.blocks[number] for number in sorted(self.blocks))

    def verified(self) -> bool:
        """Every block arrived, the sizes add up, and the (simulated) signature is good."""
        count = -(-self.size // self.block_size) if self.block_size else 0
        complete = sorted(self.blocks) == list(range(count))
        return complete and len(self.received) == self.size and self.verify_ok

    def settle(self) -> None:
        """End a verification or activation whose time is up."""
        if self.done_at and time.monotonic() >= self.done_at:
            self.done_at = 0.0
            self._finish(self.outcome)

    def _finish(self, status: int) -> None:
        self.status = status
        if status == ImageTransferStatus.IMAGE_ACTIVATION_SUCCESSFUL:
            self.activated = self.identifier
            self.active_image = self.received


@dataclass
class MeterState:
    """What one simulated meter keeps across connections: clock setting, breaker, tables."""

    serial: str
    model: SimulatedMeter
    faults: Faults
    authentication: str
    secrets: dict[str, str]
    lock: threading.Lock = field(default_factory=threading.Lock)
    clock_offset: float | None = None
    supply_connected: bool = True
    thresholds: dict[int, int] = field(default_factory=lambda: {3: 10_000, 4: 10_000, 5: 5_000})
    calendar: dict[int, Any] = field(default_factory=dict)
    #: The highest invocation counter the meter has accepted (replay protection).
    invocation_counter: int = 0
    #: The image transfer object's state and what it received.
    image: ImageState = field(default_factory=ImageState)
    #: HDLC: the server address the meter answers on (logical and physical device, size).
    logical_address: int = LOGICAL_ADDRESS
    physical_address: int = PHYSICAL_ADDRESS
    address_size: int = 0
    #: The security policy the management client must use (``none``: any) and the suite.
    security: str = "none"
    security_suite: int = 0
    #: ``ln`` (logical names) or ``sn`` (short names: base names, association class 12).
    referencing: str = "ln"

    def firmware(self) -> str:
        """The firmware version: the identifier of the last activated image, or the factory's."""
        with self.lock:
            activated = self.image.activated
        return activated.decode("utf-8", "replace") if activated else _FIRMWARE

    def now(self) -> float:
        """The system time, in Unix seconds."""
        return time.time()

    def meter_time(self) -> float:
        """The meter clock: system time plus the drift (or the offset set by a client)."""
        with self.lock:
            offset = self.clock_offset
        if offset is None:
            offset = self.model.clock_drift + self.faults.clock_drift
        return self.now() + offset

    def set_meter_time(self, value: float) -> None:
        """Set the meter clock to ``value`` (Unix seconds) now."""
        with self.lock:
            self.clock_offset = value - self.now()

    def export_energy(self, at: int) -> int:
        """Active export in Wh (a small constant feed-in from the serial)."""
        return self.model.register_offset // 7 + (at // _DAY) % 997
