"""The scaled-out mode: one ``meterhub scheduler`` and any number of ``meterhub worker``
processes on any number of hosts, with a message broker between them.

Both are the embedded :class:`~meterhub.acquisition.engine.AcquisitionEngine` with another
:class:`BrokerLink` (a :class:`~meterhub.acquisition.dispatch.Dispatcher`) and a part of its
work each; the engine core does not know which mode runs it. The broker implementation is
:class:`meterhub.acquisition.broker.BrokerDispatcher` (RabbitMQ through kombu); this module does
not import it.

* :class:`SchedulerEngine` holds the scheduler lease (the ``engine`` lease of the embedded
  engine: one scheduler *or* one embedded engine per database); a second scheduler waits
  (:func:`run_scheduler`) and takes over when the lease lapses or is given up. It starts due
  jobs, adopts runs and **publishes their tickets**, cancels runs and ends closed windows. A
  task that failed and waits for a retry is in the database (state ``retry`` with its
  ``not_before``): the scheduler publishes it when it is due (:func:`due_retries`). Taking the
  lease over, it empties the queue and publishes every task of the running runs that has not
  ended (tasks still in a worker's hands are delivered twice at most, which is harmless, below).
* :class:`WorkerEngine` consumes tickets with a prefetch bounded by its line capacity, runs the
  sessions and commits the results through its own
  :class:`~meterhub.acquisition.writer.BatchWriter`; a message is acknowledged when the results
  of its tasks are committed. Before a session it **admits** the claim: tasks already ended
  (a message delivered again) are acknowledged and skipped, and the meter is locked across
  processes (:class:`~meterhub.acquisition.meterlocks.MeterLocks`, re-exported here) from
  before the session until its results are committed, so
  a meter is in one session at a time whatever worker holds its tickets, and a task delivered
  twice is seen ended by the second session's admission or refused by the writer (it locks the
  task rows and drops results of ended tasks). On PostgreSQL its admitter thread admits the
  tickets it receives in bulk **ahead**, before they wait for a line (a session then starts
  without a round trip to the database); each ticket holds a share of its meter's admission
  (``_Hold``), and the meter is unlocked when the last share is committed, dropped or found
  ended.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from abc import abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import DBAPIError

from meterhub.acquisition.books import PREFETCH as PLAN_BATCH
from meterhub.acquisition.dispatch import MAX_SIBLINGS, Claim, Dispatcher, Ticket
from meterhub.acquisition.engine import AcquisitionEngine, EngineOptions
from meterhub.acquisition.lease import EngineBusy
from meterhub.acquisition.meterlocks import MeterLocks
from meterhub.acquisition.observers import AcquisitionObserver
from meterhub.acquisition.plans import PoolTable
from meterhub.acquisition.runs import RUNS, TASKS
from meterhub.acquisition.writer import Committed
from meterhub.extensions.driver import Driver
from meterhub.model.tasks import TASK_FINAL_STATES

if TYPE_CHECKING:
    from meterhub.runtime import Runtime

__all__ = [
    "BrokerLink",
    "MeterLocks",
    "SchedulerEngine",
    "WorkerEngine",
    "due_retries",
    "run_scheduler",
    "waiting_tickets",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Seconds a claim whose meter is in a session elsewhere waits before it is tried again.
BUSY_METER_DELAY = 0.5
#: Seconds between a worker's looks at cancelled runs.
CANCEL_CHECK = 1.0
#: Tickets per line a worker holds unacknowledged (its default prefetch, in messages of
#: ``broker_message_meters`` meters): a ticket is held from its delivery through the session to
#: the commit of its results, so a line needs a few.
PREFETCH_PER_LINE = 4
#: Seconds between a worker's progress lines (INFO) while it has work.
REPORT_EVERY = 5.0


class BrokerLink(Dispatcher):
    """A dispatcher through a message broker: what the scaled-out processes add to
    :class:`~meterhub.acquisition.dispatch.Dispatcher` (``submit`` publishes)."""

    @abstractmethod
    def purge(self) -> int:
        """Drop the tickets waiting in the broker; returns how many."""

    @abstractmethod
    def consume(self, prefetch: int) -> None:
        """Start receiving tickets, at most ``prefetch`` unacknowledged at a time."""

    @abstractmethod
    def settle(self, task_ids: Iterable[int]) -> None:
        """These tasks are done with in this process: acknowledge their messages."""

    @abstractmethod
    def hold(self, task_ids: Iterable[int]) -> set[int]:
        """These tasks are to run in this process although no message of theirs came here (a
        meter that called in): a message of theirs that comes waits for :meth:`settle`, then
        is acknowledged. Returns those held: a task whose message is here already is not (its
        own ticket serves it), nor one held already (its results are on their way)."""

    @abstractmethod
    def retry_later(self, tickets: Sequence[Ticket], delay: float) -> None:
        """Hold ``tickets`` in this process and offer them again after ``delay`` s."""

    @abstractmethod
    def on_received(
        self, callback: Callable[[Sequence[Ticket]], None], *, takes: bool = False
    ) -> None:
        """Call ``callback`` with the tickets of each message received (in the consumer's
        thread: keep it short). With ``takes`` the callback takes the tickets: they wait in
        this process only once it hands them to :meth:`offer`."""

    @abstractmethod
    def offer(self, tickets: Sequence[Ticket]) -> None:
        """Queue tickets a ``takes`` callback of :meth:`on_received` took, in this process."""

    @abstractmethod
    def unsettled(self) -> int:
        """Tasks received and not settled yet."""

    @abstractmethod
    def shutdown(self) -> None:
        """Leave the broker: stop consuming (unacknowledged messages go back to the queue) and
        publishing. :meth:`close` only stops handing out claims."""


def _transient(error: DBAPIError) -> bool:
    if error.connection_invalidated:
        return True
    words = ("connection", "server closed", "terminating", "shutdown", "database is locked")
    return any(word in str(error.orig or error).lower() for word in words)


def with_database(action: Callable[[], T], stop: threading.Event, what: str) -> T | None:
    """Run ``action``, waiting through database outages (back-off up to 10 s) until it
    succeeds; ``None`` when ``stop`` is set first."""
    delay = 0.2
    while not stop.is_set():
        try:
            return action()
        except DBAPIError as exc:
            if not _transient(exc):
                raise
            log.warning("database unavailable while %s (%s); trying again in %.1f s",
                        what, str(exc.orig or exc).splitlines()[0], delay)  # fmt: skip
            stop.wait(delay)
            delay = min(delay * 2, 10.0)
    return None


# -- the scheduler ----------------------------------------------------------------------------


_TICKET_COLUMNS = (
    TASKS.c.id,
    TASKS.c.run_id,
    TASKS.c.meter_id,
    TASKS.c.action,
    TASKS.c.action_index,
    TASKS.c.pool_key,
    TASKS.c.attempts,
    RUNS.c.priority,
    RUNS.c.quick,
    RUNS.c.capacity_share,
)


def _ticket(row: Any) -> Ticket:
    """The ticket of a row of :data:`_TICKET_COLUMNS`."""
    return Ticket(
        task_id=int(row.id),
        run_id=int(row.run_id),
        meter_id=int(row.meter_id),
        action=row.action,
        action_index=int(row.action_index),
        pool=row.pool_key,
        priority=int(row.priority),
        quick=bool(row.quick),
        attempts=int(row.attempts),
        created=float(row.id),
        share=row.capacity_share,
    )


def due_retries(engine: Engine, run_ids: Sequence[int], now: datetime) -> list[Ticket]:
    """The tasks of ``run_ids`` waiting for a retry whose time has come, set ``queued`` (to be
    published) in the same transaction; their tickets."""
    if not run_ids:
        return []
    with engine.begin() as connection:
        rows = connection.execute(
            select(*_TICKET_COLUMNS)
            .join(RUNS, RUNS.c.id == TASKS.c.run_id)
            .where(
                TASKS.c.run_id.in_(sorted(run_ids)),
                TASKS.c.state == "retry",
                (TASKS.c.not_before.is_(None)) | (TASKS.c.not_before <= now),
            )
            .order_by(TASKS.c.id)
            .with_for_update(of=TASKS)
        ).all()
        if not rows:
            return []
        ids = [int(row.id) for row in rows]
        for start in range(0, len(ids), 500):
            connection.execute(
                update(TASKS)
                .where(TASKS.c.id.in_(ids[start : start + 500]), TASKS.c.state == "retry")
                .values(state="queued")
            )
    return [_ticket(row) for row in rows]


def waiting_tickets(
    engine: Engine, meter_id: int, now: datetime, *, leave: Iterable[int] = (), limit: int
) -> list[Ticket]:
    """The tasks of ``meter_id`` that wait for a session, in dispatch order (at most
    ``limit``, none of ``leave``): queued, or waiting for a retry that is due, in runs that
    run (adopted, not cancelled, their window open). Read under the meter's lock: no other
    process has them in a session, and whatever message of theirs is in the broker or in
    another worker finds them ended when it is admitted."""
    left = sorted(set(leave))
    if limit <= 0:
        return []
    query = (
        select(*_TICKET_COLUMNS)
        .join(RUNS, RUNS.c.id == TASKS.c.run_id)
        .where(
            TASKS.c.meter_id == meter_id,
            (TASKS.c.state == "queued")
            | (
                (TASKS.c.state == "retry")
                & ((TASKS.c.not_before.is_(None)) | (TASKS.c.not_before <= now))
            ),
            RUNS.c.status == "running",
            RUNS.c.finished_at.is_(None),
            RUNS.c.cancel_requested.is_(False),
            (RUNS.c.window_end.is_(None)) | (RUNS.c.window_end > now),
        )
    )
    if left:
        query = query.where(TASKS.c.id.not_in(left))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return sorted((_ticket(row) for row in rows), key=Ticket.order)[:limit]


class SchedulerEngine(AcquisitionEngine):
    """The coordinator alone, publishing tickets through ``link`` (see the module
    docstring). :attr:`lost` is set when another scheduler took the lease."""

    def __init__(
        self,
        runtime: Runtime,
        link: BrokerLink,
        *,
        poll_seconds: float = 0.5,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(
            runtime,
            options=EngineOptions(workers=0, poll_seconds=poll_seconds),
            clock=clock,
            dispatcher=link,
        )
        self.link = link
        self.lost = threading.Event()
        self.published = 0

    def _recover(self, now: datetime) -> None:
        """Taking the lease: empty the queue; the runs left running are adopted again, and
        every task of theirs not ended is published again."""
        dropped = self.link.purge()
        if dropped:
            log.info("dropped %d ticket(s) of the previous scheduler from the queue", dropped)
        super()._recover(now)

    def _adopt(self, run_id: int, now: datetime) -> list[Ticket]:
        tickets = super()._adopt(run_id, now)
        stamp = now.timestamp()
        due = [ticket for ticket in tickets if ticket.not_before <= stamp]
        waiting = [ticket.task_id for ticket in due if ticket.not_before > 0]
        if waiting:  # retries already due: published now, not again by due_retries
            with self._db.begin() as connection:
                connection.execute(
                    update(TASKS)
                    .where(TASKS.c.id.in_(waiting), TASKS.c.state == "retry")
                    .values(state="queued")
                )
        for ticket in due:
            ticket.not_before = 0.0
        self.published += len(due)
        return due

    def _poll(self) -> None:
        try:
            super()._poll()
        except EngineBusy as exc:
            log.warning("the scheduler lease was lost: %s", exc)
            self.lost.set()
            return
        with self._owned_lock:
            owned = sorted(self._owned)
        retries = due_retries(self._db, owned, self._clock())
        if retries:
            self.published += len(retries)
            self.dispatcher.submit(retries)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop scheduling and give the lease up (the next scheduler takes over at once)."""
        self.link.shutdown()  # a publication still waiting for the broker is abandoned
        super().stop(timeout)


