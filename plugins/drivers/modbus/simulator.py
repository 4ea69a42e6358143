"""The ``modbus`` simulator: energy meters on pymodbus' server, laid out from a register map.

Each meter is one pymodbus :class:`~pymodbus.server.ModbusTcpServer` on its own loopback port,
all served by one asyncio loop in a background thread. The registers are computed on every
request from the map and the electrical model of :mod:`.simmodel` (which spreads
:class:`~meterhub.extensions.driverkit.SimulatedMeter` over three phases), so a test knows
exactly what it must read (:func:`expected_raw`). The meter keeps to its map: a read longer
than the map's ``max_read`` gets exception 3 (illegal data value), a read of registers the map
does not hold gets exception 2 (illegal address) unless the map lets block reads span gaps
(``max_gap``), where the unlisted registers read 0.

Options (``meterhub simulate --option``):

* ``map``: a shipped map (``sdm630`` default, ``sdm120``, ``em24``, ``umg96rm``, ``int32-lw``);
* ``framing``: ``tcp`` (default) or ``rtu``: RTU frames on a pty per meter (the driver opens the
  pty with the ``serial`` medium; a relay on the kit's
  :class:`~meterhub.extensions.driverkit.FrameServer` carries the bytes to and from the meter's
  RTU server);
* ``unit``: the unit id the meters answer to (default 1); others get no answer on RTU and
  *gateway target failed to respond* on TCP;
* ``time``: an ISO time the meters are frozen at (tests), default the running clock.

Faults: ``latency`` (awaited before each answer), ``drop_after`` (close the connection after that
many answers), ``silent_after`` (stop answering), ``corrupt_every`` (a bad protocol id on TCP, a
bad CRC on RTU), ``clock_drift`` (seconds added to the meter clock). ``wrong_password`` has no
meaning for Modbus (it has no passwords) and is ignored.
"""

from __future__ import annotations

import asyncio
import math
import selectors
import socket
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.exceptions import NoSuchIdException
from pymodbus.framer import FramerType
from pymodbus.server import ModbusTcpServer
from pymodbus.server.requesthandler import ServerRequestHandler

from meterhub.errors import InvalidValue
from meterhub.extensions.driverkit import (
    ByteChannel,
    FrameServer,
    SessionFunction,
    SimulatedMeter,
)
from meterhub.extensions.simulator import Faults, RunningFleet, SimulatedEndpoint, Simulator
from meterhub.plugins.drivers.modbus.registermap import (
    Register,
    RegisterDecodeError,
    RegisterMap,
    shipped_map,
    shipped_map_names,
)
from meterhub.plugins.drivers.modbus.simmodel import quantities, value_in

__all__ = ["ModbusFleet", "ModbusSimulator", "expected_raw", "raw_value"]


def raw_value(register: Register, values: Mapping[str, float]) -> int | float | None:
    """The raw value of ``register`` given the model's :func:`.simmodel.quantities`.

    Integer types hold the value divided by the register's scale, rounded; float types hold it
    rounded to the type as it travels on the wire (float32 keeps about 7 digits). ``None`` for a
    quantity the model lacks (and for the clock, which the meter state keeps).
    """
    value = value_in(values, register.obis, register.unit, register.sign)
    if value is None:
        return None
    if register.data_type.startswith("float"):
        raw = value / register.scale if register.scale != 1.0 else value
        return register.decode(register.encode(raw))
    return round(value / register.scale)


def expected_raw(register: Register, meter: SimulatedMeter, at: int) -> int | float | None:
    """The raw value the simulator puts in ``register`` at ``at`` (as the driver decodes it)."""
    return raw_value(register, quantities(meter, at))


class _MeterState:
    """One simulated meter: its model, map, unit, clock offset and fault counters."""

    def __init__(
        self,
        serial: str,
        register_map: RegisterMap,
        unit: int,
        faults: Faults,
        frozen: int | None,
    ) -> None:
        self.serial = serial
        self.meter = SimulatedMeter(serial)
        self.map = register_map
        self.unit = unit
        self.faults = faults
        self.frozen = frozen
        self.clock_offset = self.meter.clock_drift + int(faults.clock_drift)
        self.replies = 0
        self.lock = threading.Lock()
        #: Function → (first address, address after the last) of the map's registers.
        self.span: dict[int, tuple[int, int]] = {}
        for register in register_map.registers:
            low, high = self.span.get(register.function, (register.address, register.end))
            self.span[register.function] = (min(low, register.address), max(high, register.end))

    def now(self) -> int:
        if self.frozen is not None:
            return self.frozen
        return int(datetime.now(UTC).timestamp())

    def image(self, function: int, address: int, count: int) -> list[int] | ExcCodes:
        """The registers ``address .. address+count-1`` of ``function`` right now."""
        if count > self.map.max_read:
            return ExcCodes.ILLEGAL_VALUE
        at = self.now()
        values: Mapping[str, float] | None = None
        words: dict[int, int] = {}
        for register in self.map.registers:
            if register.function != function:
                continue
            if register.end <= address or register.address >= address + count:
                continue
            if register.kind == "clock":
                raw: int | float | None = at + self.clock_offset
            else:
                if values is None:
                    values = quantities(self.meter, at)
                raw = raw_value(register, values)
            if raw is None or (isinstance(raw, float) and not math.isfinite(raw)):
                raw = 0
            try:
                encoded = register.encode(raw)
            except RegisterDecodeError:
                encoded = [0] * register.count
            for offset, word in enumerate(encoded):
                words[register.address + offset] = word
        low, high = self.span.get(function, (0, 0))
        result = []
        for position in range(address, address + count):
            if position not in words and (self.map.max_gap == 0 or not low <= position < high):
                return ExcCodes.ILLEGAL_ADDRESS
            result.append(words.get(position, 0))
        return result

    def write(self, address: int, values: list[int]) -> ExcCodes | None:
        clock = self.map.clock
        if clock is None or not clock.writable or address != clock.address:
            return ExcCodes.ILLEGAL_ADDRESS
        if len(values) != clock.count:
            return ExcCodes.ILLEGAL_VALUE
        seconds = clock.decode(values)
        self.clock_offset = int(seconds) - self.now()
        return None


