"""The ``mbus`` driver: wired M-Bus (EN 13757-2/-3) over a level converter or a TCP gateway.

Address: the line, ``/dev/ttyUSB0`` (the driver opens it at 2400 Bd 8E1 unless the settings say
otherwise) or ``host:port`` of an M-Bus-to-TCP gateway; with a medium given, whatever it takes.
The meter on the line is named by the settings ``primary_address`` (1..250; 254 when it is the
only meter) or ``secondary_address`` (16 digits; the meter is selected with SND_UD CI 52h and
then addressed at 253). See :class:`~.settings.MbusSettings` and ``docs/drivers/mbus.md``.

A readout is: the reset chosen (SND_NKE, or application reset CI 50h), then REQ_UD2 with the
frame count bit set, and further REQ_UD2 with the bit toggled while the meter says more records
follow (DIF 1Fh), up to ``max_telegrams``. An unanswered or broken request is repeated with the
*same* frame count bit, so the meter repeats its telegram instead of skipping one. The readout
is read once per connection and gives registers, current values, the clock, billing values
and the columnar history of the storage numbers; :meth:`MbusConnection.search` and
:meth:`MbusConnection.scan_primary` find the meters on the line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from meterhub.errors import InvalidValue
from meterhub.extensions.driver import (
    Action,
    Driver,
    DriverInfo,
    MeterTimeout,
    ProtocolError,
    Quality,
)
from meterhub.extensions.driverkit import PluginSettings, open_line
from meterhub.extensions.medium import Medium
from meterhub.plugins.drivers.mbus import pymeterbus_compat as requests
from meterhub.plugins.drivers.mbus.encoding import type_f
from meterhub.plugins.drivers.mbus.frames import Frame, FrameError, read_frame
from meterhub.plugins.drivers.mbus.readout import Readout, ReadoutConnection
from meterhub.plugins.drivers.mbus.records import Function, Record, decode_records, identification
from meterhub.plugins.drivers.mbus.search import SearchResult, scan_primary, search_secondary
from meterhub.plugins.drivers.mbus.settings import MbusSettings, check_mask

__all__ = ["MbusConnection", "MbusDriver", "Telegram", "parse_telegram"]

#: The line a wired M-Bus converter uses unless the settings say otherwise.
_DEFAULT_LINE = {"baudrate": "2400", "bytesize": "8", "parity": "E", "stopbits": "1"}
_BROADCAST_REPLY = 254
_RSP_UD = 0x08


class Telegram:
    """One RSP_UD telegram: the header fields and the records, decoded."""

    __slots__ = (
        "access",
        "identification",
        "manufacturer",
        "medium",
        "records",
        "status",
        "version",
    )

    def __init__(
        self,
        identification: str,
        manufacturer: str,
        version: int,
        medium: int,
        access: int,
        status: int,
        records: list[Record],
    ) -> None:
        self.identification = identification
        self.manufacturer = manufacturer
        self.version = version
        self.medium = medium
        self.access = access
        self.status = status
        self.records = records

    @property
    def more_follows(self) -> bool:
        """Whether the meter said that another telegram follows (DIF 1Fh)."""
        return bool(self.records) and self.records[-1].function is Function.MORE_FOLLOWS

    @property
    def secondary_address(self) -> str:
        """ID, manufacturer (wire order), version and medium as 16 hex digits."""
        code = manufacturer_code(self.manufacturer)
        return (
            f"{self.identification}{code & 0xFF:02X}{code >> 8:02X}"
            f"{self.version:02X}{self.medium:02X}"
        )


def manufacturer_code(letters: str) -> int:
    """The 2-byte manufacturer code of three letters (EN 13757-3: 32² · L1 + 32 · L2 + L3)."""
    return sum((ord(char) - 64) << (5 * (2 - i)) for i, char in enumerate(letters.upper()))


def manufacturer_letters(code: int) -> str:
    """Three letters of a 2-byte manufacturer code."""
    return "".join(chr(((code >> shift) & 0x1F) + 64) for shift in (10, 5, 0))


def parse_telegram(frame: Frame) -> Telegram:
    """The header and records of an RSP_UD long frame (CI 72h: long header).

    :raises ProtocolError: not an RSP_UD, a CI without the meter's address, or encrypted.
    """
    if frame.kind != "long" or frame.control & 0x0F != _RSP_UD:
        raise ProtocolError("expected an RSP_UD long frame", frame=frame.raw)
    data = frame.user_data
    if frame.ci != 0x72 or len(data) < 12:
        raise ProtocolError(f"RSP_UD with CI {frame.ci:02X}h is not supported", frame=frame.raw)
    config = int.from_bytes(data[10:12], "little")
    if (config >> 8) & 0x1F:
        raise ProtocolError(
            f"encrypted wired readout (security mode {(config >> 8) & 0x1F}) is not supported",
            frame=frame.raw,
        )
    return Telegram(
        identification=identification(data[0:4]),
        manufacturer=manufacturer_letters(int.from_bytes(data[4:6], "little")),
        version=data[6],
        medium=data[7],
        access=data[8],
        status=data[9],
        records=decode_records(data[12:]),
    )


class MbusConnection(ReadoutConnection):
    """Sessions with one wired M-Bus meter (or the whole bus, for the search) over a medium."""

    driver_name = "mbus"

    def __init__(
        self, medium: Medium, settings: MbusSettings, *, owns_medium: bool = False
    ) -> None:
        self.medium = medium
        #: Whether the connection opened the medium itself and closes it with the session.
        self.owns_medium = owns_medium
        self.settings = settings
        self.zone = UTC if settings.timezone == "UTC" else ZoneInfo(settings.timezone)
        self._readout: Readout | None = None
        #: Telegrams of the last readout, as received (for logs and tests).
        self.frames: list[bytes] = []

    # -- link ----------------------------------------------------------------------------------

    def _note(self, text: str) -> None:
        if self.medium.trace is not None:
            self.medium.trace.note(text)

    def exchange(self, request: bytes, what: str, *, expect_reply: bool = True) -> Frame | None:
        """Send ``request`` and read the answer, repeating it up to ``retries`` times.

        :raises MeterTimeout: no answer after the last repeat.
        :raises FrameError: only broken answers after the last repeat.
        """
        failure: Exception | None = None
        for _attempt in range(self.settings.retries + 1):
            self.medium.write(request)
            if not expect_reply:
                return None
            try:
                return read_frame(
                    self.medium, self.settings.timeout, self.settings.bus_baudrate, what
                )
            except (MeterTimeout, FrameError) as exc:
                failure = exc
                self._discard()
        assert failure is not None
        raise failure

    def _discard(self) -> None:
        discard = getattr(self.medium, "discard_input", None)
        if discard is not None:
            discard()

    def _expect_ack(self, frame: Frame | None, what: str) -> None:
        if frame is None or frame.kind != "ack":
            raise ProtocolError(f"{what}: expected E5h", frame=frame.raw if frame else None)

    def _target(self) -> int:
        """The address to talk to; selects the meter first when it is named by secondary address."""
        if self.settings.secondary_address is not None:
            frame = self.exchange(requests.select_frame(self.settings.secondary_address), "select")
            self._expect_ack(frame, "select")
            return requests.SELECTED
        if self.settings.primary_address is None:
            return _BROADCAST_REPLY
        return self.settings.primary_address

    # -- readout ---------------------------------------------------------------------------------

    def readout(self) -> Readout:
        """Read every telegram of the meter once per connection (see the module docstring)."""
        if self._readout is not None:
            return self._readout
        address = self._target()
        if self.settings.reset == "snd_nke":
            self._expect_ack(self.exchange(requests.snd_nke_frame(address), "SND_NKE"), "SND_NKE")
        elif self.settings.reset == "application_reset":
            frame = self.exchange(requests.application_reset_frame(address), "application reset")
            self._expect_ack(frame, "application reset")
        telegrams: list[Telegram] = []
        self.frames = []
        fcb = True
        while True:
            frame = self.exchange(requests.request_frame(address, fcb), "RSP_UD")
            assert frame is not None
            telegram = parse_telegram(frame)
            if telegrams and telegram.identification != telegrams[0].identification:
                raise ProtocolError(
                    f"telegram {len(telegrams) + 1} comes from meter {telegram.identification}, "
                    f"not {telegrams[0].identification}",
                    frame=frame.raw,
                )
            self._check_secondary(telegram, frame)
            telegrams.append(telegram)
            self.frames.append(frame.raw)
            if not telegram.more_follows or len(telegrams) >= self.settings.max_telegrams:
                break
            fcb = not fcb
        first = telegrams[0]
        records: list[Record] = []
        for telegram in telegrams:
            for record in telegram.records:
                if record.function is not Function.MORE_FOLLOWS:
                    records.append(_renumbered(record, len(records)))
        self._readout = Readout(
            identification=first.identification,
            manufacturer=first.manufacturer,
            version=first.version,
            medium=first.medium,
            access=first.access,
            status=first.status,
            records=records,
            read_at=datetime.now(UTC),
            zone=self.zone,
        )
        for unmapped in self._readout.unmapped():
            self._note(f"record {unmapped.index} kept raw ({unmapped.reason}): {unmapped.raw}")
        return self._readout

    def _check_secondary(self, telegram: Telegram, frame: Frame) -> None:
        wanted = self.settings.secondary_address
        if wanted is None:
            return
        got = telegram.secondary_address
        if any(w != "F" and w != g for w, g in zip(wanted, got, strict=True)):
            raise ProtocolError(f"selected {wanted} but meter {got} answered", frame=frame.raw)

    # -- actions ---------------------------------------------------------------------------------

    def set_clock(self, time: datetime) -> Quality:
        """SND_UD CI 51h with ``04 6D`` (type F, the meter's zone); the meter answers E5h."""
        if time.tzinfo is None or time.utcoffset() is None:
            raise InvalidValue("time", "must be an aware datetime (UTC)")
        local = time.astimezone(self.zone).replace(tzinfo=None) + timedelta(seconds=30)
        address = self._target()
        frame = self.exchange(requests.set_clock_frame(address, type_f(local)), "set clock")
        self._readout = None
        return Quality.VALID if frame is not None and frame.kind == "ack" else Quality.INVALID

    def search(self, mask: str = "FFFFFFFFFFFFFFFF") -> SearchResult:
        """Find the meters matching ``mask`` by secondary-address search (with collisions)."""
        return search_secondary(self, check_mask(mask))

    def scan_primary(self, addresses: Sequence[int] = tuple(range(251))) -> SearchResult:
        """Ask each primary address for data; report who answered (and who collided)."""
        return scan_primary(self, addresses)

    def close(self) -> None:
        """End the connection; close the medium when the connection opened it."""
        self._readout = None
        if self.owns_medium:
            self.medium.close()


def _renumbered(record: Record, index: int) -> Record:
    return Record(
        index,
        record.function,
        record.storage,
        record.tariff,
        record.subunit,
        record.quantity,
        record.unit,
        record.value,
        record.scaler,
        record.coding,
        record.header,
        record.data,
        record.modifiers,
    )


class MbusDriver(Driver):
    """Wired M-Bus meters: heat, water, gas and electricity meters on a bus (EN 13757-2/-3)."""

    name: ClassVar[str] = "mbus"
    settings_model: ClassVar[type[PluginSettings]] = MbusSettings

    @classmethod
    def info(cls) -> DriverInfo:
        """Describe the wired M-Bus driver."""
        return DriverInfo(
            name=cls.name,
            description="Wired M-Bus (EN 13757-2/-3): pyMeterBus requests, pymbusparser records",
            actions=frozenset(
                {
                    Action.READ_REGISTERS,
                    Action.READ_INSTANTANEOUS,
                    Action.READ_BILLING,
                    Action.READ_LOAD_PROFILE,
                    Action.READ_CLOCK,
                    Action.SET_CLOCK,
                }
            ),
            address_syntax="the line: /dev/ttyUSB0 or host:port of an M-Bus gateway",
            settings_model=MbusSettings,
            media=("serial", "tcp"),
        )

    def connect(
        self, address: str, settings: Mapping[str, Any], medium: Medium | None = None
    ) -> MbusConnection:
        """Prepare sessions with the meter (settings checked before any line is opened)."""
        text = address.strip() if isinstance(address, str) else ""
        line = open_line(
            text,
            settings,
            MbusSettings,
            medium,
            serial_defaults=_DEFAULT_LINE,
            timeout=lambda options: max(options.timeout, 2.0),
        )
        return MbusConnection(line.medium, line.options, owns_medium=line.owned)
