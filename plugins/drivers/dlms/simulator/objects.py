"""The simulated meter's COSEM objects: gurux object classes whose values are computed when read."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from gurux_dlms import GXByteBuffer, GXDateTime, GXDLMSClient
from gurux_dlms.enums import (
    DataType,
    Unit,
)
from gurux_dlms.enums.ErrorCode import ErrorCode
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
from meterhub.plugins.drivers.dlms.gurux_compat import CompatImageTransfer
from meterhub.plugins.drivers.dlms.simulator.state import (
    _DAY,
    _EVENT_DAYS,
    _QUARTER,
    ImageState,
    MeterState,
    _cosem,
)


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
    """Maximum demand of the UTC day so far (class 4): the highest hourly power, and its hour."""

    def __init__(
        self,
        ln: str = "1.0.1.6.0.255",
        source: Callable[[int], int] | None = None,
        unit: Unit = Unit.ACTIVE_POWER,
        *,
        state: MeterState | None = None,
    ) -> None:
        super().__init__(ln)
        if source is None:
            assert state is not None
            source = state.model.power
        self.source = source
        self.unit = unit
        self.scaler = 1.0
        self.setDataType(2, DataType.UINT32)

    def getValue(self, settings: Any, e: Any) -> Any:
        now = int(time.time())
        day = now - now % _DAY
        hours = range(day, now + 1, 3600)
        peak = max(hours, key=lambda hour: (self.source(hour), -hour))
        self.value = self.source(peak)
        self.captureTime = _cosem(peak)
        self.status = 0
        return super().getValue(settings, e)


class _Demand(GXDLMSDemandRegister):
    """A demand register (class 5): current and last quarter-hour average of a power."""

    def __init__(
        self,
        ln: str = "1.0.1.4.0.255",
        source: Callable[[int], int] | None = None,
        unit: Unit = Unit.ACTIVE_POWER,
        *,
        state: MeterState | None = None,
    ) -> None:
        super().__init__(ln)
        if source is None:
            assert state is not None
            source = state.model.power
        self.source = source
        self.unit = unit
        self.scaler = 1.0
        self.period = _QUARTER
        self.numberOfPeriods = 1
        self.setDataType(2, DataType.UINT32)
        self.setDataType(3, DataType.UINT32)

    def getValue(self, settings: Any, e: Any) -> Any:
        now = int(time.time())
        start = now - now % _QUARTER
        self.currentAverageValue = self.source(now)
        self.lastAverageValue = self.source(start - 1)
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


def _last_event(model: SimulatedMeter) -> int:
    now = int(time.time())
    found = model.events(now - _EVENT_DAYS * _DAY, now + 1)
    return found[-1].code if found else 0
