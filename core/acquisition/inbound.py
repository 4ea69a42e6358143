"""Meters that call in: a TCP listener for meter-initiated connections and pushed data.

Meters on GPRS/LTE with dynamic addresses cannot be dialled: they open a connection to the
head-end. :class:`InboundListener` accepts such connections (one thread each) and, per
connection:

1. the inbound driver (``inbound_driver``, default ``dlms``) reads the first message
   (:meth:`~meterhub.extensions.driver.Driver.read_push`: a DLMS data-notification over the
   wrapper or HDLC). A line that sends anything else, or a damaged frame, is logged with the
   reason and closed: nothing is stored;
2. the meter is identified by what the message names (:class:`MeterDirectory`: serial number,
   the ``logical_device_name`` or ``server_system_title`` setting of meters of that driver). An
   unknown, ambiguous or disabled meter is logged, counted and closed: nothing is stored;
3. the driver interprets the message with the meter's settings
   (:meth:`~meterhub.extensions.driver.Driver.decode_push`), readings and events go to the
   channels of the virtual meter the meter served at their time
   (:mod:`meterhub.acquisition.mapping`), handed together to the engine's batch writer and
   committed with its next batch across meters; after that commit the plugins hear
   ``alarms_stored`` for the alarms (events) the meter pushed;
4. while the line stays open, the meter's waiting tasks run in the same session over it
   (:meth:`AcquisitionEngine.serve_inbound`, line pool ``inbound``); then the line is closed.

The listener runs inside ``meterhub acquire --listen HOST:PORT`` (or the ``inbound_listen``
setting) next to the embedded engine, or inside ``meterhub worker --listen HOST:PORT`` next to a
worker of the scaled-out mode: there step 4 also locks the meter across processes and
also runs the meter's tasks waiting in the database
(:class:`~meterhub.acquisition.scaled.WorkerEngine`). :class:`InboundStats` counts what it saw.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import select

from meterhub.acquisition.mapping import map_events, map_readings
from meterhub.acquisition.plans import MeterPlan
from meterhub.acquisition.results import SessionResult, StoreData
from meterhub.errors import InvalidValue
from meterhub.extensions.driver import Driver, DriverError, LinkLost
from meterhub.extensions.driverkit import SocketMedium
from meterhub.extensions.events import MeterAlarm
from meterhub.extensions.push import PushContent, PushMessage
from meterhub.extensions.trace import FrameTrace
from meterhub.model.meters import Meter

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from meterhub.acquisition.engine import AcquisitionEngine

__all__ = ["InboundListener", "InboundStats", "MeterDirectory", "SocketLine", "parse_listen"]

log = logging.getLogger(__name__)

#: Seconds a meter has to send its first message after connecting.
FIRST_MESSAGE_TIMEOUT = 10.0
#: The directory is read again on a miss at most this often (seconds).
DIRECTORY_REFRESH = 5.0


def parse_listen(text: str, field: str = "inbound_listen") -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT``) → ``(host, port)``; port 0 picks a free one."""
    value = text.strip()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_text = value.rpartition(":")
    if not host or not port_text.isdigit() or not 0 <= int(port_text) < 65536:
        raise InvalidValue(field, f"must be HOST:PORT with a port 0..65535, got {text!r}")
    return host, int(port_text)


class SocketLine(SocketMedium):
    """The line a meter opened: an accepted TCP socket as a :class:`Medium` (already open)."""

    name: ClassVar[str] = "tcp"
    description: ClassVar[str] = "a TCP connection a meter opened to the listener"
    peer_closed: ClassVar[str] = "the meter closed the connection"
    not_open: ClassVar[str] = "closed"

    def __init__(self, sock: socket.socket, peer: str, trace: FrameTrace | None = None) -> None:
        super().__init__(peer, None, trace)
        self.attach(sock)

    def open(self, timeout: float) -> None:
        """Nothing to do: the meter opened the line; ``LinkLost`` once it is closed."""
        self._sock()

    def label(self) -> str:
        """``inbound <peer>`` in error messages."""
        return f"inbound {self.address}"


