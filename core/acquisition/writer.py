"""The results sink: sessions' results committed in batches across meters, then announced.

:class:`BatchWriter` collects :class:`~meterhub.acquisition.results.SessionResult` objects from
the workers and commits many meters' results in **one** transaction of the store's unit of work
(:meth:`meterhub.timeseries.MeterDataStore.run_unit_of_work`): the interval values of every
meter of the batch in one 2-D ``write_intervals`` per group of channels, register readings and
events likewise, and the engine's own rows — task states, session records with their debug
logs, run counters and the end of finished runs, session state, last reads, audit rows, error
groups, and the communication statistics (:mod:`meterhub.acquisition.statistics`: the batch's
sessions folded into counters per hour and level, then one upsert per counter row) and the
senders a receiver heard (:mod:`meterhub.acquisition.heard`). A task is
done only when that transaction committed; then, in order:

1. the dispatcher is told (:meth:`~meterhub.acquisition.dispatch.Dispatcher.ack`) and the
   retries are queued;
2. the plugins hear ``alarms_stored`` for the alarms a meter pushed (a result's ``alarms``),
   ``task_finished`` for each task that ended and ``job_finished`` for each run that ended
   (``readings_stored`` is fired by the store itself after the same commit);
3. the observers get a :class:`~meterhub.acquisition.observers.BatchReport`.

A batch is committed when it holds ``batch_size`` tasks or ``batch_seconds`` after its first
result. A database that cannot be reached is waited for (the batch is tried again with
back-off; the workers wait when the queue is full), so a database restart loses nothing. A
result the store refuses is committed on its own with its tasks failed (error class
``store``), so one bad meter never blocks the others.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, select
from sqlalchemy.exc import DBAPIError

from meterhub.acquisition.bookkeeping import (
    audit,
    current_states,
    insert_sessions,
    records,
    store_last_reads,
    store_state,
    time_sync,
    update_tasks,
)
from meterhub.acquisition.heard import record_heard
from meterhub.acquisition.observers import AcquisitionObserver, BatchReport, SessionRecord
from meterhub.acquisition.results import ProfileRow, SessionResult, StoreData, TaskOutcome
from meterhub.acquisition.runs import RUNS, count_outcomes, finish_runs
from meterhub.acquisition.statistics import record_statistics
from meterhub.extensions.events import FinishedJob, FinishedTask
from meterhub.model.tasks import TASK_FINAL_STATES
from meterhub.timeseries import MeterDataStore, UnitOfWork

__all__ = ["BatchWriter", "Committed"]

log = logging.getLogger(__name__)


_ALONE = "a batch of %d sessions cannot be stored; storing them one by one"

#: Queued by :meth:`BatchWriter.flush`: commit the batch being collected now.
_FLUSH: Any = object()

#: Register readings of one ``write_registers`` call: ids, times, values, status, keys seen.
_RegisterCall = tuple[list[int], list[int], list[float], list[int], set[tuple[int, int]]]


@dataclass
class Committed:
    """What one commit did: the outcomes that counted, events to fire, the report."""

    results: list[SessionResult]
    accepted: list[TaskOutcome] = field(default_factory=list)
    finished_tasks: list[FinishedTask] = field(default_factory=list)
    finished_runs: list[FinishedJob] = field(default_factory=list)
    sessions: list[SessionRecord] = field(default_factory=list)
    values: int = 0


def _epoch64(seconds: Sequence[int]) -> np.ndarray:
    return np.asarray(seconds, dtype="int64").astype("datetime64[s]")


def _path_name(outcome: TaskOutcome) -> str | None:
    if outcome.path is None:
        return None
    return "main" if outcome.path.priority == 1 else f"backup {outcome.path.priority - 1}"


class BatchWriter:
    """Commits results in batches (see the module docstring); one thread of its own."""

    def __init__(
        self,
        store: MeterDataStore,
        *,
        batch_size: int = 500,
        batch_seconds: float = 0.5,
        on_committed: Callable[[Committed], None] | None = None,
        notify: Callable[..., None] | None = None,
        observers: Iterable[AcquisitionObserver] = (),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        queue_limit: int | None = None,
    ) -> None:
        self._store = store
        self._batch_size = batch_size
        self._batch_seconds = batch_seconds
        self._on_committed = on_committed
        self._notify = notify
        self._observers = list(observers)
        self._clock = clock
        self._queue: queue.Queue[SessionResult | None] = queue.Queue(
            maxsize=queue_limit or 4 * batch_size
        )
        self._started: dict[int, tuple[datetime, int]] = {}
        self._started_lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._pending = 0
        self._pending_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="meterhub-writer", daemon=True)
        self._thread.start()

    # -- input ----------------------------------------------------------------------------------

    def put(self, result: SessionResult) -> None:
        """Queue a session's result (waits while the writer is a full queue behind)."""
        with self._pending_lock:
            self._pending += 1
            self._idle.clear()
        self._queue.put(result)

    def flush(self) -> None:
        """Commit what is queued now rather than waiting for the batch to fill (the engine
        calls it when no session runs and no task waits)."""
        self._queue.put(_FLUSH)

    def mark_started(self, task_ids: Iterable[int], attempts: Iterable[int], at: datetime) -> None:
        """Tasks went into a session: written as ``running`` with the next batch."""
        with self._started_lock:
            for task_id, attempt in zip(task_ids, attempts, strict=True):
                self._started[task_id] = (at, attempt)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every queued result is committed."""
        return self._idle.wait(timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Commit what is queued and end the thread."""
        self._queue.put(None)
        self._thread.join(timeout)

    # -- the thread -----------------------------------------------------------------------------

    def _run(self) -> None:
        stopping = False
        while not stopping:
            item = self._queue.get()
            if item is None:
                break
            if item is _FLUSH:
                continue
            batch = [item]
            tasks = len(item.tasks) or 1
            deadline = time.monotonic() + self._batch_seconds
            while tasks < self._batch_size:
                left = deadline - time.monotonic()
                try:
                    item = self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                if item is _FLUSH:  # nothing more is coming soon: commit now
                    break
                batch.append(item)
                tasks += len(item.tasks) or 1  # received values count like a task
            try:
                self._commit_batch(batch)
            except Exception:  # the thread must outlive any batch
                log.exception(
                    "results of %d sessions were lost; their tasks are queued again when an "
                    "engine starts",
                    len(batch),
                )
            with self._pending_lock:
                self._pending -= len(batch)
                if self._pending == 0:
                    self._idle.set()
        with self._pending_lock:
            self._idle.set()

    def _commit_batch(self, batch: list[SessionResult]) -> None:
        delay = 0.5
        while True:
            try:
                committed = self._commit(batch)
                break
            except DBAPIError as exc:
                if not _is_transient(exc):
                    log.exception(_ALONE, len(batch))
                    for result in batch:
                        self._commit_alone(result)
                    return
                log.warning("database unavailable (%s); trying the batch again in %.1f s",
                            str(exc.orig or exc).splitlines()[0], delay)  # fmt: skip
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
            except Exception:
                if len(batch) == 1:
                    self._commit_alone(batch[0])
                    return
                log.exception(_ALONE, len(batch))
                for result in batch:
                    self._commit_alone(result)
                return
        self._after_commit(committed)

    def _commit_alone(self, result: SessionResult) -> None:
        try:
            committed = self._commit([result])
        except Exception as exc:
            if isinstance(exc, DBAPIError) and _is_transient(exc):
                self._commit_batch([result])
                return
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            log.error("results of meter %s not stored: %s", result.meter_id, reason)
            result.received = None
            result.alarms = ()
            for outcome in result.tasks:
                outcome.data.profiles.clear()
                outcome.data.register_ids.clear()
                outcome.data.register_times.clear()
                outcome.data.register_values.clear()
                outcome.data.register_status.clear()
                outcome.data.event_ids.clear()
                outcome.data.event_times.clear()
                outcome.data.event_codes.clear()
                if outcome.state == "succeeded":
                    outcome.state = "failed"
                    outcome.error_class = "store"
                    outcome.error_message = f"the values could not be stored: {reason}"[:2000]
                outcome.last_read = None
            committed = self._commit([result])
        self._after_commit(committed)

    def _commit(self, batch: list[SessionResult]) -> Committed:
        started = time.monotonic()
        with self._started_lock:
            marks = self._started
            self._started = {}
        try:
            committed = self._store.run_unit_of_work(lambda uow: self._work(uow, batch, marks))
        except DBAPIError as exc:
            if _is_transient(exc):  # the marks go with the next attempt
                with self._started_lock:
                    for key, value in marks.items():
                        self._started.setdefault(key, value)
            raise
        committed.results = batch
        self._last_commit_seconds = time.monotonic() - started
        return committed

    # -- one transaction ------------------------------------------------------------------------

    def _work(
        self, uow: UnitOfWork, batch: list[SessionResult], marks: dict[int, tuple[datetime, int]]
    ) -> Committed:
        connection: Connection = uow.connection
        now = self._clock()
        committed = Committed(batch)
        outcomes = [outcome for result in batch for outcome in result.tasks]
        current, earlier = current_states(connection, [o.ticket.task_id for o in outcomes])
        accepted = [o for o in outcomes if current.get(o.ticket.task_id) not in TASK_FINAL_STATES]
        committed.accepted = accepted
        committed.values = self._store_values(
            uow,
            [o.data for o in accepted if o.state == "succeeded"]
            + [r.received for r in batch if r.received is not None],
        )
        session_ids = insert_sessions(connection, batch)
        committed.sessions = records(batch, session_ids)
        record_statistics(connection, batch, committed.sessions)
        record_heard(connection, (heard for result in batch for heard in result.heard))
        update_tasks(connection, batch, accepted, session_ids, earlier, marks, now)
        counts: dict[int, list[int]] = {}
        for outcome in accepted:
            if outcome.final:
                slot = {"succeeded": 0, "failed": 1, "cancelled": 2}[outcome.state]
                counts.setdefault(outcome.ticket.run_id, [0, 0, 0])[slot] += 1
        count_outcomes(connection, {run: (s, f, c) for run, (s, f, c) in counts.items()})
        committed.finished_runs = finish_runs(connection, counts, now)
        store_state(connection, batch, now)
        store_last_reads(connection, accepted)
        audit(connection, batch, accepted, now)
        time_sync(connection, accepted, now)
        finished = [o for o in accepted if o.final]
        job_of = {
            int(run_id): int(job_id)
            for run_id, job_id in connection.execute(
                select(RUNS.c.id, RUNS.c.job_id).where(
                    RUNS.c.id.in_({o.ticket.run_id for o in finished})
                )
            )
        } if finished else {}  # fmt: skip
        committed.finished_tasks = [
            FinishedTask(
                task_id=o.ticket.task_id,
                job_id=job_of.get(o.ticket.run_id),
                meter_id=o.ticket.meter_id,
                action=o.ticket.action,
                status=o.state,
                attempts=o.attempts,
                started=o.started,
                finished=o.finished,
                path=_path_name(o),
                error=o.error_message,
                run_id=o.ticket.run_id,
            )
            for o in accepted
            if o.final
        ]
        return committed

    def _store_values(self, uow: UnitOfWork, outcomes: list[StoreData]) -> int:
        """Write the values of ``outcomes`` (tasks' and received data) in few calls."""
        stored = 0
        # Whole rows of the same start and length (the usual batch: everyone's previous day)
        # go in one 2-D write with one start; the rest row by row into a padded matrix. A
        # channel appears at most once per call.
        whole: dict[tuple[int, int], list[dict[int, ProfileRow]]] = {}
        calls: list[dict[int, ProfileRow]] = []
        for outcome in outcomes:
            for row in outcome.profiles:
                groups = whole.setdefault((row.start, len(row.values)), []) if row.whole else calls
                for call in groups:
                    if row.channel_id not in call:
                        call[row.channel_id] = row
                        break
                else:
                    groups.append({row.channel_id: row})
        for (start, _), groups in whole.items():
            for call in groups:
                rows = list(call.values())
                # rows of one length: one concatenation, then a view as a matrix
                values = np.concatenate([row.values for row in rows]).reshape(len(rows), -1)
                status = np.concatenate([row.status for row in rows]).reshape(len(rows), -1)
                first = np.datetime64(start, "s")
                uow.write_intervals([row.channel_id for row in rows], first, values, status)
                stored += values.size
        for call in calls:
            rows = list(call.values())
            width = max(len(row.values) for row in rows)
            starts = _epoch64([row.start for row in rows])
            ids = [row.channel_id for row in rows]
            values = np.zeros((len(rows), width), dtype=np.float64)
            status = np.zeros((len(rows), width), dtype=np.uint32)
            present = np.zeros((len(rows), width), dtype=bool)
            for index, row in enumerate(rows):
                size = len(row.values)
                values[index, :size] = row.values
                status[index, :size] = row.status
                present[index, :size] = row.present
            uow.write_intervals(ids, starts, values, status, present=present)
            stored += int(present.sum())
        register_calls: list[_RegisterCall] = []
        for data in outcomes:
            for channel, at, value, word in zip(
                data.register_ids, data.register_times, data.register_values, data.register_status,
                strict=True,
            ):  # fmt: skip
                found = next((c for c in register_calls if (channel, at) not in c[4]), None)
                if found is None:
                    found = ([], [], [], [], set())
                    register_calls.append(found)
                found[4].add((channel, at))
                found[0].append(channel)
                found[1].append(at)
                found[2].append(value)
                found[3].append(word)
        for ids, times, vals, words, _ in register_calls:
            stamps = _epoch64(times)
            uow.write_registers(ids, stamps, np.asarray(vals), np.asarray(words, np.uint32))
            stored += len(ids)
        event_ids = [c for o in outcomes for c in o.event_ids]
        if event_ids:
            uow.write_events(
                event_ids,
                _epoch64([t for o in outcomes for t in o.event_times]),
                np.asarray([c for o in outcomes for c in o.event_codes], dtype=np.int64),
            )
            stored += len(event_ids)
        return stored

    # -- after the commit -----------------------------------------------------------------------

    def _after_commit(self, committed: Committed) -> None:
        if self._on_committed is not None:
            try:
                self._on_committed(committed)
            except Exception:
                log.exception("the engine failed to take a committed batch")
        if self._notify is not None:
            for result in committed.results:
                if result.alarms and result.received is not None:
                    self._notify("alarms_stored", meter_id=result.meter_id, alarms=result.alarms)
            for task in committed.finished_tasks:
                self._notify("task_finished", task=task)
            for job in committed.finished_runs:
                self._notify("job_finished", job=job)
        if self._observers:
            report = BatchReport(
                sessions=tuple(committed.sessions),
                finished_tasks=tuple(committed.finished_tasks),
                retried_tasks=tuple(o.ticket.task_id for o in committed.accepted if not o.final),
                finished_runs=tuple(committed.finished_runs),
                values_stored=committed.values,
                committed_at=self._clock(),
                commit_seconds=getattr(self, "_last_commit_seconds", 0.0),
                error_classes={
                    o.ticket.task_id: o.error_class
                    for o in committed.accepted
                    if o.error_class is not None and o.state != "succeeded"
                },
            )
            for observer in self._observers:
                try:
                    observer.batch_committed(report)
                except Exception:
                    log.exception("acquisition observer %r failed", observer)


def _is_transient(error: DBAPIError) -> bool:
    """Whether the database was unreachable (worth waiting for) rather than refusing data."""
    if error.connection_invalidated:
        return True
    text = str(error.orig or error).lower()
    return any(
        word in text
        for word in ("connection", "server closed", "terminating", "database is locked", "shutdown")
    )
