"""Protocol drivers: the extension point that talks to meters (DLMS/COSEM, Modbus, IEC 62056-21).

The shape follows OpenMUC's ``DriverService`` and ``Connection``: a :class:`Driver` describes
itself (:meth:`Driver.info`) and opens a :class:`DriverConnection` to one meter
(:meth:`Driver.connect`); the connection performs the actions of :class:`Action`.

Two rules make drivers predictable for the acquisition engine:

* **Quality per value, not exceptions.** A value the meter did not give (timeout, busy, object
  missing, access denied, ...) is returned with its :class:`Quality` and ``value=None``; the
  other values of the same request still arrive.
* **Only a lost link raises** :class:`LinkLost`. The core then reconnects or fails over to the
  backup communication path. An action the driver does not offer raises
  :class:`UnsupportedAction`; a malformed address or setting raises
  :class:`meterhub.errors.InvalidValue`. Both are configuration errors, not meter states.

Every time is an aware :class:`~datetime.datetime` in UTC; OBIS codes are canonical text
``A-B:C.D.E*F`` as :func:`meterhub.identifiers.canonical_obis` writes them.

**Settings** are declared once per driver as a :class:`~meterhub.extensions.settings.PluginSettings`
model (:attr:`Driver.settings_model`, also in :attr:`DriverInfo.settings_model`), which says which
settings are secret and their sizes; :meth:`Driver.connect` parses them *before* it opens
anything, so a bad setting never leaves a line open.

**Load profiles are columnar**: :class:`LoadProfile` holds one :class:`ProfileChannel` per
captured quantity with numpy arrays of interval ends, values and status words, so a profile goes
from the decoded frame to the store without a Python object per value.

**Session state**: :attr:`DriverConnection.state` holds settings to write back after a session
(a DLMS invocation counter); the acquisition engine keeps them as the meter's session state
(apart from its settings) and passes them as settings of the next session.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np
import numpy.typing as npt

from meterhub.errors import MeterHubError
from meterhub.extensions.settings import PluginSettings, SecretSpec

if TYPE_CHECKING:
    from meterhub.extensions.medium import Medium
    from meterhub.extensions.push import PushContent, PushMessage

__all__ = [
    "Action",
    "AuthenticationFailed",
    "BillingPeriod",
    "BillingValues",
    "LoadLimit",
    "ProfileChannel",
    "profile_channel",
    "DeviceError",
    "Driver",
    "DriverConnection",
    "DriverError",
    "DriverInfo",
    "ErrorKind",
    "EventLog",
    "LinkLost",
    "MeterTimeout",
    "ProtocolError",
    "LoadProfile",
    "MeterEvent",
    "Quality",
    "Reading",
    "Submeter",
    "UnsupportedAction",
]


class Quality(StrEnum):
    """The quality flag every value carries (after OpenMUC's ``Flag``).

    The string values are stable: they are stored and shown in the API.
    """

    #: The meter returned the value and it is plausible as read.
    VALID = "valid"
    #: The meter did not answer in time for this value.
    TIMEOUT = "timeout"
    #: The meter (or its communication device) was busy and refused the request.
    DEVICE_BUSY = "device_busy"
    #: The meter has no such object, or no value for the period asked.
    NOT_AVAILABLE = "not_available"
    #: The meter answered, but the answer cannot be decoded or cannot be right.
    INVALID = "invalid"
    #: The association (credentials, access level) does not allow this access.
    ACCESS_DENIED = "access_denied"
    #: The object exists, but the meter does not support this way of accessing it.
    UNSUPPORTED = "unsupported"
    #: Any other error the driver could attribute to this value only.
    UNKNOWN_ERROR = "unknown_error"


class Action(StrEnum):
    """The actions a driver connection may offer; :attr:`DriverInfo.actions` lists its own."""

    READ_LOAD_PROFILE = "read_load_profile"
    READ_REGISTERS = "read_registers"
    READ_INSTANTANEOUS = "read_instantaneous"
    READ_EVENTS = "read_events"
    READ_BILLING = "read_billing"
    READ_CLOCK = "read_clock"
    SET_CLOCK = "set_clock"
    DISCONNECT_SUPPLY = "disconnect_supply"
    RECONNECT_SUPPLY = "reconnect_supply"
    SET_RELAY = "set_relay"
    READ_LOAD_LIMIT = "read_load_limit"
    SET_LOAD_LIMIT = "set_load_limit"
    READ_SUBMETERS = "read_submeters"
    UPLOAD_TARIFF = "upload_tariff"
    UPGRADE_FIRMWARE = "upgrade_firmware"


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (UTC), got naive {value.isoformat()}")


@dataclass(frozen=True, slots=True)
class Reading:
    """One value read from a meter, with its quality.

    ``value`` is the raw number as the meter sent it; the physical value is
    ``value * 10 ** scaler`` in ``unit`` (see :attr:`scaled`). Text values (serial numbers,
    firmware versions) and clock values (aware datetimes) have ``scaler`` 0 and no unit.
    ``timestamp`` is when the value applies: the capture time of a register, the *end* of the
    interval for a load profile value. A value that is not :attr:`Quality.VALID` may be
    ``None``; a valid value never is.
    """

    obis: str
    value: int | float | str | datetime | None
    unit: str | None
    scaler: int
    timestamp: datetime
    quality: Quality = Quality.VALID

    def __post_init__(self) -> None:
        _require_aware("Reading.timestamp", self.timestamp)
        if self.quality is Quality.VALID and self.value is None:
            raise ValueError(f"a valid reading of {self.obis} needs a value")

    @property
    def scaled(self) -> float | None:
        """The physical value ``value * 10 ** scaler``, or ``None`` for non-numeric values."""
        if isinstance(self.value, bool) or not isinstance(self.value, int | float):
            return None
        return self.value * 10.0**self.scaler


_EPOCH = np.datetime64(0, "s")


def _as_array(value: object, dtype: str, name: str, obis: str) -> np.ndarray:
    array = np.asarray(value, dtype=dtype)
    if array.ndim != 1:
        raise ValueError(f"ProfileChannel {obis}: {name} must be one-dimensional")
    return array


@dataclass(frozen=True, eq=False)
class ProfileChannel:
    """One captured quantity of a load profile, in numpy arrays (no Python object per value).

    ``ends`` (``datetime64[s]``, UTC, strictly ascending) are the interval ends; ``values``
    (float64) the raw numbers as the meter sent them — the physical value is
    ``values * 10 ** scaler`` in ``unit`` — with ``NaN`` where the meter gave no value;
    ``status`` (uint32) the meter's status word of each interval (0 when it sends none).
    """

    obis: str
    unit: str | None
    scaler: int
    ends: npt.NDArray[np.datetime64]
    values: npt.NDArray[np.float64]
    status: npt.NDArray[np.uint32]

    def __post_init__(self) -> None:
        ends = _as_array(self.ends, "datetime64[s]", "ends", self.obis)
        values = _as_array(self.values, "float64", "values", self.obis)
        status = _as_array(self.status, "uint32", "status", self.obis)
        if not len(ends) == len(values) == len(status):
            raise ValueError(
                f"ProfileChannel {self.obis}: {len(ends)} ends, {len(values)} values and "
                f"{len(status)} status words must be as many"
            )
        if len(ends) > 1 and not (ends[1:] > ends[:-1]).all():
            raise ValueError(f"ProfileChannel {self.obis}: interval ends must be ascending")
        object.__setattr__(self, "ends", ends)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "status", status)

    def __len__(self) -> int:
        return len(self.values)

    def readings(self) -> list[Reading]:
        """One :class:`Reading` per interval (for people and tests; not the store's path).

        A whole number comes back as ``int``; a missing value as ``None`` with
        :attr:`Quality.NOT_AVAILABLE`.
        """
        seconds = (self.ends - _EPOCH).astype(np.int64).tolist()
        found = []
        for second, value in zip(seconds, self.values.tolist(), strict=True):
            stamp = datetime.fromtimestamp(second, UTC)
            if value != value:  # NaN
                found.append(
                    Reading(self.obis, None, self.unit, self.scaler, stamp, Quality.NOT_AVAILABLE)
                )
                continue
            number: int | float = int(value) if value.is_integer() else value
            found.append(Reading(self.obis, number, self.unit, self.scaler, stamp))
        return found


@dataclass(frozen=True, eq=False)
class LoadProfile:
    """What :meth:`DriverConnection.read_load_profile` returned: columns, not rows.

    ``channels`` holds one :class:`ProfileChannel` per captured quantity (in the meter's capture
    order); ``interval`` is the capture period (``timedelta(0)`` when the meter does not say).
    ``quality`` is the quality of the request as a whole: when the meter did not deliver the
    profile at all (timeout, busy) it says why and ``channels`` is empty.
    """

    interval: timedelta
    channels: tuple[ProfileChannel, ...] = ()
    quality: Quality = Quality.VALID

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(self.channels))
        names = [channel.obis for channel in self.channels]
        if len(set(names)) != len(names):
            raise ValueError(f"LoadProfile has a channel twice: {names}")

    def channel(self, obis: str) -> ProfileChannel:
        """The channel of ``obis``; :class:`KeyError` when the profile has none."""
        for channel in self.channels:
            if channel.obis == obis:
                return channel
        raise KeyError(obis)

    @property
    def values(self) -> int:
        """How many values the profile holds (missing ones included)."""
        return sum(len(channel) for channel in self.channels)

    @property
    def readings(self) -> tuple[Reading, ...]:
        """Every value as a :class:`Reading`, by timestamp then OBIS code (for people and tests)."""
        found = [reading for channel in self.channels for reading in channel.readings()]
        found.sort(key=lambda reading: (reading.timestamp, reading.obis))
        return tuple(found)


def profile_channel(
    obis: str,
    unit: str | None,
    scaler: int,
    ends: Sequence[datetime] | npt.NDArray[Any],
    values: Sequence[float | None] | npt.NDArray[Any],
    status: Sequence[int] | npt.NDArray[Any] | None = None,
) -> ProfileChannel:
    """A :class:`ProfileChannel` from aware datetimes (or ``datetime64``) and values.

    ``status`` defaults to zeros; ``None`` in ``values`` becomes ``NaN``.
    """
    if isinstance(ends, np.ndarray):
        stamps = ends.astype("datetime64[s]")
    else:
        seconds = []
        for end in ends:
            _require_aware("ProfileChannel end", end)
            seconds.append(int(end.timestamp()))
        stamps = np.array(seconds, dtype=np.int64).astype("datetime64[s]")
    if isinstance(values, np.ndarray):
        numbers = values.astype(np.float64)
    else:
        numbers = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    words = np.zeros(len(numbers), np.uint32) if status is None else np.asarray(status, np.uint32)
    return ProfileChannel(obis, unit, scaler, stamps, numbers, words)


@dataclass(frozen=True, slots=True)
class MeterEvent:
    """One entry of a meter's event log.

    ``code`` is the meter's event number (for DLMS the standard event codes, e.g. 1 = power
    down); ``log`` the OBIS code of the log it came from; ``description`` a short English text
    the driver knows for the code (empty if none).
    """

    timestamp: datetime
    code: int
    log: str
    description: str = ""

    def __post_init__(self) -> None:
        _require_aware("MeterEvent.timestamp", self.timestamp)


@dataclass(frozen=True, slots=True)
class EventLog:
    """What :meth:`DriverConnection.read_events` returned: events by time, and the quality."""

    events: tuple[MeterEvent, ...] = ()
    quality: Quality = Quality.VALID


class BillingPeriod(StrEnum):
    """Which billing values :meth:`DriverConnection.read_billing` reads."""

    #: End-of-day values (DLMS daily billing profile ``1-0:98.2.0``).
    DAILY = "daily"
    #: End-of-billing-period values (DLMS ``1-0:98.1.0``, IEC 62056-21 ``*VZ`` historical values).
    MONTHLY = "monthly"


@dataclass(frozen=True, slots=True)
class BillingValues:
    """What :meth:`DriverConnection.read_billing` returned.

    ``readings`` holds the stored billing values (register readings whose ``timestamp`` is the
    end of the billing period they close), ordered by timestamp then OBIS code; ``quality`` is
    the quality of the request as a whole.
    """

    period: BillingPeriod
    readings: tuple[Reading, ...] = ()
    quality: Quality = Quality.VALID


@dataclass(frozen=True, slots=True)
class Submeter:
    """A meter read through the one the connection talks to: what
    :meth:`DriverConnection.read_submeters` returns for each.

    A DSMR P1 electricity meter carries the gas, water and heat meters of its M-Bus channels;
    each is a meter of its own, with its own identity and its own capture times. ``channel`` is
    the channel it is read on (value group B of its OBIS codes, 1..4 for M-Bus);
    ``device_type`` the medium it reports (EN 13757-3: 3 gas, 4 heat, 6 warm water, 7 water;
    ``None`` when not given); ``equipment_id`` its identifier as the meter gives it and
    ``serial_number`` that identifier made readable (a hex-encoded ASCII identifier decoded,
    else the same text), either ``None`` when not given. ``readings`` are its values, each
    stamped with the time the sub-meter captured it.
    """

    channel: int
    device_type: int | None = None
    equipment_id: str | None = None
    serial_number: str | None = None
    readings: tuple[Reading, ...] = ()
    quality: Quality = Quality.VALID


@dataclass(frozen=True, slots=True)
class LoadLimit:
    """The load limiter of a meter (DLMS limiter, class 71).

    ``normal`` and ``emergency`` are the thresholds in the units of the monitored value
    (``unit``, after ``10 ** scaler``); ``active`` the threshold in force. A value the meter did
    not give is ``None``; ``quality`` says whether the limiter could be read at all.
    """

    normal: float | None = None
    emergency: float | None = None
    active: float | None = None
    unit: str | None = None
    scaler: int = 0
    quality: Quality = Quality.VALID


@dataclass(frozen=True)
class DriverInfo:
    """How a driver describes itself (OpenMUC's ``DriverInfo``).

    ``address_syntax`` is a text for people configuring a meter: what an address looks like
    (``"host:port/server-address"``). ``settings_model`` is the driver's settings declaration;
    :attr:`settings_syntax` (one line per setting with its default) and :attr:`secrets` derive
    from it. ``media`` names the :class:`~meterhub.extensions.medium.Medium` kinds the driver
    works over (``tcp``, ``serial``, ``modem``); empty when it needs none.
    """

    name: str
    description: str
    actions: frozenset[Action]
    address_syntax: str
    settings_model: type[PluginSettings] | None = None
    media: tuple[str, ...] = field(default=())

    @property
    def settings_syntax(self) -> str:
        """Every setting with its default and description, one per line."""
        return self.settings_model.syntax() if self.settings_model is not None else ""

    @property
    def secrets(self) -> Mapping[str, SecretSpec]:
        """The settings that are credentials, with their encoding and sizes."""
        found = self.settings_model.secrets() if self.settings_model is not None else {}
        return MappingProxyType(found)


class ErrorKind(StrEnum):
    """The class of a failed session, shown in error groups and statistics."""

    #: The line could not be opened or broke (socket closed, modem hung up, no carrier).
    LINK = "link"
    #: The meter stopped answering within the protocol's time-outs.
    TIMEOUT = "timeout"
    #: Wrong password, key, system title or access level.
    AUTHENTICATION = "authentication"
    #: A frame that cannot be right: bad checksum, truncated, oversized, unexpected.
    PROTOCOL = "protocol"
    #: The meter answered with an error of its own (hardware fault, refused operation).
    DEVICE = "device"
    #: The driver or the meter does not offer what was asked.
    UNSUPPORTED = "unsupported"


class DriverError(MeterHubError):
    """A session-level failure, classified by :class:`ErrorKind`.

    ``frame`` is the offending frame when there is one; the session's
    :class:`~meterhub.extensions.trace.FrameTrace` holds it too, so the debug log shows it.
    """

    kind: ClassVar[ErrorKind] = ErrorKind.DEVICE

    def __init__(self, message: str, *, frame: bytes | None = None) -> None:
        super().__init__(message)
        self.frame = frame


class LinkLost(DriverError):
    """The link to the meter is gone (or could not be established); the core reconnects.

    This is the exception an action raises for a state of the line; per-value problems are
    qualities, not exceptions.
    """

    kind = ErrorKind.LINK


class MeterTimeout(LinkLost):
    """The meter stopped answering mid-session (the line may still be up)."""

    kind = ErrorKind.TIMEOUT


class AuthenticationFailed(DriverError):
    """The meter refused the credentials (password, keys, system title)."""

    kind = ErrorKind.AUTHENTICATION


class ProtocolError(DriverError):
    """A frame was malformed, failed its checksum, was truncated or oversized."""

    kind = ErrorKind.PROTOCOL


class DeviceError(DriverError):
    """The meter reported an error of its own for the whole request."""

    kind = ErrorKind.DEVICE


class UnsupportedAction(DriverError):
    """The driver does not offer this action; check :attr:`DriverInfo.actions` first."""

    kind = ErrorKind.UNSUPPORTED

    def __init__(self, driver: str, action: Action) -> None:
        super().__init__(f"driver {driver!r} does not support the action {action.value!r}")
        self.driver = driver
        self.action = action


class DriverConnection(ABC):
    """An open session with one meter; returned by :meth:`Driver.connect`.

    The reading actions and the clock are abstract: every driver implements them, raising
    :class:`UnsupportedAction` (through :meth:`unsupported`) for what its meters cannot do. The
    control actions (supply switch, relays, tariffs, firmware) are optional and raise
    :class:`UnsupportedAction` unless overridden. A connection is used by one thread at a time
    and is a context manager that calls :meth:`close`.
    """

    #: The driver name used in :class:`UnsupportedAction` messages.
    driver_name: ClassVar[str] = ""

    def unsupported(self, action: Action) -> UnsupportedAction:
        """The error to raise for ``action``: ``raise self.unsupported(Action.READ_EVENTS)``."""
        return UnsupportedAction(self.driver_name or type(self).__name__, action)

    # -- reading -------------------------------------------------------------------------

    @abstractmethod
    def read_load_profile(self, start: datetime, end: datetime) -> LoadProfile:
        """Read the load profile for the intervals ending in ``(start, end]``."""

    @abstractmethod
    def read_registers(self, obis_codes: Sequence[str]) -> list[Reading]:
        """Read registers: one :class:`Reading` per code, in the order asked.

        A code the meter does not have gives a reading with :attr:`Quality.NOT_AVAILABLE`.
        """

    @abstractmethod
    def read_instantaneous(self) -> list[Reading]:
        """Read the instantaneous values the driver knows (voltages, currents, power)."""

    @abstractmethod
    def read_events(self, start: datetime, end: datetime) -> EventLog:
        """Read the event log entries with timestamps in ``[start, end)``."""

    @abstractmethod
    def read_clock(self) -> Reading:
        """Read the meter clock: a reading of ``0-0:1.0.0*255`` whose value is the meter time.

        Its ``timestamp`` is the system time when the value was read, so the difference is the
        clock deviation.
        """

    @abstractmethod
    def set_clock(self, time: datetime) -> Quality:
        """Set the meter clock to ``time``; :attr:`Quality.VALID` when the meter accepted it."""

    # -- optional control actions ------------------------------------------------------------

    def disconnect_supply(self) -> Quality:
        """Open the supply breaker (disconnect control ``0-0:96.3.10*255``)."""
        raise self.unsupported(Action.DISCONNECT_SUPPLY)

    def reconnect_supply(self) -> Quality:
        """Close the supply breaker again."""
        raise self.unsupported(Action.RECONNECT_SUPPLY)

    def set_relay(self, relay: int, closed: bool) -> Quality:
        """Switch auxiliary relay number ``relay`` (1-based) closed or open."""
        raise self.unsupported(Action.SET_RELAY)

    def read_billing(
        self, start: datetime, end: datetime, period: BillingPeriod = BillingPeriod.MONTHLY
    ) -> BillingValues:
        """Read the billing values of ``period`` stored for period ends in ``[start, end]``."""
        raise self.unsupported(Action.READ_BILLING)

    def read_submeters(self) -> list[Submeter]:
        """Read the meters this one carries (gas and water meters on a P1 meter's M-Bus
        channels), one :class:`Submeter` each, by channel."""
        raise self.unsupported(Action.READ_SUBMETERS)

    def read_load_limit(self) -> LoadLimit:
        """Read the load limiter's thresholds."""
        raise self.unsupported(Action.READ_LOAD_LIMIT)

    def set_load_limit(self, normal: float, emergency: float | None = None) -> Quality:
        """Write the limiter's normal (and emergency) threshold, in the monitored value's units."""
        raise self.unsupported(Action.SET_LOAD_LIMIT)

    def upload_tariff(self, calendar: Mapping[str, Any]) -> Quality:
        """Write a time-of-use calendar (activity calendar); ``calendar`` is plain JSON data."""
        raise self.unsupported(Action.UPLOAD_TARIFF)

    def upgrade_firmware(self, image: bytes, version: str) -> Quality:
        """Transfer and activate the firmware ``image`` that identifies as ``version``."""
        raise self.unsupported(Action.UPGRADE_FIRMWARE)

    # -- session -------------------------------------------------------------------------------

    @property
    def state(self) -> Mapping[str, str]:
        """Settings the next session needs back (the session state).

        Empty unless the protocol carries state across sessions (a DLMS HLS invocation
        counter, ``{"invocation_counter": "42"}``). The acquisition engine stores it as the
        meter's session state (not in its settings) in the same transaction as the session's
        data, and passes it as settings of the next session; a setting declared with
        :func:`~meterhub.extensions.settings.session_counter` is reserved in blocks before each
        session so it never repeats. Read it after :meth:`close` too.
        """
        return MappingProxyType({})

    @abstractmethod
    def close(self) -> None:
        """End the session; never raises, even when the link is already gone."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class Driver(ABC):
    """A protocol driver: describes itself and connects to meters.

    A subclass sets :attr:`name`, the short name used in meter configuration (``dlms``,
    ``modbus``, ``iec62056_21``). The core creates one instance with no arguments per worker and
    may call :meth:`connect` from several threads, so keep per-meter state in the connection.
    The constructor and the module must do no I/O: ports and sockets are opened in
    :meth:`connect` (or by the medium).
    """

    #: The contribution hook that collects subclasses (see :mod:`meterhub.hookspecs`).
    hook: ClassVar[str] = "register_drivers"
    #: The class attribute that names a contribution (:attr:`name`).
    key: ClassVar[str] = "name"
    #: The short, user-visible name that goes in configuration.
    name: ClassVar[str]
    #: The driver's settings declaration (also :attr:`DriverInfo.settings_model`); every
    #: built-in driver has one, and the inventory takes secret declarations from it.
    settings_model: ClassVar[type[PluginSettings] | None] = None

    @classmethod
    @abstractmethod
    def info(cls) -> DriverInfo:
        """Describe the driver; ``info().name`` equals :attr:`name`."""

    @classmethod
    def parse_settings(cls, settings: Mapping[str, Any] | None) -> PluginSettings | None:
        """The typed settings; :class:`~meterhub.errors.InvalidValue` names a bad one.

        :meth:`connect` calls this before it opens anything. ``None`` for a driver without a
        :attr:`settings_model`.
        """
        return cls.settings_model.parse(settings) if cls.settings_model is not None else None

    #: Whether the driver reads messages that meters push (:meth:`read_push`).
    receives_push: ClassVar[bool] = False

    def read_push(self, medium: Medium, timeout: float) -> PushMessage:
        """Read one message a meter pushed over ``medium`` (a line the meter opened).

        Drivers with :attr:`receives_push` override it; the others refuse.

        :raises ProtocolError: the bytes are not a message the driver understands.
        :raises LinkLost: the line closed, or no whole message came within ``timeout``.
        """
        raise ProtocolError(f"driver {self.name!r} receives no pushed messages")

    def decode_push(self, message: PushMessage, settings: Mapping[str, Any]) -> PushContent:
        """What ``message`` means for the meter with ``settings`` (its push layout).

        :raises meterhub.errors.InvalidValue: a setting is malformed.
        :raises ProtocolError: the message does not fit the meter's push layout.
        """
        raise ProtocolError(f"driver {self.name!r} receives no pushed messages")

    def decode_pushes(
        self, messages: Sequence[PushMessage], settings: Sequence[Mapping[str, Any]]
    ) -> list[PushContent | DriverError | MeterHubError]:
        """:meth:`decode_push` of many messages at once (``settings[i]`` for ``messages[i]``),
        in order; a message that fails gets its error in its place instead of raising.

        A stream of many meters' messages (a wireless M-Bus receiver) calls this; a driver with
        a faster bulk path overrides it.
        """
        results: list[PushContent | DriverError | MeterHubError] = []
        for message, meter_settings in zip(messages, settings, strict=True):
            try:
                results.append(self.decode_push(message, meter_settings))
            except (DriverError, MeterHubError) as exc:
                results.append(exc)
        return results

    @abstractmethod
    def connect(
        self, address: str, settings: Mapping[str, str], medium: Medium | None = None
    ) -> DriverConnection:
        """Open a session with the meter at ``address``.

        :param address: the meter's address in the syntax of :attr:`DriverInfo.address_syntax`.
        :param settings: the meter's driver settings (credentials already decrypted).
        :param medium: the transport the core opened for this path, or ``None`` when the driver
            needs none or opens its own.
        :raises LinkLost: the meter cannot be reached.
        :raises meterhub.errors.InvalidValue: the address or a setting is malformed (checked
            before any line is opened; a line the driver opened is closed on every failure).
        """
