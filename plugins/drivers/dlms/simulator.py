"""The DLMS/COSEM simulator: meters on gurux-dlms' server classes over TCP and pseudo-terminals.

Each simulated meter is a :class:`~meterhub.plugins.drivers.simulated.SimulatedMeter` (values
are a pure function of the serial and the time, so tests know what they must read) behind a
gurux ``GXDLMSSecureServer`` patched by :mod:`.gurux_compat`. A meter serves

* over TCP on loopback with the **wrapper** (``framing=wrapper``, the default) or **HDLC**
  (``framing=hdlc``), one listening port per meter, a fresh association per connection;
* or over a **pseudo-terminal** with HDLC (``transport=serial``): the endpoint address is the
  pty's device path, which the driver opens like a serial port.

Options (``Simulator.start(options=...)``): ``framing`` (``wrapper``/``hdlc``), ``transport``
(``tcp``/``serial``), ``authentication`` (``none``/``low``/``high``), ``serial_prefix``
(default ``DLMS-``). Meter serials are ``<prefix>0001``, ``<prefix>0002``, ...

Objects (logical name referencing, client address 1 for the configured authentication, 16
for the public client without authentication, server logical address 1, HDLC physical
address 17):

==================  =====  ===============================================================
OBIS                class  content
==================  =====  ===============================================================
0-0:1.0.0*255       8      clock: system time + the meter's drift (settable)
0-0:42.0.0*255      1      logical device name ``MHS`` + serial
0-0:96.1.0*255      1      serial number
1-0:0.2.0*255       1      firmware version
0-0:43.1.0*255      1      the invocation counter the meter expects next (public client)
1-0:1.8.0*255       3      active import, Wh, scaler 0 (``SimulatedMeter.active_energy``)
1-0:2.8.0*255       3      active export, raw in 10 Wh (scaler 1)
1-0:3.8.0*255       3      reactive energy, varh, scaler 0
1-0:1.7.0*255       3      active power, W
1-0:32.7.0*255      3      voltage L1, scaler −1 V
1-0:31.7.0*255      3      current L1, scaler −2 A
1-0:1.29.0*255      3      active energy of the last quarter-hour, Wh
1-0:3.29.0*255      3      reactive energy of the last quarter-hour, varh
1-0:1.6.0*255       4      maximum demand of the UTC day so far, W, with capture time
1-0:1.4.0*255       5      demand register: current and last quarter-hour average, W
1-0:99.1.0*255      7      load profile: clock, 1-0:1.29.0, 1-0:3.29.0 every 15 min (40 days)
1-0:98.2.0*255      7      daily billing: clock, 1-0:1.8.0, 1-0:2.8.0 at 00:00 UTC (400 days)
1-0:98.1.0*255      7      monthly billing: same columns on the 1st at 00:00 UTC (24 months)
0-0:99.98.0*255     7      event log: clock, 0-0:96.11.0 event code (1 down, 2 up; 60 days)
0-0:96.11.0*255     1      last event code
0-0:96.3.10*255     70     disconnect control (methods 1 disconnect, 2 reconnect)
0-0:17.0.0*255      71     limiter on 1-0:1.7.0 (thresholds writable)
0-0:13.0.0*255      20     activity calendar (passive writable, method 1 activates)
0-0:44.0.0*255      18     image transfer (methods 1–4; the received image is recorded)
1-0:96.50.0*255     1      exists but no association may read it (access denied)
==================  =====  ===============================================================

Profiles are selectable by range (on the clock column) and by entry; they always return every
column. Interval timestamps are interval *ends* in UTC, as the driver's readings.

**Image transfer** (firmware upgrade). The meter records what it receives in
:attr:`MeterState.image` (an :class:`ImageState`): the identifier, the declared size, the
blocks; :attr:`ImageState.received` is the image as the blocks put it together. Verification
(method 3) succeeds when every block arrived and their sizes add up to the declared size;
activation (method 4) needs a verified image and makes its identifier the firmware version
(``1-0:0.2.0``). More options: ``image_transfer`` (``yes`` default; ``no``: the meter has no
image transfer object; ``disabled``: image_transfer_enabled is false), ``image_block_size``
(default 192), ``image_verify`` (``ok`` default; ``fail``: verification always fails, as for a
bad signature), ``image_busy`` (seconds verification and activation take: the methods answer
temporary-failure and image_transfer_status tells when they are done; default 0),
``image_lose_block`` (a block number the meter loses the first time it arrives).
"""

from __future__ import annotations

import calendar as _calendar
import hashlib
import os
import selectors
import socket
import threading
import time
import tty
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ClassVar

