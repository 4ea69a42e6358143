"""The ``wmbus`` driver: one wireless M-Bus / OMS meter, heard through a receiver.

Address: where telegrams come from — ``host:port`` (a TCP feed of hex lines), ``udp://host:port``
(a local port telegrams are pushed to), ``file:/path`` (a receiver's log) or a serial device
(a receiver stick: ``receiver=lines`` or ``amber``). Settings
(:class:`~..settings.WmbusSettings`): the meter's ``meter_id`` (and ``manufacturer``), its
``key`` (a secret from the credential store), how long to ``listen``.

A session listens until the meter's next telegram that passes every check arrives: CRCs, the
key (mode 5: ``2F 2F`` after decryption; mode 7: the MAC), and the replay check against the
access number and message counter taken last (kept across sessions in
:attr:`WmbusConnection.state`).
Telegrams of other meters are skipped and listed in :attr:`WmbusConnection.heard`. A wrong key
raises :class:`~meterhub.extensions.driver.AuthenticationFailed`; silence for ``listen``
seconds :class:`~meterhub.extensions.driver.MeterTimeout`. The telegram then gives registers,
current values, the clock and the storage numbers, like a wired readout. Wireless meters do not
listen, so the clock cannot be set.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Protocol
from zoneinfo import ZoneInfo

from meterhub.errors import InvalidValue, MeterHubError
from meterhub.extensions.driver import (
    Action,
    AuthenticationFailed,
    Driver,
    DriverError,
    DriverInfo,
    MeterTimeout,
    ProtocolError,
    Quality,
)
from meterhub.extensions.driverkit import PluginSettings, open_line
from meterhub.extensions.medium import Medium
from meterhub.extensions.push import PushContent, PushMessage
from meterhub.plugins.drivers.mbus.readout import Readout, ReadoutConnection
from meterhub.plugins.drivers.mbus.records import decode_records
from meterhub.plugins.drivers.mbus.settings import WmbusSettings
from meterhub.plugins.drivers.mbus.wireless.link import strip_link
from meterhub.plugins.drivers.mbus.wireless.push import BulkOpener, open_pushed, read_telegram
from meterhub.plugins.drivers.mbus.wireless.receiver import (
    AmberReceiver,
    FileReceiver,
    LineReceiver,
    UdpReceiver,
)
from meterhub.plugins.drivers.mbus.wireless.security import MeterKey
from meterhub.plugins.drivers.mbus.wireless.status import Status, TelegramError
from meterhub.plugins.drivers.mbus.wireless.telegram import ReplayGuard, open_telegram, read_address

__all__ = ["WmbusConnection", "WmbusDriver"]


class Receiver(Protocol):
    """A source of telegrams."""

    def receive(self, timeout: float) -> tuple[bytes, datetime] | None:
        """The next raw telegram and its arrival time, or ``None`` after ``timeout``."""
        ...


class WmbusConnection(ReadoutConnection):
    """Listening for one wireless meter's telegrams."""

    driver_name = "wmbus"

    def __init__(
        self,
        receiver: Receiver,
        settings: WmbusSettings,
        medium: Medium | None = None,
        owned: list[Any] | None = None,
    ) -> None:
        self.receiver = receiver
        self.settings = settings
        self.medium = medium
        self.zone = UTC if settings.timezone == "UTC" else ZoneInfo(settings.timezone)
        self.key = MeterKey(settings.key) if settings.key else None
        self.guard = ReplayGuard(settings.last_access_number, settings.last_counter)
        self._wanted = bytes.fromhex(settings.meter_id)[::-1]
        self._owned = owned or []
        self._readout: Readout | None = None
        #: Meters heard while listening (other than this one): id → telegrams.
        self.heard: dict[str, int] = {}
        #: This meter's telegrams not taken, by status (replays, CRC errors, ...).
        self.refused: dict[Status, int] = {}

    def _note(self, text: str) -> None:
        trace = getattr(self.medium, "trace", None)
        if trace is not None:
            trace.note(text)

    def readout(self) -> Readout:
        """The meter's next valid telegram, decoded (once per connection)."""
        if self._readout is not None:
            return self._readout
        deadline = time.monotonic() + self.settings.listen
        last_error: TelegramError | None = None
        while True:
            left = deadline - time.monotonic()
            got = self.receiver.receive(left) if left > 0 else None
            if got is None:
                if last_error is not None and last_error.status in (
                    Status.CRC_ERROR,
                    Status.TRUNCATED,
                    Status.MALFORMED,
                ):
                    raise ProtocolError(f"meter {self.settings.meter_id}: {last_error}")
                raise MeterTimeout(
                    f"no valid telegram of meter {self.settings.meter_id} within "
                    f"{self.settings.listen:g} s"
                )
            raw, arrived = got
            try:
                frame = strip_link(raw, self.settings.link_crc)
            except TelegramError as exc:
                if len(raw) > 8 and raw[4:8] == self._wanted:
                    last_error = exc
                    self.refused[exc.status] = self.refused.get(exc.status, 0) + 1
                continue
            address = read_address(frame)
            if address.identification != self._wanted:
                self.heard[address.meter_id] = self.heard.get(address.meter_id, 0) + 1
                continue
            if self.settings.manufacturer and address.letters != self.settings.manufacturer:
                self.heard[address.meter_id] = self.heard.get(address.meter_id, 0) + 1
                continue
            try:
                opened = open_telegram(frame, self.key, self.guard)
            except TelegramError as exc:
                self.refused[exc.status] = self.refused.get(exc.status, 0) + 1
                self._note(f"telegram of {self.settings.meter_id} refused: {exc}")
                if exc.status in (Status.WRONG_KEY, Status.UNKNOWN_METER):
                    raise AuthenticationFailed(
                        f"meter {self.settings.meter_id}: {exc.reason}", frame=raw
                    ) from None
                last_error = exc
                continue
            break
        self._readout = Readout(
            identification=opened.address.meter_id,
            manufacturer=opened.address.letters,
            version=opened.address.version,
            medium=opened.address.medium,
            access=opened.access,
            status=opened.status,
            records=decode_records(opened.records),
            read_at=arrived.astimezone(UTC),
            zone=self.zone,
        )
        for unmapped in self._readout.unmapped():
            self._note(f"record {unmapped.index} kept raw ({unmapped.reason}): {unmapped.raw}")
        return self._readout

    @property
    def state(self) -> Mapping[str, str]:
        """The access number and counter taken last, for the replay check of the next session."""
        found = {}
        if self.guard.access is not None:
            found["last_access_number"] = str(self.guard.access)
        if self.guard.counter is not None:
            found["last_counter"] = str(self.guard.counter)
        return MappingProxyType(found)

    def set_clock(self, time: datetime) -> Quality:
        """Not offered: a unidirectional wireless meter does not listen."""
        raise self.unsupported(Action.SET_CLOCK)

    def close(self) -> None:
        """Close what the connection opened itself."""
        self._readout = None
        for item in self._owned:
            item.close()
        self._owned = []


