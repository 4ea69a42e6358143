"""Telegrams of many meters from one receiver, stored through the engine's batch writer.

Wireless meters (wireless M-Bus / OMS) send on their own; a receiver (a stick on a serial port,
a gateway's TCP feed, a log file or pipe) hears every meter in range. :class:`TelegramStream`
reads such a line with the receiving driver (``wmbus``), one telegram at a time
(:meth:`~meterhub.extensions.driver.Driver.read_push`), and for each:

1. identifies the meter by its M-Bus address, ``"<manufacturer> <identification>"`` first,
   the identification alone second (:class:`~meterhub.acquisition.inbound.MeterDirectory`:
   meters of the driver by manufacturer and serial number). Meters not in the inventory are
   counted (:attr:`TelegramStats.unknown`, a neighbour's meters are normal on the air) and
   skipped;
2. deciphers and decodes it with the meter's settings, its key from the credential store
   (``meterhub wmbus import-keys``) and its replay state
   (:meth:`~meterhub.extensions.driver.Driver.decode_push`). A wrong key, a replay or a damaged
   telegram is logged and counted (:attr:`TelegramStats.refused`), never stored as data;
3. maps the values to the channels of the virtual meter the meter served at their time
   (:func:`~meterhub.acquisition.mapping.map_readings`) and hands them with the new replay state
   to the engine's :class:`~meterhub.acquisition.writer.BatchWriter`, which commits many
   meters' telegrams in one transaction (``SessionResult.received``).

Every telegram's sender is recorded in the list of meters heard
(:mod:`meterhub.acquisition.heard`, ``meterhub wmbus heard``) with what came of it —
``stored``, ``unknown meter``, ``meter disabled``, ``no key``, ``wrong key``
(:class:`~meterhub.extensions.driver.AuthenticationFailed`), ``replay``
(:class:`~meterhub.extensions.push.Replayed`) or ``refused`` — in the same transaction as the
batch's values (``SessionResult.heard``).

:class:`StreamLine` makes a file or pipe of telegrams a line like any medium.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar

from meterhub.acquisition.heard import HeardTelegrams, heard_from
from meterhub.acquisition.inbound import MeterDirectory
from meterhub.acquisition.mapping import map_readings
from meterhub.acquisition.plans import MeterPlan
from meterhub.acquisition.results import SessionResult, StoreData
from meterhub.errors import InvalidValue
from meterhub.extensions.driver import (
    AuthenticationFailed,
    Driver,
    DriverError,
    LinkLost,
    MeterTimeout,
)
from meterhub.extensions.medium import Medium
from meterhub.extensions.push import NoKey, PushContent, PushMessage, Replayed

if TYPE_CHECKING:
    from meterhub.acquisition.engine import AcquisitionEngine

__all__ = ["StreamLine", "TelegramStats", "TelegramStream"]

log = logging.getLogger(__name__)


class StreamLine(Medium):
    """A file or pipe of received telegrams as a line; the end of the file ends the line."""

    name: ClassVar[str] = "stream"
    description: ClassVar[str] = "a file or pipe of received telegrams"

    def __init__(self, stream: BinaryIO, name: str = "stream") -> None:
        super().__init__(name)
        self._stream: BinaryIO | None = stream

    def open(self, timeout: float) -> None:
        """Nothing to open: the stream is given."""

    def read(self, size: int, timeout: float) -> bytes:
        """The next bytes (at most a line); ``LinkLost`` at the end of the stream."""
        stream = self._stream
        if stream is None:
            raise LinkLost(f"{self.address}: closed")
        data = stream.readline(size)
        if not data:
            raise LinkLost(f"{self.address}: end of the stream")
        return data

    def write(self, data: bytes) -> None:
        """A receiver's stream is read only."""
        raise LinkLost(f"{self.address}: a stream of received telegrams cannot be written")

    def close(self) -> None:
        """Close the stream; never raises."""
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass


@dataclass
class TelegramStats:
    """What the stream saw since it started."""

    telegrams: int = 0
    stored: int = 0
    values: int = 0
    unknown: int = 0
    refused: int = 0
    damaged: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        """Add to the counters."""
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)


