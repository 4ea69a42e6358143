"""The embedded acquisition engine: scheduler and workers in one process, no other service.

:class:`AcquisitionEngine` wires the engine core together in one process:

* a **coordinator** thread (the scheduler): starts the runs of scheduled jobs when their
  calendar says so, adopts runs created elsewhere (``meterhub job run`` in another process, the
  web UI), cancels what users cancel and what a closed window of opportunity leaves, refreshes
  line pools, clears old debug logs, and renews the engine's lease;
* the :class:`~meterhub.acquisition.dispatch.LocalDispatcher` (queue, line pools, one session
  per meter, capacity shares);
* **worker threads** (sessions mostly wait for meters, so threads are the right tool): each
  claims tickets, runs the session (:class:`~meterhub.acquisition.session.SessionExecutor`) and
  hands the result to the writer;
* the :class:`~meterhub.acquisition.writer.BatchWriter`, which commits results in batches across
  meters (communication statistics included) and only then counts tasks done; the runtime's
  :class:`~meterhub.acquisition.metrics.AcquisitionMetrics` observe its batches and read their
  gauges from :meth:`AcquisitionEngine.snapshot`.

The core modules know nothing of this wiring: a scaled-out deployment runs the coordinator in
``meterhub scheduler`` and the workers and writer in ``meterhub worker`` processes, with a broker
implementation of :class:`~meterhub.acquisition.dispatch.Dispatcher` in between
(``docs/acquisition.md``).

The database holds one engine at a time (a lease, :mod:`meterhub.acquisition.lease`): a second
``meterhub acquire`` is refused with the holder's name; runs started meanwhile wait in the
database until an engine adopts them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from meterhub.acquisition import interpreter
from meterhub.acquisition.books import PlanCache, RunBook
from meterhub.acquisition.dispatch import (
    Claim,
    Dispatcher,
    DispatchSnapshot,
    LocalDispatcher,
    Ticket,
)
from meterhub.acquisition.lease import holder_name, release_lease, take_lease
from meterhub.acquisition.observers import AcquisitionObserver
from meterhub.acquisition.plans import DEFAULT_POOL, PoolTable, load_pools
from meterhub.acquisition.results import SessionResult, TaskOutcome
from meterhub.acquisition.runs import RUNS, RunPolicy, cancel_waiting, finish_runs
from meterhub.acquisition.scheduling import adopt_run, prune_traces, recover_runs, start_due_jobs
from meterhub.acquisition.session import SessionExecutor
from meterhub.acquisition.statistics import prune_statistics
from meterhub.acquisition.tables import table_of as _table
from meterhub.acquisition.wakeup import RunListener
from meterhub.acquisition.watchdog import Watchdog
from meterhub.acquisition.writer import BatchWriter, Committed
from meterhub.credentials import CredentialCipher, CredentialError
from meterhub.errors import MeterHubError
from meterhub.extensions.driver import Driver
from meterhub.extensions.medium import Medium
from meterhub.model.firmware import FirmwareImage

if TYPE_CHECKING:
    from meterhub.acquisition.inbound import InboundListener
    from meterhub.runtime import Runtime
    from meterhub.vee.scheduling import VeeScheduler

__all__ = ["AcquisitionEngine", "EngineOptions"]

log = logging.getLogger(__name__)

#: The lease of the embedded engine.
LEASE = "engine"
POOL_REFRESH = 10.0
PRUNE_EVERY = 3600.0
#: Worker threads at most, whatever the line capacity.
MAX_WORKERS = 2048
#: Seconds a session thread waits for a claim before it looks again (a ticket, a due retry
#: and the engine's stop wake it earlier; hundreds of idle threads waking often cost CPU).
CLAIM_WAIT = 5.0
#: The line pool of sessions over lines that meters opened (meters that call in).
INBOUND_POOL = "inbound"


@dataclass(frozen=True)
class EngineOptions:
    """How an engine runs.

    ``workers``: session threads (default: the line capacity known at start, at most 2048;
    0 for an engine that only serves meters that call in).
    ``schedule``: start the runs of scheduled jobs (off for an engine that serves one run) and,
    with ``validation``, run the scheduled validation profiles
    and calculations (:class:`~meterhub.vee.scheduling.VeeScheduler`, a thread of its own).
    ``only_runs``: adopt only these runs. ``poll_seconds``: how often the coordinator looks at
    the database. ``lease``: hold the engine lease (one engine per database). ``listen``:
    ``HOST:PORT`` where meters that call in are accepted (:mod:`~meterhub.acquisition.inbound`;
    empty: no listener).
    """

    workers: int | None = None
    schedule: bool = True
    validation: bool = True
    only_runs: frozenset[int] | None = None
    poll_seconds: float = 0.5
    lease: bool = True
    listen: str = ""


class AcquisitionEngine:
    """Scheduler, dispatcher, workers and writer of one process (see the module docstring)."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        options: EngineOptions | None = None,
        drivers: Mapping[str, Driver] | None = None,
        observers: Iterable[AcquisitionObserver] = (),
        clock: Callable[[], datetime] | None = None,
        dispatcher: Dispatcher | None = None,
    ) -> None:
        self.runtime = runtime
        self.options = options or EngineOptions()
        self._clock = clock or (lambda: datetime.now(UTC))
        settings = runtime.settings
        self._db = runtime.engine
        self.name = holder_name()
        #: Seconds the lease lasts unrenewed (renewed every sixth of it).
        self._lease_ttl = float(settings.acquisition_lease_seconds)
        self._policy = RunPolicy(settings.acquisition_user_share, settings.acquisition_large_job)
        self._drivers: dict[str, Driver] = dict(drivers or {})
        for name, driver_class in runtime.plugins.drivers().items():
            self._drivers.setdefault(name, driver_class())
        counters = {
            name: {
                counter: int(model.model_fields[counter].default)
                for counter in model.session_counters()
            }
            for name, driver in self._drivers.items()
            if (model := driver.settings_model) is not None
        }
        with self._db.connect() as connection:
            self._pools = load_pools(connection, settings.acquisition_default_capacity)
        self.dispatcher: Dispatcher = dispatcher or LocalDispatcher(
            self._capacity, clock=lambda: self._clock().timestamp()
        )
        self.runs = RunBook(self._db)
        # Plans of the meters in sessions and of those coming next, not of the whole fleet.
        self.plans = PlanCache(
            self._db,
            lambda: self._pools,
            counters,
            settings.acquisition_counter_block,
            limit=self._plan_cache_size(),
            clock=self._clock,
            warm=runtime.store.channel_info,
        )
        self._watchdog: Watchdog | None = None
        self._cipher: CredentialCipher | None = None
        self._cipher_lock = threading.Lock()
        self._firmware_cache: dict[int, tuple[bytes, str, str]] = {}
        self.executor = SessionExecutor(
            engine=self._db,
            drivers=self._drivers,
            media=runtime.plugins.media(),
            runs=self.runs,
            plans=self.plans,
            watchdog=self._watchdog_proxy(),
            cipher=self._credential_cipher,
            firmware=self._firmware,
            clock=self._clock,
            trace_keep=settings.trace_keep,
            counter_block=settings.acquisition_counter_block,
        )
        self.writer: BatchWriter | None = None
        self._observers = list(observers)
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._owned: set[int] = set()
        self._owned_lock = threading.Lock()
        self._last_lease = 0.0
        self._last_pools = 0.0
        self._last_prune = 0.0
        self._poll_lock = threading.Lock()
        self._wake = threading.Event()
        self._untune: Callable[[], None] | None = None
        self._run_listener: RunListener | None = None
        #: Whether sessions run in this process (a scheduler alone has none).
        self._reads_meters = False
        self._profiles: VeeScheduler | None = None
        self.started = False
        #: The listener for meters that call in (with ``options.listen``), once started.
        self.inbound: InboundListener | None = None

    # -- helpers --------------------------------------------------------------------------------

    def _capacity(self, key: str) -> int:
        return self._pools.capacity(key)

    def _watchdog_proxy(self) -> Watchdog:
        if self._watchdog is None:
            self._watchdog = Watchdog()
        return self._watchdog

    def _credential_cipher(self) -> CredentialCipher | None:
        with self._cipher_lock:
            if self._cipher is None:
                from meterhub.credential_keys import open_cipher

                settings = self.runtime.settings
                try:
                    self._cipher = open_cipher(
                        settings.effective_credential_key_file, self.runtime.sessions
                    )
                except MeterHubError as exc:
                    raise CredentialError(str(exc)) from exc
            return self._cipher

    def _firmware(self, image_id: int) -> tuple[bytes, str, str]:
        cached = self._firmware_cache.get(image_id)
        if cached is None:
            table = _table(FirmwareImage)
            with self._db.connect() as connection:
                row = connection.execute(
                    select(table.c.content, table.c.version, table.c.sha256).where(
                        table.c.id == image_id
                    )
                ).first()
            if row is None:
                from meterhub.extensions.driver import DeviceError

                raise DeviceError(f"firmware image {image_id} is no longer in the store")
            cached = (bytes(row.content), str(row.version), str(row.sha256))
            self._firmware_cache = {image_id: cached}
        return cached

    def _plan_cache_size(self) -> int:
        """Meter plans kept: those of the sessions and of the tickets coming next."""
        return 4 * self._worker_count()

    def _worker_count(self) -> int:
        if self.options.workers is not None:
            return max(0, self.options.workers)
        total = self._pools.default_capacity + sum(self._pools.named.values())
        return max(4, min(MAX_WORKERS, total))

    # -- life -------------------------------------------------------------------------------------

    def start(self) -> AcquisitionEngine:
        """Take the lease, recover runs left by a stopped engine, start the threads."""
        if self.started:
            return self
        self._reads_meters = self._worker_count() > 0
        now = self._clock()
        if self.options.lease:
            take_lease(self._db, LEASE, self.name, self._lease_ttl, now)
            self._last_lease = time.monotonic()
            self._recover(now)
        settings = self.runtime.settings
        metrics = self.runtime.metrics
        self.writer = BatchWriter(
            self.runtime.store,
            batch_size=settings.acquisition_batch_size,
            batch_seconds=settings.acquisition_batch_seconds,
            on_committed=self._committed,
            notify=self.runtime.plugins.notify,
            observers=[*self._observers, metrics],
            clock=self._clock,
            queue_limit=2 * settings.acquisition_batch_size,
        )
        metrics.watch(self.snapshot)
        self._untune = interpreter.tune(
            settings.acquisition_switch_interval, settings.acquisition_gc_threshold
        )
        self._stopping.clear()
        if self._reads_meters:  # a scheduler alone reads no meter: nothing to load ahead
            self.plans.start()
        if self.options.schedule:  # runs started by other processes wake the coordinator
            self._run_listener = RunListener(self._db, self.wake).start()
        for number in range(self._worker_count()):
            thread = threading.Thread(
                target=self._work, name=f"meterhub-worker-{number}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        self.started = True
        self.poll()
        if self.options.schedule and self.options.validation:
            # Imported here: the VEE package reads calendars from this package.
            from meterhub.vee.scheduling import VeeScheduler

            self._profiles = VeeScheduler(
                self.runtime.vee,
                self.runtime.sessions,
                calculations=self.runtime.calculations,
                clock=self._clock,
            ).start()
        coordinator = threading.Thread(
            target=self._coordinate, name="meterhub-scheduler", daemon=True
        )
        coordinator.start()
        self._threads.append(coordinator)
        if self.options.listen:
            from meterhub.acquisition.inbound import InboundListener, parse_listen

            try:
                host, port = parse_listen(self.options.listen, "inbound_listen")
                self.inbound = InboundListener(
                    self, host, port, driver=settings.inbound_driver
                ).start()
            except BaseException:
                self.stop()
                raise
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop claiming, let running sessions end, commit what they brought, give the lease
        up. Tasks still queued stay queued in the database for the next engine."""
        if not self.started:
            return
        if self.inbound is not None:
            self.inbound.stop()
            self.inbound = None
        self._stopping.set()
        self._wake.set()
        self.dispatcher.close()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.1, deadline - time.monotonic()))
        self._threads = []
        if self._profiles is not None:
            self._profiles.stop(max(0.1, deadline - time.monotonic()))
            self._profiles = None
        self.plans.stop()
        if self._run_listener is not None:
            self._run_listener.stop()
            self._run_listener = None
        if self.writer is not None:
            self.writer.close(max(1.0, deadline - time.monotonic()))
        self.runtime.metrics.unwatch(self.snapshot)
        if self._watchdog is not None:
            self._watchdog.stop()
        if self.options.lease:
            try:
                release_lease(self._db, LEASE, self.name)
            except Exception:
                log.exception("the engine lease could not be released")
        if self._untune is not None:
            self._untune()
            self._untune = None
        self.started = False

    def __enter__(self) -> AcquisitionEngine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the workers ------------------------------------------------------------------------------

    def _work(self) -> None:
        dispatcher = self.dispatcher
        while not self._stopping.is_set():
            claim = dispatcher.claim(timeout=CLAIM_WAIT)
            if claim is None or not self._admit(claim):
                continue
            assert self.writer is not None
            self.writer.mark_started(
                [t.task_id for t in claim.tickets],
                [t.attempts + 1 for t in claim.tickets],
                self._clock(),
            )
            try:
                result = self.executor.execute(claim)
            except Exception as exc:
                log.exception("session with meter %s failed", claim.meter_id)
                now = self._clock()
                result = SessionResult(
                    claim.meter_id,
                    None,
                    [
                        TaskOutcome(t, "failed", t.attempts + 1, now, now, "internal", str(exc))
                        for t in claim.tickets
                    ],
                )
            finally:
                claim.done()
            self.writer.put(result)
            if dispatcher.drained():  # the last session of the moment: do not wait for more
                self.writer.flush()

    def _admit(self, claim: Claim) -> bool:
        """Whether the claim's session may run now (the embedded engine admits every claim; a
        process sharing meters with others may look at the database first and give the claim
        back with ``claim.done()``)."""
        return True

    def serve_inbound(self, meter_id: int, medium: Medium) -> SessionResult | None:
        """Run the waiting tasks of a meter that called in, over its own line ``medium``.

        The seam of the listener for meters that call in (``docs/acquisition.md``): it has
        accepted the connection and identified the meter; this claims the meter (``None`` when
        it is in another session, here or, on a worker, in another process:
        :meth:`_admit_inbound`), runs its ready tickets in this thread over ``medium`` (left
        open) and queues the result for the writer like any other session's.
        """
        claim = self.dispatcher.claim_meter(meter_id, pool=INBOUND_POOL)
        if claim is None or not self._admit_inbound(claim):
            return None
        try:
            if not claim.tickets:
                return SessionResult(meter_id, None, [])
            assert self.writer is not None
            self.writer.mark_started(
                [t.task_id for t in claim.tickets],
                [t.attempts + 1 for t in claim.tickets],
                self._clock(),
            )
            result = self.executor.execute(claim, inbound=medium)
        finally:
            claim.done()
        assert self.writer is not None
        self.writer.put(result)
        return result

    def _admit_inbound(self, claim: Claim) -> bool:
        """Whether the session of a meter that called in may run now, with which tickets (the
        embedded engine: the meter's ready tickets, as claimed). A process sharing meters with
        others locks the meter first and may add the meter's waiting tasks it finds in the
        database; refusing, it gives the claim back with ``claim.done()``."""
        return True

    def _committed(self, committed: Committed) -> None:
        retries = []
        for outcome in committed.accepted:
            if outcome.final:
                continue
            ticket = outcome.ticket
            retries.append(
                Ticket(
                    task_id=ticket.task_id,
                    run_id=ticket.run_id,
                    meter_id=ticket.meter_id,
                    action=ticket.action,
                    action_index=ticket.action_index,
                    pool=ticket.pool,
                    priority=ticket.priority,
                    quick=ticket.quick,
                    attempts=outcome.attempts,
                    created=ticket.created,
                    not_before=outcome.not_before.timestamp() if outcome.not_before else 0.0,
                    share=ticket.share,
                )
            )
        self.dispatcher.ack([o.ticket.task_id for o in committed.accepted])
        if retries:
            self.dispatcher.submit(retries)
        for job in committed.finished_runs:
            if job.run_id is not None:
                self._forget(job.run_id)

    def _forget(self, run_id: int) -> None:
        with self._owned_lock:
            self._owned.discard(run_id)
        self.runs.forget(run_id)
        self.dispatcher.forget_run(run_id)

    # -- the coordinator ----------------------------------------------------------------------

    def _coordinate(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.options.poll_seconds)
            self._wake.clear()
            if self._stopping.is_set():
                break
            try:
                self.poll()
            except DBAPIError as exc:
                log.warning("the acquisition scheduler cannot reach the database (%s); trying "
                            "again", str(exc.orig or exc).strip().splitlines()[0])  # fmt: skip
            except Exception:
                log.exception("the acquisition scheduler failed; trying again")

    def wake(self) -> None:
        """Look at the database now (a run was started in this process) rather than at the
        next poll."""
        self._wake.set()

    def poll(self) -> None:
        """One round of the coordinator (the thread calls it; tests may too)."""
        with self._poll_lock:
            self._poll()

    def _poll(self) -> None:
        now = self._clock()
        tick = time.monotonic()
        if self.options.lease and tick - self._last_lease >= self._lease_ttl / 6:
            take_lease(self._db, LEASE, self.name, self._lease_ttl, now)
            self._last_lease = tick
        if tick - self._last_pools >= POOL_REFRESH:
            self._refresh_pools()
            self._last_pools = tick
        if self.options.schedule:
            self._start_due_jobs(now)
        self._adopt_runs(now)
        self._end_runs(now)
        if tick - self._last_prune >= PRUNE_EVERY:
            self.prune_traces(now)
            self.prune_statistics(now)
            self._last_prune = tick

    def _refresh_pools(self) -> None:
        with self._db.connect() as connection:
            self._pools = load_pools(connection, self.runtime.settings.acquisition_default_capacity)
        self.dispatcher.refresh_capacities()

    def _recover(self, now: datetime) -> None:
        """Runs an engine left running (it stopped or died): queue them again."""
        orphans = recover_runs(self._db)
        if orphans:
            log.info("runs %s were left running by a stopped engine; queued again", orphans)

    def _start_due_jobs(self, now: datetime) -> None:
        start_due_jobs(self._db, now, self._pools, self._policy)

    def _adopt_runs(self, now: datetime) -> None:
        query = select(RUNS.c.id).where(RUNS.c.status == "queued").order_by(RUNS.c.id)
        only = self.options.only_runs
        if only is not None:
            query = query.where(RUNS.c.id.in_(sorted(only)))
        with self._db.connect() as connection:
            waiting = [int(row[0]) for row in connection.execute(query)]
        tickets: list[Ticket] = []
        for run_id in waiting:
            tickets.extend(self._adopt(run_id, now))
        # all at once: the dispatch order decides (a quick job created with others goes first)
        self.dispatcher.submit(tickets)

    def _adopt(self, run_id: int, now: datetime) -> list[Ticket]:
        """Take a queued run; return its tickets (to submit)."""
        adopted = adopt_run(self._db, run_id, self.name, now)
        if adopted is None:
            return []
        tickets, events = adopted
        self.runs.load([run_id])
        with self._owned_lock:
            self._owned.add(run_id)
        meters = [ticket.meter_id for ticket in tickets]
        self.plans.invalidate(meters)
        if self._reads_meters:  # only sessions of this process ask for plans
            self.plans.expect(dict.fromkeys(meters))
        self._fire(events)
        return tickets

    def _end_runs(self, now: datetime) -> None:
        """Cancellations and closed windows of the runs this engine owns."""
        with self._owned_lock:
            owned = sorted(self._owned)
        if not owned:
            return
        with self._db.connect() as connection:
            rows = connection.execute(
                select(RUNS.c.id, RUNS.c.cancel_requested, RUNS.c.window_end).where(
                    RUNS.c.id.in_(owned), RUNS.c.finished_at.is_(None)
                )
            ).all()
        for run_id in set(owned) - {row.id for row in rows}:
            self._forget(run_id)  # ended by a writer of another process
        for row in rows:
            window_end = row.window_end.replace(tzinfo=UTC) if row.window_end else None
            if row.cancel_requested:
                self.dispatcher.cancel_run(row.id)
                error_class, message = "cancelled", "the run was cancelled"
            elif window_end is not None and now >= window_end:
                self.dispatcher.cancel_run(row.id, abort_running=False)
                error_class = "window"
                message = f"the window of opportunity closed at {window_end.isoformat()}"
            else:
                continue
            with self._db.begin() as connection:
                cancel_waiting(connection, row.id, now, error_class=error_class, message=message)
                events = finish_runs(connection, [row.id], now)
            self._fire(events)
            for event in events:
                if event.run_id is not None:
                    self._forget(event.run_id)

    def _fire(self, events: Iterable[object]) -> None:
        for event in events:
            self.runtime.plugins.notify("job_finished", job=event)

    # -- upkeep and monitoring ------------------------------------------------------------------

    def prune_traces(self, now: datetime | None = None) -> int:
        """Clear frame traces older than the retention (the session records stay)."""
        now = now or self._clock()
        return prune_traces(
            self._db, now - timedelta(days=self.runtime.settings.trace_retention_days)
        )

    def prune_statistics(self, now: datetime | None = None) -> int:
        """Delete the per-object communication statistics older than the retention (the
        summary stays)."""
        now = now or self._clock()
        days = self.runtime.settings.statistics_retention_days
        return prune_statistics(self._db, now - timedelta(days=days))

    def snapshot(self) -> DispatchSnapshot:
        """Tickets queued and waiting, claims in sessions, lines in use per pool — the
        default pool and every named pool, used or not."""
        snapshot = self.dispatcher.snapshot()
        pools = self._pools
        known = {DEFAULT_POOL: pools.default_capacity}
        known.update((f"pool:{name}", capacity) for name, capacity in pools.named.items())
        missing = {key: (0, lines) for key, lines in known.items() if key not in snapshot.pools}
        if not missing:
            return snapshot
        return replace(snapshot, pools={**missing, **snapshot.pools})

    def idle(self) -> bool:
        """Nothing queued, nothing in a session, nothing waiting to be committed."""
        snapshot = self.dispatcher.snapshot()
        writer_idle = self.writer is None or self.writer.wait_idle(0)
        return not (snapshot.queued or snapshot.delayed or snapshot.claimed) and writer_idle

    @property
    def drivers(self) -> Mapping[str, Driver]:
        """The drivers of this engine's sessions, by name."""
        return self._drivers

    @property
    def pools(self) -> PoolTable:
        """The line pools as last read."""
        return self._pools