class WmbusDriver(Driver):
    """Wireless M-Bus / OMS meters (EN 13757-4, OMS security modes 5 and 7)."""

    name: ClassVar[str] = "wmbus"
    settings_model: ClassVar[type[PluginSettings]] = WmbusSettings
    receives_push: ClassVar[bool] = True

    def read_push(self, medium: Medium, timeout: float) -> PushMessage:
        """The next telegram a receiver heard on ``medium``, of any meter (:mod:`.push`)."""
        return read_telegram(medium, timeout)

    def decode_push(self, message: PushMessage, settings: Mapping[str, Any]) -> PushContent:
        """A telegram of :meth:`read_push` deciphered with the meter's key, as readings."""
        return open_pushed(message, settings)

    def decode_pushes(
        self, messages: Sequence[PushMessage], settings: Sequence[Mapping[str, Any]]
    ) -> list[PushContent | DriverError | MeterHubError]:
        """Many telegrams at once through the bulk decoder (:class:`.push.BulkOpener`)."""
        opener = self.__dict__.get("_opener")
        if opener is None:
            opener = self.__dict__.setdefault("_opener", BulkOpener())
        return opener.open(messages, settings)

    @classmethod
    def info(cls) -> DriverInfo:
        """Describe the wireless M-Bus driver."""
        return DriverInfo(
            name=cls.name,
            description="Wireless M-Bus / OMS: link CRCs, AES modes 5 and 7, pymbusparser records",
            actions=frozenset(
                {
                    Action.READ_REGISTERS,
                    Action.READ_INSTANTANEOUS,
                    Action.READ_BILLING,
                    Action.READ_LOAD_PROFILE,
                    Action.READ_CLOCK,
                }
            ),
            address_syntax="host:port (TCP feed), udp://host:port, file:/path or a serial device",
            settings_model=WmbusSettings,
            media=("tcp", "serial"),
        )

    def connect(
        self, address: str, settings: Mapping[str, Any], medium: Medium | None = None
    ) -> WmbusConnection:
        """Open the receiver (settings checked first) and prepare to listen."""
        text = address.strip() if isinstance(address, str) else ""
        if medium is None and (text.startswith("udp://") or text.startswith("file:")):
            options = WmbusSettings.parse(settings)
            if text.startswith("file:"):
                return WmbusConnection(FileReceiver(Path(text[5:])), options)
            host, _, port = text[6:].rpartition(":")
            if not host or not port.isdigit():
                raise InvalidValue("address", "must be udp://host:port")
            receiver = UdpReceiver(host.strip("[]"), int(port))
            return WmbusConnection(receiver, options, owned=[receiver])
        line = open_line(text, settings, WmbusSettings, medium, timeout=5.0)
        owned = [line.medium] if line.owned else []
        return WmbusConnection(
            _framing(line.medium, line.options), line.options, line.medium, owned
        )


def _framing(medium: Medium, options: WmbusSettings) -> Receiver:
    return AmberReceiver(medium) if options.receiver == "amber" else LineReceiver(medium)