from gurux_dlms import GXByteBuffer, GXDateTime, GXDLMSClient
from gurux_dlms.enums import (
    Authentication,
    DataType,
    InterfaceType,
    Unit,
)
from gurux_dlms.enums.AccessMode import AccessMode
from gurux_dlms.enums.ErrorCode import ErrorCode
from gurux_dlms.enums.MethodAccessMode import MethodAccessMode
from gurux_dlms.enums.Security import Security
from gurux_dlms.enums.SourceDiagnostic import SourceDiagnostic
from gurux_dlms.internal._GXCommon import _GXCommon
from gurux_dlms.objects import (
    GXDLMSActivityCalendar,
    GXDLMSClock,
    GXDLMSData,
    GXDLMSDemandRegister,
    GXDLMSDisconnectControl,
    GXDLMSExtendedRegister,
    GXDLMSLimiter,
    GXDLMSProfileGeneric,
    GXDLMSRegister,
)
from gurux_dlms.objects.enums import ImageTransferStatus
from gurux_dlms.objects.GXDLMSImageActivateInfo import GXDLMSImageActivateInfo

from meterhub.extensions.driverkit import SimulatedMeter
from meterhub.extensions.simulator import Faults, RunningFleet, SimulatedEndpoint, Simulator
from meterhub.plugins.drivers.dlms.gurux_compat import CompatImageTransfer, CompatServer

__all__ = [
    "CLIENT_MANAGEMENT",
    "CLIENT_PUBLIC",
    "PHYSICAL_ADDRESS",
    "DlmsFleet",
    "DlmsSimulator",
    "ImageState",
    "MeterState",
    "meter_secrets",
]

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
_AUTH_LEVELS = {"none": Authentication.NONE, "low": Authentication.LOW}
_AUTH_LEVELS["high"] = Authentication.HIGH_GMAC


def _utc(seconds: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)


def _cosem(seconds: int) -> GXDateTime:
    return GXDateTime(_utc(seconds).replace(tzinfo=timezone(timedelta(0))))


