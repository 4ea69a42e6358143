"""The ``modbus`` driver: Modbus TCP (MBAP) and RTU over any medium, with register maps.

pymodbus builds and decodes the PDUs and the ADUs (MBAP header, RTU address and CRC); the bytes
travel over MeterHub's media (``tcp``, ``serial``, ``modem``), so every frame lands in the
session trace and a modem line works like a direct one.

Address: ``host:port`` for TCP, the serial device for RTU (or whatever the given medium takes).
Settings:

* ``map``: a shipped map (``sdm630`` default, ``sdm120``, ``em24``, ``umg96rm``, ``int32-lw``),
  or ``map_file``: a TOML/JSON map (:mod:`.registermap`);
* ``unit``: the unit (device) id, 0..255 (default 1);
* ``framing``: ``tcp`` (MBAP) or ``rtu`` (default: ``tcp`` on a TCP address, else ``rtu``);
* ``timeout``: seconds to wait for each response (default 2);
* the medium's own settings when the driver opens the line itself (``baudrate``, ``parity``...).

Actions: registers (by OBIS code), the instantaneous measurements of the map (never energy
counters), and the clock where the map has a clock register (set only when it is
``writable``). Reads are planned per the map: registers merged across ``max_gap`` unmapped
registers, each request within the meter's ``max_read``, no value split over two requests.
A load profile and an event log are not part of Modbus: those actions raise
:class:`~meterhub.extensions.driver.UnsupportedAction`.

Modbus has no passwords: the driver declares no secrets. Per-value problems are qualities: a
Modbus exception *illegal address* gives ``not_available``, *illegal function* ``unsupported``,
*illegal data value* ``invalid``, *device busy* ``device_busy``, a value that decodes to NaN
``invalid``. A bad
CRC, a wrong transaction or unit in the answer, a truncated or oversized frame raise
:class:`~meterhub.extensions.driver.ProtocolError`; no answer in time (an RTU meter ignores a
wrong unit id) :class:`~meterhub.extensions.driver.MeterTimeout`; *gateway target failed to
respond* (a TCP gateway's way of saying the unit did not answer) too.
"""

from __future__ import annotations

import math
import struct
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator
from pymodbus.framer import FramerRTU, FramerSocket
from pymodbus.pdu import DecodePDU, ExceptionResponse, ModbusPDU
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersRequest,
    ReadInputRegistersRequest,
    WriteMultipleRegistersRequest,
)

from meterhub.errors import InvalidValue
from meterhub.extensions.driver import (
    Action,
    Driver,
    DriverConnection,
    DriverInfo,
    EventLog,
    LinkLost,
    LoadProfile,
    MeterTimeout,
    ProtocolError,
    Quality,
    Reading,
)
from meterhub.extensions.driverkit import (
    PluginSettings,
    WholeNumber,
    line_kind,
    open_line,
    read_exactly,
    split_settings,
)
from meterhub.extensions.medium import Medium
from meterhub.identifiers import canonical_obis
from meterhub.plugins.drivers.modbus.registermap import (
    MAX_READ,
    Register,
    RegisterDecodeError,
    RegisterMap,
    load_map,
    shipped_map,
)

__all__ = ["ModbusConnection", "ModbusDriver", "ModbusSettings", "plan_reads"]

_CLOCK = "0-0:1.0.0*255"
#: Modbus exception code → quality of the values asked.
_EXCEPTION_QUALITY = {
    1: Quality.UNSUPPORTED,  # illegal function
    2: Quality.NOT_AVAILABLE,  # illegal data address
    3: Quality.INVALID,  # illegal data value
    4: Quality.UNKNOWN_ERROR,  # server device failure
    5: Quality.DEVICE_BUSY,  # acknowledge (long operation)
    6: Quality.DEVICE_BUSY,  # server device busy
}
_EXCEPTION_TEXT = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}
_MAX_ADU = 260
_maps_lock = threading.Lock()
_map_cache: dict[str, RegisterMap] = {}


def _now() -> datetime:
    return datetime.now(UTC)


class ModbusSettings(PluginSettings):
    """Settings of the ``modbus`` driver."""

    map: str | None = Field(
        None, description="a shipped map: sdm630 (default), sdm120, em24, umg96rm, int32-lw"
    )
    map_file: str | None = Field(None, description="path of a TOML/JSON register map")
    unit: WholeNumber = Field(1, ge=0, le=255, description="the unit (device) id")
    framing: Literal["tcp", "rtu"] | None = Field(
        None, description="tcp (MBAP) or rtu (default: tcp on a TCP address, else rtu)"
    )
    timeout: float = Field(2.0, ge=0.01, le=600, description="seconds to wait for each answer")

    @model_validator(mode="after")
    def _one_map(self) -> ModbusSettings:
        if self.map and self.map_file:
            raise ValueError("give map or map_file, not both")
        return self