def run_scheduler(
    make: Callable[[], SchedulerEngine],
    stop: threading.Event,
    *,
    waiting: Callable[[str], None] = lambda message: None,
    running: Callable[[SchedulerEngine], None] = lambda engine: None,
    retry_seconds: float = 1.0,
) -> None:
    """Run a scheduler until ``stop``: wait for the lease while another holds it, run while
    this one holds it, wait again if it is lost."""
    told = None
    while not stop.is_set():
        scheduler = make()
        try:
            scheduler.start()
        except EngineBusy as exc:
            scheduler.link.shutdown()
            if str(exc) != told:
                waiting(str(exc))
                told = str(exc)
            stop.wait(retry_seconds)
            continue
        except DBAPIError as exc:
            scheduler.link.shutdown()
            log.warning("database unavailable (%s); trying again", exc)
            stop.wait(retry_seconds)
            continue
        told = None
        running(scheduler)
        try:
            while not stop.is_set() and not scheduler.lost.is_set():
                stop.wait(0.2)
        finally:
            scheduler.stop()


# -- the worker -------------------------------------------------------------------------------

#: Tickets the admitter locks together at most (one pipeline per lock connection).
ADMIT_BATCH = 1000


class _Hold:
    """One admission of a meter in a worker (its lock, counted in :class:`MeterLocks`) and
    how many tickets still hold a share of it: the last one to be done with unlocks it."""

    __slots__ = ("left", "meter_id")

    def __init__(self, meter_id: int, left: int) -> None:
        self.meter_id = meter_id
        self.left = left