class MeterDirectory:
    """Which meter an identity names: serial number, logical device name or system title.

    Holds the identities of every meter of the inbound drivers (read at the first look-up and
    again on a miss, at most every :data:`DIRECTORY_REFRESH` seconds, so a meter added a moment
    ago is found). An identity two meters claim names neither: it is reported as ambiguous.
    """

    def __init__(self, engine: Engine, drivers: Sequence[str]) -> None:
        self._engine = engine
        self._drivers = tuple(drivers)
        self._lock = threading.Lock()
        self._index: dict[str, int | None] = {}
        self._loaded = 0.0

    def _load(self) -> None:
        index: dict[str, int | None] = {}
        query = select(Meter.id, Meter.serial_number, Meter.driver_settings).where(
            Meter.driver.in_(self._drivers)
        )
        with self._engine.connect() as connection:
            for meter_id, serial, settings in connection.execute(query):
                names = {str(serial)}
                settings = settings or {}
                for key in ("logical_device_name", "server_system_title"):
                    value = settings.get(key)
                    if value:
                        names.add(
                            str(value).upper() if key == "server_system_title" else str(value)
                        )
                for name in names:
                    index[name] = None if name in index and index[name] != meter_id else meter_id
        self._index = index
        self._loaded = time.monotonic()

    def find(self, identities: Sequence[str]) -> tuple[int | None, str]:
        """``(meter id, identity that named it)``; ``(None, reason)`` when none does."""
        with self._lock:
            if not self._loaded:
                self._load()
            found = self._match(identities)
            if found[0] is None and time.monotonic() - self._loaded >= DIRECTORY_REFRESH:
                self._load()
                found = self._match(identities)
            return found

    def invalidate(self) -> None:
        """Read the meters again at the next look-up."""
        with self._lock:
            self._loaded = 0.0

    def _match(self, identities: Sequence[str]) -> tuple[int | None, str]:
        for identity in identities:
            for key in (identity, identity.upper()):
                if key in self._index:
                    meter_id = self._index[key]
                    if meter_id is None:
                        return None, f"{identity!r} names more than one meter"
                    return meter_id, identity
        shown = ", ".join(repr(i) for i in identities) or "nothing"
        return None, f"no meter is named {shown}"


@dataclass
class InboundStats:
    """What the listener saw since it started (monitoring and tests)."""

    connections: int = 0
    pushes: int = 0
    unknown: int = 0
    malformed: int = 0
    #: Values stored (on a worker: handed to its batch writer).
    values_stored: int = 0
    alarms: int = 0
    sessions: int = 0
    failed_stores: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        """Add to the counters."""
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False