def meter_secrets(serial: str) -> dict[str, str]:
    """The credentials of simulated meter ``serial``: password, keys and system titles (hex).

    Derived from the serial so that every run (and the credential store of ``make demo``) uses
    the same ones.
    """
    digest = hashlib.sha256(f"dlms-secrets|{serial}".encode()).digest()
    return {
        "password": digest[:4].hex().upper(),
        "authentication_key": digest[4:20].hex().upper(),
        "block_cipher_key": hashlib.sha256(f"dlms-bck|{serial}".encode())
        .digest()[:16]
        .hex()
        .upper(),
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


# -- live COSEM objects: values computed when read ---------------------------------------------


class _LiveClock(GXDLMSClock):
    def __init__(self, state: MeterState) -> None:
        super().__init__("0.0.1.0.0.255")
        self.state = state
        self.timeZone = 0
        self.deviation = 0

    def getValue(self, settings: Any, e: Any) -> Any:
        if e.index == 2:
            self.time = _cosem(int(self.state.meter_time()))
        return super().getValue(settings, e)

    def setValue(self, settings: Any, e: Any) -> None:
        super().setValue(settings, e)
        if e.index == 2 and isinstance(self.time, GXDateTime) and self.time.value:
            moment = self.time.value
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            self.state.set_meter_time(moment.timestamp())


class _LiveRegister(GXDLMSRegister):
    def __init__(
        self, ln: str, source: Callable[[int], int], unit: Unit, exponent: int, dtype: DataType
    ) -> None:
        super().__init__(ln)
        self.source = source
        self.unit = unit
        self.scaler = 10.0**exponent
        self.setDataType(2, dtype)

    def getValue(self, settings: Any, e: Any) -> Any:
        if e.index == 2:
            self.value = self.source(int(time.time()))
        return super().getValue(settings, e)


class _LiveData(GXDLMSData):
    def __init__(self, ln: str, source: Callable[[], Any], dtype: DataType) -> None:
        super().__init__(ln)
        self.source = source
        self.setDataType(2, dtype)

    def getValue(self, settings: Any, e: Any) -> Any:
        if e.index == 2:
            self.value = self.source()
        return super().getValue(settings, e)


class _MaxDemand(GXDLMSExtendedRegister):
    def __init__(self, state: MeterState) -> None:
        super().__init__("1.0.1.6.0.255")
        self.state = state
        self.unit = Unit.ACTIVE_POWER
        self.scaler = 1.0
        self.setDataType(2, DataType.UINT32)

    def getValue(self, settings: Any, e: Any) -> Any:
        now = int(time.time())
        day = now - now % _DAY
        hours = range(day, now + 1, 3600)
        peak = max(hours, key=lambda hour: (self.state.model.power(hour), -hour))
        self.value = self.state.model.power(peak)
        self.captureTime = _cosem(peak)
        self.status = 0
        return super().getValue(settings, e)


class _Demand(GXDLMSDemandRegister):
    def __init__(self, state: MeterState) -> None:
        super().__init__("1.0.1.4.0.255")
        self.state = state
        self.unit = Unit.ACTIVE_POWER
        self.scaler = 1.0
        self.period = _QUARTER
        self.numberOfPeriods = 1
        self.setDataType(2, DataType.UINT32)
        self.setDataType(3, DataType.UINT32)

    def getValue(self, settings: Any, e: Any) -> Any:
        now = int(time.time())
        start = now - now % _QUARTER
        self.currentAverageValue = self.state.model.power(now)
        self.lastAverageValue = self.state.model.power(start - 1)
        self.captureTime = _cosem(start)
        self.startTimeCurrent = _cosem(start)
        self.status = 0
        return super().getValue(settings, e)


@dataclass(frozen=True)
class _Column:
    obj: Any
    attribute: int
    dtype: DataType


class _LiveProfile(GXDLMSProfileGeneric):
    """A profile whose rows are computed for the selection (gurux's selection: defect 12)."""

    def __init__(
        self,
        ln: str,
        period: int,
        columns: list[_Column],
        edges: Callable[[int], list[int]],
        row: Callable[[int], list[Any]],
    ) -> None:
        super().__init__(ln)
        self.capturePeriod = period
        self.columns = columns
        self.edges = edges
        self.row = row
        for column in columns:
            self.addCaptureObject(column.obj, column.attribute, 0)

    def _selected(self, e: Any) -> list[int]:
        edges = self.edges(int(time.time()))
        if e.selector == 1 and e.parameters:
            first = _selection_time(e.parameters[1])
            last = _selection_time(e.parameters[2])
            return [edge for edge in edges if first <= edge <= last]
        if e.selector == 2 and e.parameters:
            start = max(int(e.parameters[0]), 1)
            stop = int(e.parameters[1]) or len(edges)
            return edges[start - 1 : stop]
        return edges

    def getValue(self, settings: Any, e: Any) -> Any:
        if e.index == 7:
            self.entriesInUse = len(self.edges(int(time.time())))
        if e.index == 8:
            self.profileEntries = len(self.edges(int(time.time())))
        if e.index != 2:
            return super().getValue(settings, e)
        selected = self._selected(e)
        data = GXByteBuffer()
        data.setUInt8(DataType.ARRAY)
        _GXCommon.setObjectCount(len(selected), data)
        for edge in selected:
            data.setUInt8(DataType.STRUCTURE)
            _GXCommon.setObjectCount(len(self.columns), data)
            for column, value in zip(self.columns, self.row(edge), strict=True):
                _GXCommon.setData(settings, data, column.dtype, value)
        e.byteArray = True
        return data.array()


def _selection_time(value: Any) -> int:
    if isinstance(value, bytes | bytearray):
        value = GXDLMSClient.changeType(bytearray(value), DataType.DATETIME)
    if isinstance(value, GXDateTime):
        value = value.value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int(value.timestamp())
    return int(value)


class _Disconnector(GXDLMSDisconnectControl):
    def __init__(self, state: MeterState) -> None:
        super().__init__("0.0.96.3.10.255")
        self.state = state
        self.controlMode = 1

    def getValue(self, settings: Any, e: Any) -> Any:
        with self.state.lock:
            connected = self.state.supply_connected
        self.outputState = connected
        self.controlState = 1 if connected else 0
        return super().getValue(settings, e)

    def invoke(self, settings: Any, e: Any) -> Any:
        if e.index not in (1, 2):
            e.error = ErrorCode.READ_WRITE_DENIED
            return None
        with self.state.lock:
            self.state.supply_connected = e.index == 2
        return None


class _Limiter(GXDLMSLimiter):
    def __init__(self, state: MeterState, monitored: Any) -> None:
        super().__init__("0.0.17.0.0.255")
        self.state = state
        self.monitoredValue = monitored
        self.monitoredAttributeIndex = 2
        self.minOverThresholdDuration = 60
        self.minUnderThresholdDuration = 60

    def getValue(self, settings: Any, e: Any) -> Any:
        with self.state.lock:
            thresholds = dict(self.state.thresholds)
        self.thresholdActive, self.thresholdNormal, self.thresholdEmergency = (
            thresholds[3],
            thresholds[4],
            thresholds[5],
        )
        return super().getValue(settings, e)

    def getDataType(self, index: int) -> Any:
        if index in (3, 4, 5):
            return DataType.UINT32
        return super().getDataType(index)

    def setValue(self, settings: Any, e: Any) -> None:
        if e.index in (3, 4, 5):
            with self.state.lock:
                self.state.thresholds[e.index] = int(e.value)
                if e.index == 4:
                    self.state.thresholds[3] = int(e.value)
            return
        super().setValue(settings, e)


class _Calendar(GXDLMSActivityCalendar):
    _ATTRIBUTES: ClassVar[dict[int, str]] = {
        2: "calendarNameActive",
        3: "seasonProfileActive",
        4: "weekProfileTableActive",
        5: "dayProfileTableActive",
        6: "calendarNamePassive",
        7: "seasonProfilePassive",
        8: "weekProfileTablePassive",
        9: "dayProfileTablePassive",
        10: "time",
    }

    def __init__(self, state: MeterState) -> None:
        super().__init__("0.0.13.0.0.255")
        self.state = state
        with state.lock:
            for index, value in state.calendar.items():
                setattr(self, self._ATTRIBUTES[index], value)

    def setValue(self, settings: Any, e: Any) -> None:
        super().setValue(settings, e)
        if e.index in self._ATTRIBUTES:
            with self.state.lock:
                self.state.calendar[e.index] = getattr(self, self._ATTRIBUTES[e.index])

    def invoke(self, settings: Any, e: Any) -> Any:
        if e.index != 1:
            e.error = ErrorCode.READ_WRITE_DENIED
            return None
        with self.state.lock:
            for active, passive in ((2, 6), (3, 7), (4, 8), (5, 9)):
                value = getattr(self, self._ATTRIBUTES[passive])
                setattr(self, self._ATTRIBUTES[active], value)
                self.state.calendar[active] = value
        return None


class _ImageTransfer(CompatImageTransfer):
    """Image transfer on :attr:`MeterState.image`: records blocks, verifies, activates."""

    def __init__(self, state: MeterState) -> None:
        super().__init__("0.0.44.0.0.255")
        self.state = state

    def _load(self) -> ImageState:
        image = self.state.image
        image.settle()
        self.imageBlockSize = image.block_size
        self.imageTransferEnabled = image.enabled
        self.imageTransferStatus = image.status
        self.identifier = image.identifier
        self.imageSize = image.size
        self.blocks = dict(image.blocks)
        self.imageActivateInfo = [
            GXDLMSImageActivateInfo(size, bytearray(ident), bytearray())
            for ident, size in image.known.items()
        ]
        self._mark()
        return image

    def getValue(self, settings: Any, e: Any) -> Any:
        with self.state.lock:
            self._load()
        return super().getValue(settings, e)

    def invoke(self, settings: Any, e: Any) -> Any:
        with self.state.lock:
            image = self._load()
            if e.index == 1 and not image.enabled:
                e.error = ErrorCode.TEMPORARY_FAILURE
                return None
            if e.index == 2 and image.status != ImageTransferStatus.IMAGE_TRANSFER_INITIATED:
                e.error = ErrorCode.OTHER_REASON
                return None
            if e.index in (1, 2):
                super().invoke(settings, e)
                number = int(e.parameters[0]) if e.index == 2 and not e.error else None
                if number is not None and number in image.lose:
                    image.lose.discard(number)
                    self.blocks.pop(number, None)
                image.identifier, image.size = self.identifier, int(self.imageSize)
                image.blocks, image.status = dict(self.blocks), int(self.imageTransferStatus)
                if e.index == 1:
                    image.known[image.identifier] = image.size
                return None
            if e.index == 3:
                return self._run(
                    e,
                    image,
                    ImageTransferStatus.IMAGE_VERIFICATION_INITIATED,
                    ImageTransferStatus.IMAGE_VERIFICATION_SUCCESSFUL
                    if image.verified()
                    else ImageTransferStatus.IMAGE_VERIFICATION_FAILED,
                )
            if e.index == 4:
                if image.status != ImageTransferStatus.IMAGE_VERIFICATION_SUCCESSFUL:
                    e.error = ErrorCode.OTHER_REASON
                    return None
                return self._run(
                    e,
                    image,
                    ImageTransferStatus.IMAGE_ACTIVATION_INITIATED,
                    ImageTransferStatus.IMAGE_ACTIVATION_SUCCESSFUL,
                )
        e.error = ErrorCode.READ_WRITE_DENIED
        return None

    @staticmethod
    def _run(e: Any, image: ImageState, running: int, outcome: int) -> None:
        """Verification or activation: at once, or answered temporary-failure while busy."""
        if image.done_at:
            e.error = ErrorCode.TEMPORARY_FAILURE  # the previous one is still running
            return None
        if image.busy > 0:
            image.status, image.outcome = running, outcome
            image.done_at = time.monotonic() + image.busy
            e.error = ErrorCode.TEMPORARY_FAILURE
            return None
        image._finish(outcome)
        if outcome in (
            ImageTransferStatus.IMAGE_VERIFICATION_FAILED,
            ImageTransferStatus.IMAGE_ACTIVATION_FAILED,
        ):
            e.error = ErrorCode.OTHER_REASON
        return None


def _build_objects(state: MeterState) -> list[Any]:
    model = state.model
    clock = _LiveClock(state)
    event_code = _LiveData("0.0.96.11.0.255", lambda: _last_event(model), DataType.UINT16)
    active = _LiveRegister(
        "1.0.1.8.0.255", model.active_energy, Unit.ACTIVE_ENERGY, 0, DataType.UINT32
    )
    export = _LiveRegister(
        "1.0.2.8.0.255", lambda at: state.export_energy(at) // 10, Unit.ACTIVE_ENERGY, 1,
        DataType.UINT32,
    )  # fmt: skip
    reactive = _LiveRegister(
        "1.0.3.8.0.255", model.reactive_energy, Unit.REACTIVE_ENERGY, 0, DataType.UINT32
    )
    power = _LiveRegister("1.0.1.7.0.255", model.power, Unit.ACTIVE_POWER, 0, DataType.INT32)
    voltage = _LiveRegister("1.0.32.7.0.255", model.voltage, Unit.VOLTAGE, -1, DataType.UINT16)
    current = _LiveRegister("1.0.31.7.0.255", model.current, Unit.CURRENT, -2, DataType.UINT16)

    def last_quarter(register: Callable[[int], int]) -> Callable[[int], int]:
        def value(at: int) -> int:
            edge = at - at % _QUARTER
            return register(edge) - register(edge - _QUARTER)

        return value

    lp_active = _LiveRegister(
        "1.0.1.29.0.255", last_quarter(model.active_energy), Unit.ACTIVE_ENERGY, 0,
        DataType.UINT32,
    )  # fmt: skip
    lp_reactive = _LiveRegister(
        "1.0.3.29.0.255", last_quarter(model.reactive_energy), Unit.REACTIVE_ENERGY, 0,
        DataType.UINT32,
    )  # fmt: skip
    time_column = _Column(clock, 2, DataType.OCTET_STRING)

    def quarter_edges(now: int) -> list[int]:
        last = now - now % _QUARTER
        return list(range(last - (_LP_DAYS * 96 - 1) * _QUARTER, last + 1, _QUARTER))

    load_profile = _LiveProfile(
        "1.0.99.1.0.255",
        _QUARTER,
        [time_column, _Column(lp_active, 2, DataType.UINT32),
         _Column(lp_reactive, 2, DataType.UINT32)],
        quarter_edges,
        lambda edge: [
            _cosem(edge),
            model.active_energy(edge) - model.active_energy(edge - _QUARTER),
            model.reactive_energy(edge) - model.reactive_energy(edge - _QUARTER),
        ],
    )  # fmt: skip

    def billing_row(edge: int) -> list[Any]:
        return [_cosem(edge), model.active_energy(edge), state.export_energy(edge) // 10]

    def day_edges(now: int) -> list[int]:
        last = now - now % _DAY
        return list(range(last - (_DAILY_DAYS - 1) * _DAY, last + 1, _DAY))

    def month_edges(now: int) -> list[int]:
        moment = _utc(now)
        year, month = moment.year, moment.month
        edges = []
        for _ in range(_MONTHS):
            edges.append(_calendar.timegm((year, month, 1, 0, 0, 0)))
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        return sorted(edges)

    billing_columns = [
        time_column,
        _Column(active, 2, DataType.UINT32),
        _Column(export, 2, DataType.UINT32),
    ]
    daily = _LiveProfile("1.0.98.2.0.255", _DAY, billing_columns, day_edges, billing_row)
    monthly = _LiveProfile("1.0.98.1.0.255", 0, billing_columns, month_edges, billing_row)

    def event_edges(now: int) -> list[int]:
        return [
            int(event.timestamp.timestamp())
            for event in model.events(now - _EVENT_DAYS * _DAY, now + 1)
        ]

    def event_row(at: int) -> list[Any]:
        codes = [event.code for event in model.events(at, at + 1)]
        return [_cosem(at), codes[0] if codes else 0]

    events = _LiveProfile(
        "0.0.99.98.0.255", 0,
        [time_column, _Column(event_code, 2, DataType.UINT16)],
        event_edges, event_row,
    )  # fmt: skip

    def text(value: str) -> Callable[[], bytes]:
        return lambda: value.encode()

    denied = GXDLMSData(_DENIED)
    denied.value = 0
    return [
        clock,
        _LiveData("0.0.42.0.0.255", text("MHS" + state.serial), DataType.OCTET_STRING),
        _LiveData("0.0.96.1.0.255", text(state.serial), DataType.OCTET_STRING),
        _LiveData("1.0.0.2.0.255", lambda: state.firmware().encode(), DataType.OCTET_STRING),
        _LiveData(
            "0.0.43.1.0.255", lambda: state.invocation_counter + 1, DataType.UINT32
        ),
        active, export, reactive, power, voltage, current, lp_active, lp_reactive,
        _MaxDemand(state), _Demand(state),
        load_profile, daily, monthly, events, event_code,
        _Disconnector(state), _Limiter(state, power), _Calendar(state), denied,
    ] + ([_ImageTransfer(state)] if state.image.present else [])  # fmt: skip


def _last_event(model: SimulatedMeter) -> int:
    now = int(time.time())
    found = model.events(now - _EVENT_DAYS * _DAY, now + 1)
    return found[-1].code if found else 0


# -- the server of one connection --------------------------------------------------------------


def _glo_invocation_counter(apdu: bytes) -> int | None:
    """The invocation counter of a ciphered AARQ (its glo-initiate-request), if any."""
    at = apdu.find(b"\xbe")
    while at >= 0:
        # user-information: BE len 04 len 21 len SC IC(4)
        if apdu[at + 2 : at + 3] == b"\x04" and apdu[at + 4 : at + 5] == b"\x21":
            start = at + 7
            if len(apdu) >= start + 4:
                return int.from_bytes(apdu[start : start + 4], "big")
        at = apdu.find(b"\xbe", at + 1)
    return None


class _MeterServer(CompatServer):
    """One association's server: the meter's rules for addresses, authentication and access."""

    def __init__(self, state: MeterState, interface_type: InterfaceType) -> None:
        self.state = state
        secrets = state.secrets
        super().__init__(interface_type, bytes.fromhex(secrets["server_system_title"]))
        self._level = _AUTH_LEVELS[state.authentication]
        self._client = 0
        self._replayed = False
        cipher = self.settings.cipher
        key = bytes.fromhex(secrets["authentication_key"])
        if state.faults.wrong_password:
            key = bytes(reversed(key))
        cipher.authenticationKey = bytearray(key)
        cipher.blockCipherKey = bytearray(bytes.fromhex(secrets["block_cipher_key"]))
        cipher.security = Security.NONE
        if interface_type == InterfaceType.HDLC:
            self._address = GXDLMSClient.getServerAddress(LOGICAL_ADDRESS, PHYSICAL_ADDRESS)
        else:
            self._address = LOGICAL_ADDRESS
        self.add_objects(_build_objects(state))

    def reply(self, data: bytes, connection_info: Any = None) -> bytes | None:
        """Check the invocation counter of a ciphered AARQ, then let gurux answer."""
        counter = _glo_invocation_counter(data) if b"\x60" in data[:24] else None
        if counter is not None:
            with self.state.lock:
                self._replayed = counter <= self.state.invocation_counter
                if not self._replayed:
                    self.state.invocation_counter = counter
        return super().reply(data, connection_info)

    # -- GXDLMSServer callbacks (gurux's names) -------------------------------------------------

    def isTarget(self, serverAddress: int, clientAddress: int) -> bool:
        self._client = clientAddress
        return serverAddress == self._address and clientAddress in (
            CLIENT_MANAGEMENT,
            CLIENT_PUBLIC,
        )

    def onValidateAuthentication(self, authentication: int, password: Any) -> int:
        if self._client == CLIENT_PUBLIC:
            ok = authentication == Authentication.NONE
        elif authentication != self._level:
            ok = False
        elif authentication == Authentication.LOW:
            expected = self.state.secrets["password"].encode()
            if self.state.faults.wrong_password:
                expected += b"!"
            ok = bytes(password or b"") == expected
        elif authentication == Authentication.HIGH_GMAC:
            ok = not self._replayed
        else:
            ok = True
        if ok:
            return SourceDiagnostic.NONE
        return SourceDiagnostic.AUTHENTICATION_FAILURE

    def onGetAttributeAccess(self, arg: Any) -> int:
        ln = arg.target.logicalName
        if ln == _DENIED:
            return AccessMode.NO_ACCESS
        if self._client == CLIENT_PUBLIC and ln not in _PUBLIC:
            return AccessMode.NO_ACCESS
        if self._client != CLIENT_PUBLIC and arg.index in _WRITABLE.get(ln, ()):
            return AccessMode.READ_WRITE
        return AccessMode.READ

    def onGetMethodAccess(self, arg: Any) -> int:
        ln = arg.target.logicalName
        if ln == "0.0.40.0.0.255" and arg.index == 1:
            return MethodAccessMode.ACCESS
        if self._client != CLIENT_PUBLIC and arg.index in _METHODS.get(ln, ()):
            return MethodAccessMode.ACCESS
        return MethodAccessMode.NO_ACCESS

    def onFindObject(self, objectType: Any, sn: int, ln: str) -> None:
        return None

    def onPreGet(self, args: Any) -> None:
        pass

    def onPostGet(self, args: Any) -> None:
        pass

    def onPreRead(self, args: Any) -> None:
        pass

    def onPreWrite(self, args: Any) -> None:
        pass

    def onPostWrite(self, args: Any) -> None:
        pass

    def onPreAction(self, args: Any) -> None:
        pass

    def onPostAction(self, args: Any) -> None:
        pass

    def onConnected(self, connectionInfo: Any) -> None:
        pass

    def onInvalidConnection(self, connectionInfo: Any) -> None:
        pass

    def onDisconnected(self, connectionInfo: Any) -> None:
        pass


# -- serving: sockets and ptys, with faults ----------------------------------------------------


class _Session:
    """Feeds received bytes to a server and applies the faults to its replies."""

    def __init__(self, state: MeterState, interface_type: InterfaceType) -> None:
        self.state = state
        self.faults = state.faults
        self.interface_type = interface_type
        self.server = _MeterServer(state, interface_type)
        self.replies = 0

    def handle(self, data: bytes) -> tuple[bytes | None, bool]:
        """Return (reply to send or ``None``, whether to drop the line afterwards)."""
        faults = self.faults
        if faults.silent_after is not None and self.replies >= faults.silent_after:
            return None, False
        answer = self.server.reply(data)
        if answer is None:
            return None, False
        self.replies += 1
        if faults.latency:
            time.sleep(faults.latency)
        if faults.corrupt_every and self.replies % faults.corrupt_every == 0:
            answer = self._corrupt(answer)
        drop = faults.drop_after is not None and self.replies >= faults.drop_after
        return answer, drop

    def _corrupt(self, frame: bytes) -> bytes:
        damaged = bytearray(frame)
        if self.interface_type == InterfaceType.WRAPPER:
            damaged[1] ^= 0x5A  # the wrapper version: no checksum would catch a payload flip
        else:
            damaged[len(damaged) // 2] ^= 0x5A  # the FCS catches it
        return bytes(damaged)


@dataclass
class _Meter:
    state: MeterState
    endpoint: SimulatedEndpoint
    interface_type: InterfaceType
    listener: socket.socket | None = None
    master_fd: int | None = None
    slave_fd: int | None = None


class DlmsFleet(RunningFleet):
    """Simulated DLMS meters serving until :meth:`stop`."""

    def __init__(self, meters: list[_Meter]) -> None:
        self._meters = meters
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._selector = selectors.DefaultSelector()
        for meter in meters:
            if meter.listener is not None:
                self._selector.register(meter.listener, selectors.EVENT_READ, meter)
            else:
                self._spawn(self._serve_pty, meter)
        if any(meter.listener is not None for meter in meters):
            self._spawn(self._accept_loop)

    @property
    def endpoints(self) -> list[SimulatedEndpoint]:
        """One endpoint per meter, in serial order."""
        return [meter.endpoint for meter in self._meters]

    def state(self, serial: str) -> MeterState:
        """The state of the meter ``serial`` (tests look at its breaker, clock, calendar)."""
        for meter in self._meters:
            if meter.state.serial == serial:
                return meter.state
        raise KeyError(serial)

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name="dlms-sim")
        thread.start()
        self._threads.append(thread)

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._selector.select(timeout=0.1):
                meter = key.data
                try:
                    conn, _ = meter.listener.accept()
                except OSError:
                    continue
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with self._lock:
                    self._connections.add(conn)
                self._spawn(self._serve_socket, meter, conn)

    def _serve_socket(self, meter: _Meter, conn: socket.socket) -> None:
        session = _Session(meter.state, meter.interface_type)
        conn.settimeout(0.2)
        try:
            while not self._stop.is_set():
                try:
                    data = conn.recv(4096)
                except TimeoutError:
                    continue
                if not data:
                    break
                answer, drop = session.handle(data)
                if answer is not None:
                    conn.sendall(answer)
                if drop:
                    break
        except OSError:
            pass
        finally:
            with self._lock:
                self._connections.discard(conn)
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    def _serve_pty(self, meter: _Meter) -> None:
        session = _Session(meter.state, meter.interface_type)
        fd = meter.master_fd
        selector = selectors.DefaultSelector()
        selector.register(fd, selectors.EVENT_READ)
        try:
            while not self._stop.is_set():
                if not selector.select(timeout=0.1):
                    continue
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    time.sleep(0.05)
                    continue
                if not data:
                    continue
                answer, drop = session.handle(data)
                if answer is not None:
                    os.write(fd, answer)
                if drop:
                    session = _Session(meter.state, meter.interface_type)
        finally:
            selector.close()

    def stop(self) -> None:
        """Close every socket and pty and end the threads; may be called twice."""
        if self._stop.is_set():
            return
        self._stop.set()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in self._threads:
            thread.join(timeout=2)
        for meter in self._meters:
            if meter.listener is not None:
                meter.listener.close()
            for fd in (meter.master_fd, meter.slave_fd):
                if fd is not None:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
        self._selector.close()


class DlmsSimulator(Simulator):
    """Starts DLMS/COSEM meters on gurux-dlms' server classes (see the module docstring)."""

    name: ClassVar[str] = "dlms"
    description: ClassVar[str] = (
        "DLMS/COSEM meters (gurux-dlms server): wrapper or HDLC over TCP, HDLC over a pty"
    )

    def start(
        self,
        count: int,
        *,
        host: str = "127.0.0.1",
        base_port: int = 0,
        faults: Faults | None = None,
        options: Mapping[str, str] | None = None,
    ) -> DlmsFleet:
        """Start ``count`` meters; see the module docstring for the options."""
        options = dict(options or {})
        framing = options.get("framing", "wrapper")
        transport = options.get("transport", "tcp")
        authentication = options.get("authentication", "none")
        prefix = options.get("serial_prefix", "DLMS-")
        if framing not in ("wrapper", "hdlc"):
            raise ValueError(f"framing must be wrapper or hdlc, not {framing!r}")
        if transport not in ("tcp", "serial"):
            raise ValueError(f"transport must be tcp or serial, not {transport!r}")
        if transport == "serial":
            framing = "hdlc"
        if authentication not in _AUTH_LEVELS:
            raise ValueError(f"authentication must be none, low or high, not {authentication!r}")
        image_options = _image_options(options)
        interface = InterfaceType.HDLC if framing == "hdlc" else InterfaceType.WRAPPER
        meters: list[_Meter] = []
        try:
            for number in range(1, count + 1):
                serial = f"{prefix}{number:04d}"
                secrets = meter_secrets(serial)
                state = MeterState(
                    serial, SimulatedMeter(serial), faults or Faults(), authentication, secrets,
                    image=image_options(),
                )  # fmt: skip
                settings = _endpoint_settings(framing, authentication, secrets)
                if transport == "tcp":
                    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    listener.bind((host, base_port + number - 1 if base_port else 0))
                    listener.listen(8)
                    listener.setblocking(False)
                    port = listener.getsockname()[1]
                    endpoint = SimulatedEndpoint(serial, "dlms", "tcp", f"{host}:{port}", settings)
                    meters.append(_Meter(state, endpoint, interface, listener=listener))
                else:
                    master, slave = os.openpty()
                    tty.setraw(slave)
                    tty.setraw(master)
                    path = os.ttyname(slave)
                    endpoint = SimulatedEndpoint(serial, "dlms", "serial", path, settings)
                    meters.append(
                        _Meter(state, endpoint, interface, master_fd=master, slave_fd=slave)
                    )
        except Exception:
            for meter in meters:
                if meter.listener is not None:
                    meter.listener.close()
                for fd in (meter.master_fd, meter.slave_fd):
                    if fd is not None:
                        os.close(fd)
            raise
        return DlmsFleet(meters)


def _image_options(options: Mapping[str, str]) -> Callable[[], ImageState]:
    """Check the ``image_*`` options; return a factory of one meter's :class:`ImageState`."""
    mode = options.get("image_transfer", "yes")
    if mode not in ("yes", "no", "disabled"):
        raise ValueError(f"image_transfer must be yes, no or disabled, not {mode!r}")
    verify = options.get("image_verify", "ok")
    if verify not in ("ok", "fail"):
        raise ValueError(f"image_verify must be ok or fail, not {verify!r}")
    try:
        block_size = int(options.get("image_block_size", "192"))
        busy = float(options.get("image_busy", "0"))
        lose = {int(options["image_lose_block"])} if options.get("image_lose_block") else set()
    except ValueError:
        raise ValueError("image_block_size, image_busy and image_lose_block are numbers") from None
    if not 16 <= block_size <= 960:
        raise ValueError(f"image_block_size must be 16..960, not {block_size}")

    def make() -> ImageState:
        return ImageState(
            present=mode != "no",
            enabled=mode == "yes",
            block_size=block_size,
            verify_ok=verify == "ok",
            busy=busy,
            lose=set(lose),
        )

    return make


def _endpoint_settings(framing: str, authentication: str, secrets: dict[str, str]) -> dict:
    settings = {"framing": framing, "authentication": authentication}
    if framing == "hdlc":
        settings["physical_address"] = str(PHYSICAL_ADDRESS)
    settings["client_address"] = str(CLIENT_MANAGEMENT)
    if authentication == "none":
        return settings
    if authentication == "low":
        settings["password"] = secrets["password"]
    else:
        for name in ("authentication_key", "block_cipher_key", "system_title"):
            settings[name] = secrets[name]
    return settings