def plan_reads(
    registers: Sequence[Register], max_gap: int, max_read: int = MAX_READ
) -> list[tuple[int, int, list[Register]]]:
    """Group registers into read requests: ``(function, address, registers)`` blocks.

    Registers of one function code are merged when the gap between them is at most ``max_gap``
    and the block stays within ``max_read`` registers (the meter's limit, at most
    :data:`MAX_READ`); a value is never split over two requests.
    """
    max_read = min(max_read, MAX_READ)
    blocks: list[tuple[int, int, list[Register]]] = []
    current: list[Register] = []
    for register in sorted(set(registers), key=lambda r: (r.function, r.address)):
        if current:
            first = current[0]
            end = max(r.end for r in current)
            if (
                register.function == first.function
                and register.address - end <= max_gap
                and register.end - first.address <= max_read
            ):
                current.append(register)
                continue
            blocks.append((first.function, first.address, current))
        current = [register]
    if current:
        blocks.append((current[0].function, current[0].address, current))
    return blocks


class ModbusConnection(DriverConnection):
    """A session with one Modbus meter over an open medium."""

    driver_name = "modbus"

    def __init__(
        self,
        medium: Medium,
        register_map: RegisterMap,
        unit: int,
        framing: str,
        timeout: float,
        *,
        owns_medium: bool = False,
    ) -> None:
        self.medium = medium
        #: Whether the connection opened the medium itself and closes it with the session.
        self.owns_medium = owns_medium
        self.map = register_map
        self.unit = unit
        self.framing = framing
        self.timeout = timeout
        self._framer = (
            FramerSocket(DecodePDU(False)) if framing == "tcp" else FramerRTU(DecodePDU(False))
        )
        self._decoder = DecodePDU(False)
        self._tid = 0
        self._closed = False
        self._by_obis = register_map.by_obis()

    # -- frames ------------------------------------------------------------------------------

    def _note(self, text: str) -> None:
        if self.medium.trace is not None:
            self.medium.trace.note(text)

    def _read_tcp(self) -> tuple[int, bytes]:
        header = read_exactly(self.medium, 7, self.timeout, what="Modbus TCP header")
        tid, protocol, length, unit = struct.unpack(">HHHB", header)
        if protocol != 0:
            raise ProtocolError(f"Modbus TCP: protocol id {protocol} instead of 0", frame=header)
        if not 2 <= length <= _MAX_ADU - 6:
            raise ProtocolError(f"Modbus TCP: length {length} out of range", frame=header)
        body = read_exactly(self.medium, length - 1, self.timeout, what="Modbus TCP frame")
        frame = header + body
        if tid != self._tid:
            raise ProtocolError(
                f"Modbus TCP: transaction {tid} answered, {self._tid} asked", frame=frame
            )
        if unit != self.unit:
            raise ProtocolError(f"Modbus TCP: unit {unit} answered, {self.unit} asked", frame=frame)
        return unit, body

    def _read_rtu(self, function: int) -> tuple[int, bytes]:
        head = read_exactly(self.medium, 2, self.timeout, what="Modbus RTU frame")
        unit, code = head[0], head[1]
        if code & 0x80:
            rest = read_exactly(self.medium, 3, self.timeout, what="Modbus RTU exception")
        elif code in (3, 4):
            count = read_exactly(self.medium, 1, self.timeout, what="Modbus RTU frame")
            rest = count + read_exactly(
                self.medium, count[0] + 2, self.timeout, what="Modbus RTU frame"
            )
        elif code == 16:
            rest = read_exactly(self.medium, 6, self.timeout, what="Modbus RTU frame")
        else:
            raise ProtocolError(f"Modbus RTU: unexpected function code {code}", frame=head)
        frame = head + rest
        crc = int.from_bytes(frame[-2:], "big")
        if FramerRTU.compute_CRC(frame[:-2]) != crc:
            raise ProtocolError("Modbus RTU: bad CRC", frame=frame)
        if unit != self.unit:
            raise ProtocolError(f"Modbus RTU: unit {unit} answered, {self.unit} asked", frame=frame)
        if code & 0x7F != function:
            raise ProtocolError(
                f"Modbus RTU: function {code} answered, {function} asked", frame=frame
            )
        return unit, frame[1:-2]

    def _transact(self, request: ModbusPDU) -> ModbusPDU:
        if self._closed:
            raise LinkLost("Modbus: the session is closed")
        self._tid = (self._tid + 1) & 0xFFFF
        request.dev_id = self.unit
        request.transaction_id = self._tid
        self.medium.write(self._framer.buildFrame(request))
        if self.framing == "tcp":
            _unit, pdu_bytes = self._read_tcp()
        else:
            _unit, pdu_bytes = self._read_rtu(request.function_code)
        try:
            response = self._decoder.decode(pdu_bytes)
        except Exception as exc:  # noqa: BLE001 - whatever pymodbus raises on garbage
            raise ProtocolError(f"Modbus: undecodable response: {exc}", frame=pdu_bytes) from None
        if response is None:
            raise ProtocolError("Modbus: undecodable response", frame=pdu_bytes)
        if isinstance(response, ExceptionResponse):
            code = response.exception_code
            if code in (10, 11):
                raise MeterTimeout(
                    f"Modbus gateway: unit {self.unit}: {_EXCEPTION_TEXT[code]}", frame=pdu_bytes
                )
            return response
        if response.function_code != request.function_code:
            raise ProtocolError(
                f"Modbus: function {response.function_code} answered, "
                f"{request.function_code} asked",
                frame=pdu_bytes,
            )
        return response

    def read_block(self, function: int, address: int, count: int) -> list[int] | int:
        """Read ``count`` registers; the registers, or the Modbus exception code."""
        cls = ReadHoldingRegistersRequest if function == 3 else ReadInputRegistersRequest
        response = self._transact(cls(address=address, count=count))
        if isinstance(response, ExceptionResponse):
            self._note(
                f"exception {response.exception_code} "
                f"({_EXCEPTION_TEXT.get(response.exception_code, 'unknown')}) for {count} "
                f"registers at {address} (function {function})"
            )
            return int(response.exception_code)
        registers = list(response.registers)
        if len(registers) != count:
            raise ProtocolError(f"Modbus: {len(registers)} registers answered, {count} asked")
        return registers

    def write_block(self, address: int, registers: Sequence[int]) -> int | None:
        """Write holding registers; ``None`` on success, else the Modbus exception code."""
        response = self._transact(
            WriteMultipleRegistersRequest(
                address=address, count=len(registers), registers=list(registers)
            )
        )
        if isinstance(response, ExceptionResponse):
            return int(response.exception_code)
        return None

    # -- values ------------------------------------------------------------------------------

    def _reading(self, register: Register, raw: int | float, at: datetime) -> Reading:
        if isinstance(raw, float) and not math.isfinite(raw):
            return Reading(register.obis, None, register.unit, 0, at, Quality.INVALID)
        if register.kind == "clock":
            return Reading(register.obis, datetime.fromtimestamp(int(raw), UTC), None, 0, at)
        scaler = register.scaler
        if isinstance(raw, int) and scaler is not None:
            return Reading(register.obis, raw, register.unit, scaler, at)
        value = raw * register.scale if register.scale != 1.0 else raw
        return Reading(register.obis, value, register.unit, 0, at)

    def read_values(self, registers: Sequence[Register]) -> dict[str, Reading]:
        """Read the registers in as few requests as the map allows; OBIS → reading."""
        found: dict[str, Reading] = {}
        for function, address, members in plan_reads(
            registers, self.map.max_gap, self.map.max_read
        ):
            count = max(r.end for r in members) - address
            result = self.read_block(function, address, count)
            at = _now()
            for register in members:
                if isinstance(result, int):
                    quality = _EXCEPTION_QUALITY.get(result, Quality.UNKNOWN_ERROR)
                    found[register.obis] = Reading(
                        register.obis, None, register.unit, 0, at, quality
                    )
                    continue
                offset = register.address - address
                try:
                    raw = register.decode(result[offset : offset + register.count])
                except RegisterDecodeError:
                    found[register.obis] = Reading(
                        register.obis, None, register.unit, 0, at, Quality.INVALID
                    )
                    continue
                found[register.obis] = self._reading(register, raw, at)
        return found

    def read_registers(self, obis_codes: Sequence[str]) -> list[Reading]:
        """The registers asked for; codes the map lacks are ``not_available``."""
        codes = [canonical_obis(code, field="obis_codes") for code in obis_codes]
        wanted = [self._by_obis[code] for code in codes if code in self._by_obis]
        found = self.read_values(wanted)
        at = _now()
        return [
            found.get(code) or Reading(code, None, None, 0, at, Quality.NOT_AVAILABLE)
            for code in codes
        ]

    def read_instantaneous(self) -> list[Reading]:
        """The measurements: every register of kind ``instantaneous`` (OBIS D = 7) in the map.

        Energy counters (time integrals) are never instantaneous, the map refuses that kind
        for them; read them with :meth:`read_registers`.
        """
        registers = self.map.of_kind("instantaneous")
        found = self.read_values(registers)
        return [found[register.obis] for register in registers]

    def read_clock(self) -> Reading:
        """The clock register (Unix seconds) as an aware datetime."""
        clock = self.map.clock
        if clock is None:
            raise self.unsupported(Action.READ_CLOCK)
        reading = self.read_values([clock])[clock.obis]
        if reading.quality is not Quality.VALID:
            return reading
        return Reading(_CLOCK, reading.value, None, 0, reading.timestamp)

    def set_clock(self, time: datetime) -> Quality:
        """Write Unix seconds into the clock register when the map marks it writable."""
        clock = self.map.clock
        if clock is None or not clock.writable:
            raise self.unsupported(Action.SET_CLOCK)
        if time.tzinfo is None or time.utcoffset() is None:
            raise InvalidValue("time", "must be an aware datetime (UTC)")
        seconds = int((time - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(seconds=1))
        try:
            registers = clock.encode(seconds)
        except RegisterDecodeError as exc:
            raise InvalidValue("time", str(exc)) from None
        code = self.write_block(clock.address, registers)
        if code is None:
            return Quality.VALID
        return _EXCEPTION_QUALITY.get(code, Quality.UNKNOWN_ERROR)

    def read_load_profile(self, start: datetime, end: datetime) -> LoadProfile:
        """Modbus has no standard load profile."""
        raise self.unsupported(Action.READ_LOAD_PROFILE)

    def read_events(self, start: datetime, end: datetime) -> EventLog:
        """Modbus has no standard event log."""
        raise self.unsupported(Action.READ_EVENTS)

    def close(self) -> None:
        """End the session; close the medium when the connection opened it."""
        self._closed = True
        if self.owns_medium:
            self.medium.close()


class ModbusDriver(Driver):
    """Modbus TCP/RTU energy meters described by register maps."""

    name: ClassVar[str] = "modbus"
    settings_model: ClassVar[type[PluginSettings]] = ModbusSettings

    @classmethod
    def info(cls) -> DriverInfo:
        """Describe the Modbus driver."""
        return DriverInfo(
            name=cls.name,
            description="Modbus TCP and RTU energy meters (pymodbus), register maps as data",
            actions=frozenset(
                {
                    Action.READ_REGISTERS,
                    Action.READ_INSTANTANEOUS,
                    Action.READ_CLOCK,
                    Action.SET_CLOCK,
                }
            ),
            address_syntax="host:port (Modbus TCP) or a serial device (Modbus RTU): 10.0.0.7:502",
            settings_model=ModbusSettings,
            media=("tcp", "serial", "modem"),
        )

    @staticmethod
    def register_map(settings: Mapping[str, Any] | ModbusSettings) -> RegisterMap:
        """The map the settings name (cached per name/path)."""
        if not isinstance(settings, ModbusSettings):
            settings = ModbusSettings.parse(
                {key: value for key, value in settings.items() if key in ModbusSettings.known()}
            )
        path = settings.map_file or ""
        name = settings.map or ""
        key = f"file:{path}" if path else f"map:{name or 'sdm630'}"
        with _maps_lock:
            cached = _map_cache.get(key)
        if cached is None:
            cached = load_map(path) if path else shipped_map(name or "sdm630")
            if not path:
                with _maps_lock:
                    _map_cache[key] = cached
        return cached

    def connect(
        self, address: str, settings: Mapping[str, str], medium: Medium | None = None
    ) -> ModbusConnection:
        """Open a session; opens a ``tcp`` or ``serial`` medium itself when none is given.

        Settings (and the map they name) are checked before any line is opened; line settings
        (``baudrate``, ``parity``, ``nodelay`` ...) go to the medium the driver opens itself.
        """
        kind = medium.name if medium is not None else line_kind(address)
        own_part, _ = split_settings(settings, ModbusSettings, kind)
        register_map = self.register_map(ModbusSettings.parse(own_part))  # before any line
        line = open_line(address, settings, ModbusSettings, medium)
        options = line.options
        framing = options.framing or ("tcp" if kind == "tcp" else "rtu")
        return ModbusConnection(
            line.medium,
            register_map,
            options.unit,
            framing,
            options.timeout,
            owns_medium=line.owned,
        )