class InboundListener:
    """Accepts meters that call in (see the module docstring).

    ``engine`` is the running :class:`AcquisitionEngine` whose tasks the meters' sessions
    serve (its plans, store, plugins and writer); ``driver`` the name of the driver that reads
    what meters push. ``clock`` gives the time alarms are received (tests pass their own).
    """

    def __init__(
        self,
        engine: AcquisitionEngine,
        host: str = "0.0.0.0",
        port: int = 4059,
        *,
        driver: str = "dlms",
        first_message_timeout: float = FIRST_MESSAGE_TIMEOUT,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.engine = engine
        self.runtime = engine.runtime
        drivers = engine.drivers
        if driver not in drivers:
            raise InvalidValue("inbound_driver", f"driver {driver!r} is not loaded")
        if not drivers[driver].receives_push:
            raise InvalidValue("inbound_driver", f"driver {driver!r} receives no pushed data")
        self.driver: Driver = drivers[driver]
        self.driver_name = driver
        self.directory = MeterDirectory(self.runtime.engine, [driver])
        self.first_message_timeout = first_message_timeout
        self.stats = InboundStats()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._host, self._port = host, port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- life -------------------------------------------------------------------------------------

    def start(self) -> InboundListener:
        """Bind and accept in a thread of its own."""
        if self._server is not None:
            return self
        listener = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                listener.handle(self.request, self.client_address)

        try:
            server = _Server((self._host, self._port), Handler)
        except OSError as exc:
            raise InvalidValue(
                "inbound_listen", f"cannot listen on {self._host}:{self._port}: {exc}"
            ) from exc
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.2},
            name="meterhub-inbound", daemon=True,
        )  # fmt: skip
        self._thread.start()
        log.info("listening for meters that call in on %s:%d", *self.address)
        return self

    @property
    def address(self) -> tuple[str, int]:
        """The bound ``(host, port)`` (the port chosen when 0 was asked)."""
        if self._server is None:
            return self._host, self._port
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def stop(self) -> None:
        """Stop accepting; connections being served end on their own."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> InboundListener:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- one connection ---------------------------------------------------------------------------

    def handle(self, sock: socket.socket, peer: Any) -> None:
        """Serve one connection a meter opened (the steps of the module docstring)."""
        where = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        line = SocketLine(sock, where, FrameTrace(clock=self._clock))
        self.stats.add(connections=1)
        try:
            self._serve(line, where)
        except Exception:
            log.exception("inbound connection from %s failed", where)
        finally:
            line.close()

    def _serve(self, line: SocketLine, where: str) -> None:
        try:
            message = self.driver.read_push(line, self.first_message_timeout)
        except LinkLost as exc:
            self.stats.add(malformed=1)
            log.warning("inbound connection from %s: no message (%s); closed", where, exc)
            return
        except DriverError as exc:
            self.stats.add(malformed=1)
            frame = exc.frame.hex().upper()[:200] if exc.frame else ""
            log.warning("inbound connection from %s: %s; closed (frame %s)", where, exc, frame)
            return
        self.stats.add(pushes=1)
        meter_id, named = self.directory.find(message.identities)
        plan = self.engine.plans.get(meter_id) if meter_id is not None else None
        if plan is None or not plan.enabled:
            self.stats.add(unknown=1)
            reason = named if meter_id is None else f"meter {meter_id} is disabled or gone"
            log.warning("inbound connection from %s: unknown meter: %s; closed", where, reason)
            return
        try:
            content = self.driver.decode_push(message, plan.settings)
        except (DriverError, InvalidValue) as exc:
            self.stats.add(malformed=1)
            log.warning("meter %s pushed from %s: %s; closed, nothing stored",
                        plan.serial, where, exc)  # fmt: skip
            return
        for warning in content.warnings:
            log.warning("meter %s pushed: %s", plan.serial, warning)
        try:
            self.store(plan, message, content)
        except Exception:
            self.stats.add(failed_stores=1)
            log.exception("meter %s pushed from %s; the values could not be stored; closed",
                          plan.serial, where)  # fmt: skip
            return
        if line.closed or not self.engine.started:
            return
        result = self.engine.serve_inbound(plan.meter_id, line)
        if result is not None and result.tasks:
            self.stats.add(sessions=1)
            log.info("meter %s called in from %s: %d waiting tasks run", plan.serial, where,
                     len(result.tasks))  # fmt: skip

    # -- storing ----------------------------------------------------------------------------------

    def store(self, plan: MeterPlan, message: PushMessage, content: PushContent) -> int:
        """Hand what the meter pushed to the engine's batch writer as a result without tasks:
        stored with its next batch across meters, the alarms announced by the writer after that
        commit. Returns the values handed over. What has no channel is logged, never dropped
        silently.
        """
        data = StoreData()
        warnings: list[str] = []
        map_readings(plan, content.readings, data, warnings)
        map_events(plan, content.events, data, warnings)
        for warning in warnings:
            log.warning("meter %s pushed: %s", plan.serial, warning)
        alarms = self._alarms(plan, message, content, data) if content.events else ()
        writer = self.engine.writer
        if writer is None:
            raise RuntimeError("the engine is not running: no writer takes the values")
        if data.values or alarms:
            writer.put(SessionResult(plan.meter_id, plan, [], received=data, alarms=alarms))
        self.stats.add(values_stored=data.values, alarms=len(alarms))
        return data.values

    def _alarms(
        self, plan: MeterPlan, message: PushMessage, content: PushContent, data: StoreData
    ) -> tuple[MeterAlarm, ...]:
        stored = set(zip(data.event_ids, data.event_times, data.event_codes, strict=True))
        alarms = []
        for event in content.events:
            at = int(event.timestamp.timestamp())
            channel = plan.channel("event", event.log, at)
            channel_id = None
            if channel is not None and (channel.channel_id, at, int(event.code)) in stored:
                channel_id = channel.channel_id
            alarms.append(
                MeterAlarm(
                    meter_id=plan.meter_id,
                    serial=plan.serial,
                    code=int(event.code),
                    log=event.log,
                    description=event.description,
                    time=event.timestamp,
                    received=message.received,
                    channel_id=channel_id,
                )
            )
        return tuple(alarms)