class _Context(ModbusServerContext):
    """The datastore pymodbus asks: computed registers of one meter (no stored blocks)."""

    def __init__(self, state: _MeterState) -> None:  # no super(): nothing of the old store
        self.state = state
        self.old_simulator = True
        self.simdevices = []
        self._devices = {}

    async def async_getValues(  # noqa: N802 - pymodbus' name
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> Any:
        if device_id != self.state.unit:
            raise NoSuchIdException(f"unit {device_id}")
        if self.state.faults.latency:
            await asyncio.sleep(self.state.faults.latency)
        if func_code not in (3, 4, 16):
            return ExcCodes.ILLEGAL_FUNCTION
        return self.state.image(3 if func_code == 16 else func_code, address, count)

    async def async_setValues(  # noqa: N802 - pymodbus' name
        self, device_id: int, func_code: int, address: int, values: Any
    ) -> Any:
        if device_id != self.state.unit:
            raise NoSuchIdException(f"unit {device_id}")
        if self.state.faults.latency:
            await asyncio.sleep(self.state.faults.latency)
        return self.state.write(address, list(values))

    def device_ids(self) -> list[int]:
        return [self.state.unit]


class _FaultyHandler(ServerRequestHandler):
    """pymodbus' connection handler with the simulator's faults on the way out."""

    state: _MeterState
    rtu: bool

    def pdu_send(self, pdu: Any, addr: tuple | None = None) -> None:
        state = self.state
        with state.lock:
            state.replies += 1
            number = state.replies
        faults = state.faults
        if faults.silent_after is not None and number > faults.silent_after:
            return
        if faults.drop_after is not None and number > faults.drop_after:
            self.close()
            return
        packet = bytearray(self.framer.buildFrame(pdu))
        if faults.corrupt_every and number % faults.corrupt_every == 0:
            position = len(packet) - 3 if self.rtu else 2  # RTU: breaks the CRC; TCP: protocol id
            packet[position] ^= 0x5A
        self.low_level_send(bytes(packet), addr=addr)


class _Server(ModbusTcpServer):
    """A TCP server (MBAP or RTU framing) whose connections inject faults."""

    def __init__(self, state: _MeterState, rtu: bool, address: tuple[str, int]) -> None:
        super().__init__(
            _Context(state),
            framer=FramerType.RTU if rtu else FramerType.SOCKET,
            address=address,
            ignore_missing_devices=rtu,
        )
        self.state = state
        self.rtu = rtu

    def callback_new_connection(self) -> ServerRequestHandler:
        handler = _FaultyHandler(self, self.trace_packet, self.trace_pdu, self.trace_connect)
        handler.state = self.state
        handler.rtu = self.rtu
        return handler


def _relay(port: int) -> SessionFunction:
    """A session for :meth:`FrameServer.serve_pty`: RTU bytes between the pty and the RTU server.

    Modbus RTU is strictly question and answer, so one TCP connection to the meter's RTU server
    carries the frames both ways; it is opened with the first request and again after the
    server dropped it (the ``drop_after`` fault). The session ends when the server stops.
    """

    def serve(channel: ByteChannel) -> None:
        connection: socket.socket | None = None
        selector = selectors.DefaultSelector()
        try:
            while True:
                request = channel.read(4096, 0.1 if connection is None else 0.01)
                if request:
                    if connection is None:
                        connection = socket.create_connection(("127.0.0.1", port), timeout=2)
                        connection.setblocking(False)
                        selector.register(connection, selectors.EVENT_READ)
                    try:
                        connection.sendall(request)
                    except OSError:  # the server dropped the connection: the request is lost
                        selector.unregister(connection)
                        connection.close()
                        connection = None
                        continue
                if connection is None or not selector.select(0.02):
                    continue
                try:
                    answer = connection.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    answer = b""
                if answer:
                    channel.write(answer)
                    continue
                selector.unregister(connection)
                connection.close()
                connection = None
        finally:
            if connection is not None:
                connection.close()
            selector.close()

    return serve


class ModbusFleet(RunningFleet):
    """Running Modbus meters: one asyncio loop thread with a pymodbus server per meter."""

    def __init__(
        self,
        states: list[_MeterState],
        *,
        host: str,
        base_port: int,
        rtu: bool,
        map_name: str,
    ) -> None:
        self.states = states
        self.rtu = rtu
        self.map_name = map_name
        self._loop = asyncio.new_event_loop()
        self._servers: list[_Server] = []
        self._relays = FrameServer("modbus-rtu")
        self._pty_paths: list[str] = []
        self._ports: list[int] = []
        self._host = host
        self._stopped = False
        started = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(base_port, started), name="modbus fleet", daemon=True
        )
        self._thread.start()
        started.wait(30)
        if self._error is not None:
            self.stop()
            raise self._error
        if rtu:
            self._pty_paths = [self._relays.serve_pty(_relay(port)) for port in self._ports]

    def _run(self, base_port: int, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._start(base_port))
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
            self._error = exc
            started.set()
            return
        started.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._shutdown())
        self._loop.close()

    async def _start(self, base_port: int) -> None:
        host = "127.0.0.1" if self.rtu else self._host
        for index, state in enumerate(self.states):
            port = base_port + index if base_port and not self.rtu else 0
            server = _Server(state, self.rtu, (host, port))
            await server.serve_forever(background=True)
            transport: Any = server.transport
            self._ports.append(transport.sockets[0].getsockname()[1])
            self._servers.append(server)

    async def _shutdown(self) -> None:
        for server in self._servers:
            await server.shutdown()
        await asyncio.sleep(0)

    @property
    def endpoints(self) -> list[SimulatedEndpoint]:
        """One endpoint per meter: TCP address, or the pty path for RTU."""
        result = []
        for index, state in enumerate(self.states):
            settings = {"map": self.map_name, "unit": str(state.unit)}
            if self.rtu:
                settings["framing"] = "rtu"
                address, medium = self._pty_paths[index], "serial"
            else:
                address, medium = f"{self._host}:{self._ports[index]}", "tcp"
            result.append(SimulatedEndpoint(state.serial, "modbus", medium, address, settings))
        return result

    @property
    def server_addresses(self) -> list[str]:
        """``host:port`` of each meter's own server: MBAP, or with ``framing=rtu`` RTU frames
        over TCP, as a transparent serial gateway passes them (read with ``framing=rtu``)."""
        host = "127.0.0.1" if self.rtu else self._host
        return [f"{host}:{port}" for port in self._ports]

    def stop(self) -> None:
        """Stop the pty relays, the servers and the loop thread; idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._relays.stop()
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


def _frozen_time(text: str | None) -> int | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidValue("options.time", f"must be an ISO time, got {text!r}") from None
    if moment.tzinfo is None:
        raise InvalidValue("options.time", "must carry a UTC offset (2026-03-02T12:00:00Z)")
    return int(moment.timestamp())


class ModbusSimulator(Simulator):
    """Simulated Modbus energy meters laid out from a shipped map, on pymodbus' server."""

    name: ClassVar[str] = "modbus"
    description: ClassVar[str] = "Modbus TCP/RTU energy meters (pymodbus server, shipped maps)"

    def start(
        self,
        count: int,
        *,
        host: str = "127.0.0.1",
        base_port: int = 0,
        faults: Faults | None = None,
        options: Mapping[str, str] | None = None,
    ) -> ModbusFleet:
        """Start ``count`` meters with serials ``MB-0001`` ...; see the module for options."""
        options = dict(options or {})
        unknown = sorted(set(options) - {"map", "framing", "unit", "time"})
        if unknown:
            raise InvalidValue(
                "options", f"unknown option {unknown[0]!r}; known: map, framing, unit, time"
            )
        map_name = options.get("map", "sdm630")
        if map_name not in shipped_map_names():
            raise InvalidValue(
                "options.map",
                f"no shipped map {map_name!r}; shipped: {', '.join(shipped_map_names())}",
            )
        register_map = shipped_map(map_name)
        framing = options.get("framing", "tcp")
        if framing not in ("tcp", "rtu"):
            raise InvalidValue("options.framing", f"must be tcp or rtu, got {framing!r}")
        try:
            unit = int(options.get("unit", "1"))
        except ValueError:
            raise InvalidValue("options.unit", "must be a whole number 0..255") from None
        if not 0 <= unit <= 255:
            raise InvalidValue("options.unit", "must be a whole number 0..255")
        frozen = _frozen_time(options.get("time"))
        states = [
            _MeterState(f"MB-{number:04d}", register_map, unit, faults or Faults(), frozen)
            for number in range(1, count + 1)
        ]
        return ModbusFleet(
            states, host=host, base_port=base_port, rtu=framing == "rtu", map_name=map_name
        )