class WorkerEngine(AcquisitionEngine):
    """Sessions and their writer, fed by ``link`` (see the module docstring).

    ``capacity``: lines of the default pool in this worker (default: the setting);
    ``pools``: capacities of named pools in this worker (default: as in the database);
    ``prefetch``: unacknowledged messages at most (default: messages of
    :data:`PREFETCH_PER_LINE` tickets per line, so that the lines stay busy while the results
    of the previous sessions wait for their commit); ``listen``: ``HOST:PORT`` where meters
    that call in are accepted (empty: none).

    **Meters that call in** to a worker's listener: what they push goes through the worker's
    batch writer like everywhere (``alarms_stored`` after that commit). Their
    session takes the meter lock like any other (a meter locked elsewhere is not served: its
    push is stored, the line closed) and serves the meter's tickets this worker holds and its
    tasks waiting in the database (:func:`waiting_tickets`) that no other process has in a
    session. Their messages, wherever they are, stay in the broker's hands: admitted later
    they find their tasks ended and are acknowledged (a message of one that comes here
    meanwhile waits for it: :meth:`BrokerLink.hold`); a task the session leaves waiting for a
    retry is published again by the scheduler when it is due, and a message found for it
    before is acknowledged without running it.
    """

    def __init__(
        self,
        runtime: Runtime,
        link: BrokerLink,
        *,
        capacity: int | None = None,
        pools: Mapping[str, int] | None = None,
        prefetch: int | None = None,
        drivers: Mapping[str, Driver] | None = None,
        observers: Iterable[AcquisitionObserver] = (),
        clock: Callable[[], datetime] | None = None,
        listen: str = "",
    ) -> None:
        self._capacity_override = capacity
        self._pool_overrides = dict(pools or {})
        self._prefetch = prefetch
        super().__init__(
            runtime,
            options=EngineOptions(schedule=False, lease=False, poll_seconds=0.5, listen=listen),
            drivers=drivers,
            observers=observers,
            clock=clock,
            dispatcher=link,
        )
        self._pools = self._local_pools(self._pools)
        self.link = link
        self.locks = MeterLocks(self._db, self.name)
        self._admitter: threading.Thread | None = None
        self._arrivals: queue.SimpleQueue[list[Ticket] | None] = queue.SimpleQueue()
        self._holds_lock = threading.Lock()
        self._runs_seen: set[int] = set()
        self._runs_lock = threading.Lock()
        self._last_cancel_check = 0.0
        self._last_report = 0.0
        self.skipped = 0

    def _local_pools(self, table: PoolTable) -> PoolTable:
        named = dict(table.named)
        unknown = sorted(set(self._pool_overrides) - set(named))
        if unknown:
            log.warning("pools %s are not in the database; their capacities are kept", unknown)
        named.update(self._pool_overrides)
        default = self._capacity_override or table.default_capacity
        return replace(table, default_capacity=default, named=named)

    def _refresh_pools(self) -> None:
        with self._db.connect() as connection:
            from meterhub.acquisition.plans import load_pools

            table = load_pools(connection, self.runtime.settings.acquisition_default_capacity)
        self._pools = self._local_pools(table)
        self.dispatcher.refresh_capacities()

    def _plan_cache_size(self) -> int:
        """Plans of every ticket a worker may hold (prefetch), of its sessions and a loading
        batch: fewer, and plans loaded ahead are evicted before their sessions start (each
        then loads alone)."""
        table = self._local_pools(self._pools)
        lines = table.default_capacity + sum(table.named.values())
        meters = self.runtime.settings.broker_message_meters
        return self._prefetch_for(lines) * meters + lines + 2 * PLAN_BATCH

    def _prefetch_for(self, lines: int) -> int:
        """Unacknowledged messages at most: ``--prefetch``, or :data:`PREFETCH_PER_LINE`
        tickets per line in messages of ``broker_message_meters`` meters."""
        if self._prefetch:
            return self._prefetch
        meters = self.runtime.settings.broker_message_meters
        return max(1, math.ceil(PREFETCH_PER_LINE * max(1, lines) / meters))

    @property
    def lines(self) -> int:
        """Lines of this worker (the default pool and the named pools)."""
        return self._pools.default_capacity + sum(self._pools.named.values())

    def start(self) -> WorkerEngine:
        """Start the writer and the session threads (and the admitter, on PostgreSQL), then
        consume."""
        super().start()
        if self.locks.advisory:
            self._admitter = threading.Thread(
                target=self._admit_arrivals, name="meterhub-admitter", daemon=True
            )
            self._admitter.start()
        self.link.on_received(self._received, takes=self._admitter is not None)
        self.link.consume(self._prefetch_for(self.lines))
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking tickets, let the sessions end, commit (and acknowledge) their results,
        then leave the broker; tickets not served go back to the queue."""
        if not self.started:
            return
        super().stop(timeout)
        self.link.shutdown()
        if self._admitter is not None:
            self._arrivals.put(None)
            self._admitter.join(10)
            self._admitter = None
        self.locks.close()

    def _received(self, tickets: Sequence[Ticket]) -> None:
        """Plans of the meters coming are read again (a meter may have changed since its
        last run here), in bulk as their sessions ask for them; with the admitter the tickets
        go to it."""
        meters = list(dict.fromkeys(ticket.meter_id for ticket in tickets))
        self.plans.invalidate(meters)
        self.plans.expect(meters)
        if self._admitter is not None:
            self._arrivals.put(list(tickets))

    # -- admissions: a meter is locked before its session, its tickets' states read ----------

    def _admit_arrivals(self) -> None:
        """The admitter thread: lock the meters of the tickets received, in bulk, before they
        wait for a line (see the class docstring), then offer them to the lines."""
        while True:
            first = self._arrivals.get()
            if first is None:
                return
            tickets = list(first)
            while len(tickets) < ADMIT_BATCH:
                try:
                    more = self._arrivals.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._arrivals.put(None)
                    break
                tickets.extend(more)
            try:
                self._admit_ahead(tickets)
            except Exception:  # their sessions lock them one by one instead
                log.exception("%d tickets could not be admitted ahead", len(tickets))
                self.link.offer([t for t in tickets if t.admission is None])

    def _admit_ahead(self, tickets: list[Ticket]) -> None:
        by_meter: dict[int, list[Ticket]] = {}
        for ticket in tickets:
            by_meter.setdefault(ticket.meter_id, []).append(ticket)
        requests = {meter: [t.task_id for t in mine] for meter, mine in by_meter.items()}
        found = with_database(
            lambda: self.locks.admit_many(requests), self._stopping, "locking meters"
        )
        if found is None:  # stopping: the messages go back to the queue
            return
        ready: list[Ticket] = []
        busy: list[Ticket] = []
        for meter_id, mine in by_meter.items():
            states = found.get(meter_id)
            if states is None:  # in a session elsewhere: locked when a line takes it
                busy.extend(mine)
                continue
            hold = _Hold(meter_id, len(mine))
            for ticket in mine:
                ticket.admission = hold
            ready.extend(self._without_ended(mine, states))
        if ready:
            self.link.offer(ready)
        if busy:
            self.link.retry_later(busy, BUSY_METER_DELAY)

    def _release_tickets(self, tickets: Iterable[Ticket]) -> None:
        """These tickets are done with here: a meter whose admissions have no ticket left is
        unlocked."""
        meters = []
        with self._holds_lock:
            for ticket in tickets:
                hold = ticket.admission
                if hold is None:
                    continue
                ticket.admission = None
                hold.left -= 1
                if hold.left == 0:
                    meters.append(hold.meter_id)
        if meters:
            self.locks.release(meters)

    def _release_guard(self, hold: _Hold) -> None:
        """Drop the guard share an admission holds while its tickets are sorted."""
        with self._holds_lock:
            hold.left -= 1
            done = hold.left == 0
        if done:
            self.locks.release([hold.meter_id])

    def _admit(self, claim: Claim) -> bool:
        """Lock the meter across processes, then skip the tasks already ended (a message
        delivered again, a run cancelled): their messages are acknowledged. Tickets the
        admitter admitted are ready as they are."""
        if any(ticket.admission is None for ticket in claim.tickets):
            hold = self._admit_fresh(claim, "its tickets wait")
            if hold is None:
                return False
            self._release_guard(hold)
        if not claim.tickets:
            claim.done()
            return False
        with self._runs_lock:
            self._runs_seen.update(ticket.run_id for ticket in claim.tickets)
        return True

    def _admit_fresh(self, claim: Claim, otherwise: str) -> _Hold | None:
        """Lock the claim's meter for its tickets not admitted yet and drop (acknowledged and
        released) those whose tasks ended. Returns their hold, with one guard share the caller
        drops (:meth:`_release_guard`) once it has added what it adds; ``None`` when the meter
        is in a session elsewhere (or the worker is stopping): the claim is given back and its
        tickets tried again later (``otherwise`` says so in the log when locking failed)."""
        meter_id = claim.meter_id
        fresh = [ticket for ticket in claim.tickets if ticket.admission is None]
        ids = [ticket.task_id for ticket in fresh]
        try:
            found = with_database(
                lambda: self.locks.admit(meter_id, ids), self._stopping, "locking a meter"
            )
        except Exception:  # the worker thread must outlive any claim
            log.exception("meter %s could not be locked; %s", meter_id, otherwise)
            found = None
        if found is None:
            tickets = list(claim.tickets)
            claim.done()
            if tickets and not self._stopping.is_set():
                self.link.retry_later(tickets, BUSY_METER_DELAY)
            return None
        hold = _Hold(meter_id, len(fresh) + 1)  # the guard share
        for ticket in fresh:
            ticket.admission = hold
        kept = {ticket.task_id for ticket in self._without_ended(fresh, found)}
        ended = {ticket.task_id for ticket in fresh} - kept
        claim.tickets[:] = [ticket for ticket in claim.tickets if ticket.task_id not in ended]
        return hold

    def _without_ended(self, tickets: list[Ticket], states: Mapping[int, str]) -> list[Ticket]:
        """``tickets`` less (acknowledged and released) those whose tasks are not waiting for
        this message: ended, or waiting for a retry (the scheduler publishes it when it is due;
        the message is a copy left by a session that did not consume it)."""
        gone = [
            ticket
            for ticket in tickets
            if states.get(ticket.task_id, "cancelled") in TASK_FINAL_STATES
            or states.get(ticket.task_id) == "retry"
        ]
        if not gone:
            return tickets
        self.skipped += len(gone)
        self.link.settle(ticket.task_id for ticket in gone)
        self._release_tickets(gone)
        ended = {ticket.task_id for ticket in gone}
        return [ticket for ticket in tickets if ticket.task_id not in ended]

    def _admit_inbound(self, claim: Claim) -> bool:
        """A meter that called in: lock it as for any session, skip the tickets here already
        ended, and add its tasks waiting in the database (see the class docstring)."""
        meter_id = claim.meter_id
        hold = self._admit_fresh(claim, "its waiting tasks stay")
        if hold is None:  # in a session elsewhere: its tickets here wait as before
            return False
        try:
            waiting = waiting_tickets(
                self._db, meter_id, self._clock(),
                leave=[ticket.task_id for ticket in claim.tickets],
                limit=MAX_SIBLINGS - len(claim.tickets),
            )  # fmt: skip
        except Exception:  # the meter's tickets here are served all the same
            log.exception("the waiting tasks of meter %s could not be read", meter_id)
            waiting = []
        held_here = self.link.hold(ticket.task_id for ticket in waiting)
        added = [ticket for ticket in waiting if ticket.task_id in held_here]
        with self._holds_lock:
            hold.left += len(added)
        for ticket in added:
            ticket.admission = hold
        claim.tickets.extend(added)
        self._release_guard(hold)
        if not claim.tickets:
            return True
        with self._runs_lock:
            self._runs_seen.update(ticket.run_id for ticket in claim.tickets)
        return True

    def _committed(self, committed: Committed) -> None:
        """Results committed: acknowledge their messages, unlock their meters. Retries are
        published by the scheduler when they are due (the task says ``retry`` in the
        database)."""
        # each task gives back its share of its meter's admission (pushes have no task)
        self._release_tickets(o.ticket for r in committed.results for o in r.tasks)
        self.link.settle(o.ticket.task_id for r in committed.results for o in r.tasks)
        for job in committed.finished_runs:
            if job.run_id is not None:
                self._forget(job.run_id)

    def _forget(self, run_id: int) -> None:
        with self._runs_lock:
            self._runs_seen.discard(run_id)
        super()._forget(run_id)

    def _poll(self) -> None:
        tick = time.monotonic()
        if tick - self._last_pools >= 10.0:
            self._refresh_pools()
            self._last_pools = tick
        if tick - self._last_cancel_check >= CANCEL_CHECK:
            self._last_cancel_check = tick
            self._cancel_runs()
        if tick - self._last_report >= REPORT_EVERY:
            self._last_report = tick
            snapshot = self.dispatcher.snapshot()
            if snapshot.queued or snapshot.claimed or self.link.unsettled():
                log.info(
                    "sessions %d, tickets waiting %d, tasks not yet acknowledged %d, skipped %d",
                    snapshot.claimed,
                    snapshot.queued,
                    self.link.unsettled(),
                    self.skipped,
                )

    def _cancel_runs(self) -> None:
        """Runs users cancelled: drop their tickets here, stop their sessions."""
        with self._runs_lock:
            seen = sorted(self._runs_seen)
        if not seen:
            return
        with self._db.connect() as connection:
            rows = connection.execute(
                select(RUNS.c.id, RUNS.c.cancel_requested, RUNS.c.finished_at).where(
                    RUNS.c.id.in_(seen)
                )
            ).all()
        for row in rows:
            if row.cancel_requested:
                self._release_tickets(self.dispatcher.cancel_run(int(row.id)))
            if row.finished_at is not None:
                self._forget(int(row.id))

    def wait_idle(self, seconds: float) -> bool:
        """Wait until nothing is received and unsettled (tests)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not self.link.unsettled():
                return True
            time.sleep(0.05)
        return False