class TelegramStream:
    """Reads one receiver's line and stores its meters' telegrams (see the module docstring).

    ``engine`` must be started (its writer commits). ``read_timeout`` is how long one read
    waits before it looks whether to stop. Telegrams are decoded in batches of up to
    ``batch_size``, collected for at most ``batch_seconds`` after the first
    (:meth:`~meterhub.extensions.driver.Driver.decode_pushes`: the ``wmbus`` driver's bulk
    decoder), and handed to the writer as one result per meter and batch.
    """

    def __init__(
        self,
        engine: AcquisitionEngine,
        medium: Medium,
        *,
        driver: str = "wmbus",
        read_timeout: float = 0.5,
        batch_size: int = 1000,
        batch_seconds: float = 0.2,
    ) -> None:
        drivers = engine.drivers
        if driver not in drivers:
            raise InvalidValue("driver", f"driver {driver!r} is not loaded")
        if not drivers[driver].receives_push:
            raise InvalidValue("driver", f"driver {driver!r} receives no telegrams")
        self.engine = engine
        self.medium = medium
        self.driver: Driver = drivers[driver]
        self.driver_name = driver
        self.directory = MeterDirectory(engine.runtime.engine, [driver])
        self.read_timeout = read_timeout
        self.batch_size = batch_size
        self.batch_seconds = batch_seconds
        self.stats = TelegramStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run(self) -> TelegramStats:
        """Read until the line ends or :meth:`stop`; returns the counters."""
        ended = False
        while not ended and not self._stop.is_set():
            batch, ended = self._read_batch()
            if batch:
                self.handle(batch)
        return self.stats

    def _read_batch(self) -> tuple[list[PushMessage], bool]:
        """Telegrams until :attr:`batch_size` or :attr:`batch_seconds` after the first;
        whether the line ended."""
        batch: list[PushMessage] = []
        deadline = None
        while len(batch) < self.batch_size and not self._stop.is_set():
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                break
            wait = self.read_timeout if deadline is None else min(deadline - now, 0.05)
            try:
                message = self.driver.read_push(self.medium, wait)
            except MeterTimeout:
                if batch:
                    break
                continue
            except LinkLost as exc:
                log.info("telegram stream %s ended: %s", self.medium.address, exc)
                return batch, True
            except DriverError as exc:
                self.stats.add(telegrams=1, damaged=1)
                log.debug("telegram stream %s: %s", self.medium.address, exc)
                continue
            batch.append(message)
            if deadline is None:
                deadline = now + self.batch_seconds
        return batch, False

    def handle(self, messages: Sequence[PushMessage]) -> int:
        """Identify, decode and queue telegrams for the writer; how many were queued."""
        self.stats.add(telegrams=len(messages))
        plans: list[MeterPlan] = []
        chosen: list[PushMessage] = []
        settings: list[Mapping[str, Any]] = []
        known: dict[int, Mapping[str, Any] | None] = {}
        found = [self.directory.find(message.identities) for message in messages]
        # the batch's meters' plans are loaded together on the first miss, not one by one
        self.engine.plans.expect(dict.fromkeys(m for m, _ in found if m is not None))
        heard: list[HeardTelegrams] = []
        for message, (meter_id, named) in zip(messages, found, strict=True):
            plan = self.engine.plans.get(meter_id) if meter_id is not None else None
            if plan is None or not plan.enabled:
                self.stats.add(unknown=1)
                status = "unknown meter" if plan is None else "meter disabled"
                heard.append(self._heard(message, status))
                log.debug("telegram of %s skipped: %s", message.identities[0], named)
                continue
            if plan.meter_id not in known:
                try:
                    known[plan.meter_id] = self.engine.executor.meter_settings(plan)
                except Exception as exc:  # a credential key that cannot be read, ...
                    known[plan.meter_id] = None
                    log.warning("telegrams of meter %s refused: %s", plan.serial, exc)
            meter_settings = known[plan.meter_id]
            if meter_settings is None:
                self.stats.add(refused=1)
                heard.append(self._heard(message, "no key"))
                continue
            plans.append(plan)
            chosen.append(message)
            settings.append(meter_settings)
        contents = self.driver.decode_pushes(chosen, settings) if chosen else []
        results: dict[int, SessionResult] = {}
        queued = values = 0
        for plan, message, content in zip(plans, chosen, contents, strict=True):
            if not isinstance(content, PushContent):
                self.stats.add(refused=1)
                heard.append(self._heard(message, _refusal(content)))
                log.warning("telegram of meter %s refused: %s", plan.serial, content)
                continue
            heard.append(self._heard(message, "stored"))
            result = results.get(plan.meter_id)
            if result is None:
                result = results[plan.meter_id] = SessionResult(
                    plan.meter_id, plan, [], received=StoreData()
                )
            assert result.received is not None
            before = len(result.received.register_ids)
            warnings: list[str] = []
            map_readings(plan, content.readings, result.received, warnings)
            for warning in warnings:
                log.debug("telegram of meter %s: %s", plan.serial, warning)
            result.state.update(content.state)
            plan.state.update(content.state)  # the next batch is judged against this one
            values += len(result.received.register_ids) - before
            queued += 1
        writer = self.engine.writer
        if writer is None:
            raise RuntimeError("the engine is not started: its writer stores the telegrams")
        carriers = list(results.values())
        if heard:
            if not carriers:  # only senders to record: a result of no meter carries them
                carriers.append(SessionResult(0, None, []))
            carriers[0].heard.extend(heard)
        for result in carriers:
            writer.put(result)
        self.stats.add(stored=queued, values=values)
        return queued

    def _heard(self, message: PushMessage, status: str) -> HeardTelegrams:
        return heard_from(message, self.driver_name, self.medium.address, status)

    def start(self) -> TelegramStream:
        """Run in a thread of its own."""
        self._thread = threading.Thread(target=self.run, name="meterhub-telegrams", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop reading (the line stays open for its owner to close)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


def _refusal(error: object) -> str:
    """The heard status of a telegram the driver refused."""
    if isinstance(error, NoKey):
        return "no key"
    if isinstance(error, AuthenticationFailed):
        return "wrong key"
    if isinstance(error, Replayed):
        return "replay"
    return "refused"
