"""The RabbitMQ dispatcher of the scaled-out mode (kombu): tickets published to a durable
priority queue by ``meterhub scheduler``, consumed by ``meterhub worker`` processes.

:class:`BrokerDispatcher` implements :class:`~meterhub.acquisition.scaled.BrokerLink` (a
:class:`~meterhub.acquisition.dispatch.Dispatcher` with the few calls the scaled-out processes
add). This is the only module that imports kombu; the engine core works with the interface.

* **Messages** (:func:`messages_of`): one message holds the tickets of up to
  :data:`MESSAGE_METERS` meters (a meter's tickets of one run, at most
  :data:`~meterhub.acquisition.dispatch.MAX_SIBLINGS`, always together) that come next in
  dispatch order with the same priority, JSON, persistent, in a durable queue with
  ``x-max-priority`` :data:`MAX_PRIORITY`. Ten meters a message rather than one cut the
  broker's work and the workers' receiving and acknowledging tenfold (at a thousand sessions
  a second they were a fifth of the machine's CPU). Publishing commits batches of
  :data:`PUBLISH_BATCH` messages in broker transactions (one round trip per batch rather than
  a confirm per message) and retries a batch through a lost connection until its commit
  succeeds (a ticket published twice is harmless: see below), so a published ticket survives
  a broker restart.
* **Priority** (:func:`broker_priority`): quick jobs :data:`MAX_PRIORITY`, otherwise
  ``2 × priority`` plus one for a first attempt; within a priority the queue is first in, first
  out (the age order).
* **Consuming**: one thread owns the connection and its channel (kombu channels are not
  thread-safe): it receives messages with a prefetch set by the worker (bounded by its line
  capacity) and hands their tickets to an in-process
  :class:`~meterhub.acquisition.dispatch.LocalDispatcher` that keeps the worker's line pools and
  one session per meter. **A message is acknowledged only when every task it carries is
  settled** (:meth:`BrokerDispatcher.settle`, called after the results are committed, or for a
  task found already ended); the acknowledgement goes back to the consumer thread through a
  queue. A message that arrives again while its task is still in this worker (a redelivery
  after a lost connection, or a task this worker took from the database for a meter that
  called in: :meth:`BrokerDispatcher.hold`) waits for that task instead of running it twice.
* **A lost connection** (broker restart, network) is reconnected with back-off and the queue
  consumed again; messages not acknowledged on the lost connection are delivered again by the
  broker.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kombu.connection import Connection
from kombu.entity import Queue
from kombu.message import Message
from kombu.messaging import Consumer, Producer

from meterhub.acquisition.dispatch import (
    MAX_SIBLINGS,
    Claim,
    DispatchSnapshot,
    LocalDispatcher,
    Ticket,
)
from meterhub.acquisition.scaled import BrokerLink
from meterhub.errors import ConfigurationError

__all__ = [
    "MAX_PRIORITY",
    "MESSAGE_METERS",
    "BrokerDispatcher",
    "broker_priority",
    "decode",
    "encode",
    "messages_of",
]

log = logging.getLogger(__name__)

#: ``x-max-priority`` of the queue: quick jobs; ``2 × priority + first attempt`` below.
MAX_PRIORITY = 20
#: Messages published in one broker transaction (committed, then they are the broker's).
PUBLISH_BATCH = 200
#: Seconds between heartbeats of the broker connection.
HEARTBEAT = 10
#: Longest pause between reconnection attempts.
MAX_BACKOFF = 5.0
#: Meters whose tickets share a message at most (the setting ``broker_message_meters``).
MESSAGE_METERS = 10

_FIELDS = ("task_id", "run_id", "meter_id", "action", "action_index", "pool", "priority",
           "quick", "attempts", "created", "share")  # fmt: skip


def broker_priority(ticket: Ticket) -> int:
    """The message priority of ``ticket``: quick first, then priority, then first attempts."""
    if ticket.quick:
        return MAX_PRIORITY
    return 2 * max(0, min(9, ticket.priority)) + (1 if ticket.attempts == 0 else 0)


def encode(tickets: Sequence[Ticket]) -> dict[str, Any]:
    """The message body of ``tickets`` (plain JSON data)."""
    return {"tickets": [[getattr(ticket, name) for name in _FIELDS] for ticket in tickets]}


def decode(body: Any) -> list[Ticket]:
    """The tickets of a message body; :class:`ValueError` naming what is wrong."""
    if not isinstance(body, dict) or not isinstance(body.get("tickets"), list):
        raise ValueError("the message has no list 'tickets'")
    tickets = []
    for index, row in enumerate(body["tickets"]):
        if not isinstance(row, list) or len(row) != len(_FIELDS):
            raise ValueError(f"tickets[{index}]: expected {len(_FIELDS)} fields")
        values = dict(zip(_FIELDS, row, strict=True))
        try:
            tickets.append(
                Ticket(
                    task_id=int(values["task_id"]),
                    run_id=int(values["run_id"]),
                    meter_id=int(values["meter_id"]),
                    action=str(values["action"]),
                    action_index=int(values["action_index"]),
                    pool=str(values["pool"]),
                    priority=int(values["priority"]),
                    quick=bool(values["quick"]),
                    attempts=int(values["attempts"]),
                    created=float(values["created"]),
                    share=None if values["share"] is None else float(values["share"]),
                )
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"tickets[{index}]: {exc}") from exc
    if not tickets:
        raise ValueError("the message has no tickets")
    return tickets


def messages_of(tickets: Iterable[Ticket], meters: int = MESSAGE_METERS) -> list[list[Ticket]]:
    """The messages that carry ``tickets``, in dispatch order: a meter's tickets of one run
    and pool (at most MAX_SIBLINGS) stay together, and the groups of up to ``meters`` meters
    that follow each other in that order with the same broker priority share a message."""
    groups: dict[tuple[int, int, str], list[list[Ticket]]] = {}
    for ticket in tickets:
        chunks = groups.setdefault((ticket.run_id, ticket.meter_id, ticket.pool), [[]])
        if len(chunks[-1]) >= MAX_SIBLINGS:
            chunks.append([])
        chunks[-1].append(ticket)
    found = [chunk for chunks in groups.values() for chunk in chunks]
    found.sort(key=lambda chunk: min(ticket.order() for ticket in chunk))
    packed: list[list[Ticket]] = []
    count, priority = 0, -1
    for chunk in found:
        mine = max(broker_priority(ticket) for ticket in chunk)
        if not packed or count >= meters or mine != priority:
            packed.append([])
            count, priority = 0, mine
        packed[-1].extend(chunk)
        count += 1
    return packed


@dataclass(eq=False)
class _Delivery:
    """One received message and the tasks it carries that are not settled yet."""

    message: Message
    outstanding: set[int] = field(default_factory=set)


class BrokerDispatcher(BrokerLink):
    """Tickets through RabbitMQ (see the module docstring).

    ``url``: the broker (``amqp://user:password@host:port/vhost``); ``queue_name``: the queue;
    ``capacity``: the capacity of a line pool in this process (consumers only); ``clock``: Unix
    time; ``message_meters``: meters whose tickets share a message at most (publishers).
    """

    def __init__(
        self,
        url: str,
        queue_name: str,
        *,
        capacity: Callable[[str], int] = lambda key: 1,
        clock: Callable[[], float] = time.time,
        message_meters: int = MESSAGE_METERS,
    ) -> None:
        if not url.startswith(("amqp://", "amqps://", "pyamqp://")):
            raise ConfigurationError(
                f"broker_url: {_safe(url)!r} is not an AMQP URL (amqp://user:password@host/vhost)"
            )
        self._url = url
        self._message_meters = max(1, message_meters)
        self._queue = Queue(
            queue_name,
            routing_key=queue_name,
            durable=True,
            queue_arguments={"x-max-priority": MAX_PRIORITY},
        )
        self.local = LocalDispatcher(capacity, clock=clock)
        self._lock = threading.Lock()
        self._by_task: dict[int, list[_Delivery]] = {}
        self._held: set[int] = set()
        self._acks: queue.SimpleQueue[Message] = queue.SimpleQueue()
        self._closed = threading.Event()
        self._consumer: threading.Thread | None = None
        self._connected = threading.Event()
        self._publish_lock = threading.Lock()
        self._publisher: Connection | None = None
        self._producer: Producer | None = None
        self._seq = itertools.count()
        self._received: Callable[[Sequence[Ticket]], None] | None = None
        self._takes = False
        self.received = 0
        self.reconnects = 0

    @property
    def queue_name(self) -> str:
        """The name of the queue."""
        return str(self._queue.name)

    # -- publishing (the scheduler) -------------------------------------------------------------

    def _producer_now(self) -> Producer:
        if self._producer is None:
            connection = Connection(self._url, heartbeat=0)
            connection.ensure_connection(max_retries=1)
            channel = connection.channel()
            self._queue.bind(channel).declare()
            channel.tx_select()  # batches of messages committed at once
            self._publisher = connection
            self._producer = Producer(channel, routing_key=self.queue_name)
        return self._producer

    def _drop_producer(self) -> None:
        if self._publisher is not None:
            try:
                self._publisher.release()
            except Exception:  # already gone
                log.debug("closing the lost publisher connection failed", exc_info=True)
        self._publisher = None
        self._producer = None

    def submit(self, tickets: Iterable[Ticket]) -> None:
        """Publish ``tickets`` (persistent, in committed batches); waits through broker
        outages until every batch is committed or the dispatcher is closed."""
        pending = messages_of(tickets, self._message_meters)
        count, started = len(pending), time.monotonic()
        delay = 0.2
        with self._publish_lock:
            while pending and not self._closed.is_set():
                try:
                    producer = self._producer_now()
                    while pending:
                        batch = pending[:PUBLISH_BATCH]
                        for chunk in batch:
                            producer.publish(
                                encode(chunk),
                                routing_key=self.queue_name,
                                serializer="json",
                                delivery_mode=2,
                                priority=max(broker_priority(ticket) for ticket in chunk),
                            )
                        producer.channel.tx_commit()  # the broker has them: persistent
                        del pending[: len(batch)]
                    delay = 0.2
                except Exception as exc:  # a lost connection or a refused publish: again
                    log.warning(
                        "the broker at %s did not take %d message(s) (%s); trying again in "
                        "%.1f s", _safe(self._url), len(pending), exc, delay,
                    )  # fmt: skip
                    self._drop_producer()
                    self._closed.wait(delay)
                    delay = min(delay * 2, MAX_BACKOFF)
        if pending:
            raise ConnectionError(f"{len(pending)} message(s) not published: dispatcher closed")
        if count >= 100:
            log.info("published %d messages in %.2f s", count, time.monotonic() - started)

    def purge(self) -> int:
        """Drop every ticket waiting in the queue (not those delivered and unacknowledged);
        returns how many. A scheduler taking over publishes every task not ended again."""
        with self._publish_lock:
            for attempt in range(30):
                try:
                    producer = self._producer_now()
                    return int(self._queue.bind(producer.channel).purge() or 0)
                except Exception as exc:
                    if attempt == 29:
                        raise
                    log.warning("the broker is not reachable (%s); trying again", exc)
                    self._drop_producer()
                    self._closed.wait(1.0)
        return 0  # pragma: no cover - the loop returns or raises

    # -- consuming (a worker) -------------------------------------------------------------------

    def consume(self, prefetch: int) -> None:
        """Start receiving with at most ``prefetch`` unacknowledged messages at a time."""
        if self._consumer is not None:
            return
        self._prefetch = max(1, min(65535, prefetch))
        self._consumer = threading.Thread(
            target=self._consume_loop, name="meterhub-broker", daemon=True
        )
        self._consumer.start()

    def wait_connected(self, timeout: float) -> bool:
        """Wait until the consumer is connected (for start-up messages and tests)."""
        return self._connected.wait(timeout)

    def _consume_loop(self) -> None:
        delay = 0.2
        while not self._closed.is_set():
            try:
                with Connection(self._url, heartbeat=HEARTBEAT) as connection:
                    connection.ensure_connection(max_retries=1)
                    channel = connection.channel()
                    queue_ = self._queue.bind(channel)
                    queue_.declare()
                    consumer = Consumer(
                        channel,
                        queues=[queue_],
                        callbacks=[self._on_message],
                        accept=["json"],
                        prefetch_count=self._prefetch,
                        on_decode_error=self._undecodable,
                    )
                    consumer.consume()
                    self._connected.set()
                    log.info("consuming %s at %s", self.queue_name, _safe(self._url))
                    delay = 0.2
                    last_beat = time.monotonic()
                    while not self._closed.is_set():
                        self._send_acks()
                        try:
                            connection.drain_events(timeout=0.05)
                        except TimeoutError:
                            pass
                        if time.monotonic() - last_beat > 1.0:
                            connection.heartbeat_check()
                            last_beat = time.monotonic()
                    self._send_acks()
                    try:
                        consumer.cancel()
                    except Exception:
                        log.debug("cancelling the consumer failed", exc_info=True)
            except Exception as exc:
                self._connected.clear()
                if self._closed.is_set():
                    break
                self.reconnects += 1
                log.warning(
                    "lost the broker at %s (%s); reconnecting in %.1f s",
                    _safe(self._url), exc, delay,
                )  # fmt: skip
                self._closed.wait(delay)
                delay = min(delay * 2, MAX_BACKOFF)
        self._connected.clear()

    def _send_acks(self) -> None:
        while True:
            try:
                message = self._acks.get_nowait()
            except queue.Empty:
                return
            if message.acknowledged:
                continue
            try:
                message.ack()
            except Exception as exc:  # the channel it came on is gone
                log.debug("acknowledging a message of a lost connection failed: %s", exc)

    def _undecodable(self, message: Message, error: Exception) -> None:
        log.error("a message of queue %s was refused: %s", self.queue_name, error)
        message.reject(requeue=False)

    def _on_message(self, body: Any, message: Message) -> None:
        self.received += 1
        try:
            tickets = decode(body)
        except ValueError as exc:
            log.error("a message of queue %s was refused: %s", self.queue_name, exc)
            message.reject(requeue=False)
            return
        delivery = _Delivery(message, {ticket.task_id for ticket in tickets})
        fresh = []
        with self._lock:
            for ticket in tickets:
                holders = self._by_task.setdefault(ticket.task_id, [])
                if not holders and ticket.task_id not in self._held:
                    fresh.append(ticket)
                holders.append(delivery)
        if fresh:
            if self._received is not None:
                self._received(fresh)
            if not self._takes:
                self.local.submit(fresh)

    def on_received(
        self, callback: Callable[[Sequence[Ticket]], None], *, takes: bool = False
    ) -> None:
        """Call ``callback`` with each message's tickets as they arrive; with ``takes`` it
        takes them (they wait here once it hands them to :meth:`offer`)."""
        self._received = callback
        self._takes = takes

    def offer(self, tickets: Sequence[Ticket]) -> None:
        """Queue tickets taken by the ``on_received`` callback here."""
        self.local.submit(tickets)

    def settle(self, task_ids: Iterable[int]) -> None:
        """These tasks are done with here (committed, or found ended): acknowledge every
        message whose tasks are all settled."""
        done = []
        with self._lock:
            for task_id in task_ids:
                self._held.discard(task_id)
                for delivery in self._by_task.pop(task_id, ()):
                    delivery.outstanding.discard(task_id)
                    if not delivery.outstanding:
                        done.append(delivery.message)
        for message in done:
            self._acks.put(message)

    def hold(self, task_ids: Iterable[int]) -> set[int]:
        """Tasks to run here without a message (a meter that called in): a message of theirs
        that arrives before they are settled waits for them, then is acknowledged. Returns
        those held; a task whose message is here already (a ticket waiting in this worker) is
        left to that ticket, and one held already (run by an earlier session whose results are
        not committed yet) is not run again."""
        with self._lock:
            fresh = {
                task_id
                for task_id in task_ids
                if not self._by_task.get(task_id) and task_id not in self._held
            }
            self._held |= fresh
        return fresh

    def retry_later(self, tickets: Sequence[Ticket], delay: float) -> None:
        """Queue ``tickets`` here again after ``delay`` s (their meter is busy elsewhere)."""
        for ticket in tickets:
            ticket.not_before = self.local._clock() + delay
        self.local.submit(tickets)

    # -- the Dispatcher interface ---------------------------------------------------------------

    def claim(self, timeout: float) -> Claim | None:
        """The next claim of this worker's tickets (line pools, one session per meter)."""
        return self.local.claim(timeout)

    def claim_meter(self, meter_id: int, pool: str | None = None) -> Claim | None:
        """A meter that called in: its tickets in this worker."""
        return self.local.claim_meter(meter_id, pool)

    def ack(self, task_ids: Sequence[int]) -> None:
        """The results of these tasks are committed: settle them."""
        self.settle(task_ids)

    def cancel_run(self, run_id: int, *, abort_running: bool = True) -> list[Ticket]:
        """Drop the run's tickets waiting here (their messages are acknowledged: the run's
        waiting tasks are cancelled in the database) and flag its sessions."""
        dropped = self.local.cancel_run(run_id, abort_running=abort_running)
        self.settle(ticket.task_id for ticket in dropped)
        return dropped

    def forget_run(self, run_id: int) -> None:
        """The run is over."""
        self.local.forget_run(run_id)

    def refresh_capacities(self) -> None:
        """Read this worker's pool capacities again."""
        self.local.refresh_capacities()

    def drained(self) -> bool:
        """No ticket waits in this worker and no session runs."""
        return self.local.drained()

    def snapshot(self) -> DispatchSnapshot:
        """The worker's tickets, claims and lines."""
        return self.local.snapshot()

    def unsettled(self) -> int:
        """Tasks received and not settled yet."""
        with self._lock:
            return len(self._by_task.keys() | self._held)

    def close(self) -> None:
        """Stop handing out claims (the engine is stopping); the broker connections stay until
        :meth:`shutdown`, so the results still being committed are acknowledged."""
        self.local.close()

    def shutdown(self) -> None:
        """Stop consuming (unacknowledged messages go back to the queue) and publishing."""
        self._closed.set()
        self.local.close()
        if self._consumer is not None:
            self._consumer.join(10)
            self._consumer = None
        with self._publish_lock:
            self._drop_producer()


def _safe(url: str) -> str:
    """``url`` without its password."""
    head, at, tail = url.rpartition("@")
    if not at:
        return url
    scheme, _, credentials = head.partition("://")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{tail}"
