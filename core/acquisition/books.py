"""What the engine keeps in memory about runs and meters, loaded in bulk and refreshed per run.

* :class:`RunBook`: each run's job facts (actions with parsed parameters, zone, reference time,
  retry policy, session timeout, who started it).
* :class:`PlanCache`: the meters' :class:`~meterhub.acquisition.plans.MeterPlan` objects. A
  miss loads the meter together with the next meters of the queue (hundreds per query set) and
  reserves their session counters in the same transaction (:mod:`meterhub.acquisition.counters`).
  The cache is bounded: plans of meters read long ago are evicted, so memory does not grow with
  the fleet; a plan loaded ahead is not evicted before its session asked for it (or
  :data:`AHEAD_STALE` seconds passed), or the next session's miss would load it again and
  evict the next ones in turn.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from meterhub.acquisition.actions import stored_parameters
from meterhub.acquisition.counters import reserve_counters
from meterhub.acquisition.plans import MeterPlan, PoolTable, load_plans
from meterhub.acquisition.tables import table_of as _table
from meterhub.model.jobs import Job, JobRun

__all__ = ["PlanCache", "RunBook", "RunInfo"]

log = logging.getLogger(__name__)

#: Meters loaded together (on a miss, or ahead).
PREFETCH = 500
#: Seconds between the loading thread's looks at how many plans loaded ahead are still unused.
AHEAD_LOOK = 0.05
#: Seconds after which a plan loaded ahead and not asked for (its ticket went to another
#: process, its run was cancelled) counts as an ordinary cached plan: evictable, and no longer
#: holding back the loads ahead.
AHEAD_STALE = 60.0

_MISSING = object()


@dataclass(frozen=True)
class RunInfo:
    """The facts of one run the sessions need."""

    run_id: int
    job_id: int
    job_name: str
    trigger: str
    started_by: str
    actions: tuple[tuple[str, Any], ...]
    zone: ZoneInfo
    reference: datetime
    session_timeout: float
    max_attempts: int
    retry_delay: float
    retry_backoff: float
    window_end: datetime | None

    def retry_after(self, attempts: int) -> float:
        """Seconds to wait before attempt ``attempts + 1``."""
        return float(self.retry_delay * self.retry_backoff ** max(0, attempts - 1))


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class RunBook:
    """Run facts by run id, loaded on demand from the database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._runs: dict[int, RunInfo] = {}
        self._lock = threading.Lock()

    def get(self, run_id: int) -> RunInfo:
        """The facts of run ``run_id`` (loaded once).

        Read without the lock (a dict lookup is atomic): every session asks several times,
        and a lock taken by hundreds of threads becomes a queue whenever its holder waits for
        the interpreter (see :mod:`meterhub.acquisition.interpreter`)."""
        info = self._runs.get(run_id)
        if info is None:
            self.load([run_id])
            info = self._runs[run_id]
        return info

    def load(self, run_ids: Iterable[int]) -> None:
        """Load (or reload) runs."""
        runs, jobs = _table(JobRun), _table(Job)
        wanted = sorted(set(run_ids))
        if not wanted:
            return
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(runs, jobs.c.name, jobs.c.actions, jobs.c.time_zone,
                       jobs.c.session_timeout, jobs.c.max_attempts, jobs.c.retry_delay,
                       jobs.c.retry_backoff)
                .join(jobs, jobs.c.id == runs.c.job_id)
                .where(runs.c.id.in_(wanted))
            ).all()  # fmt: skip
        found = {}
        for row in rows:
            actions = tuple(
                (entry["action"], stored_parameters(entry["action"], entry.get("parameters")))
                for entry in row.actions
            )
            reference = _aware(row.scheduled_for) or _aware(row.created_at)
            assert reference is not None
            found[row.id] = RunInfo(
                run_id=row.id,
                job_id=row.job_id,
                job_name=row.name,
                trigger=row.trigger_kind,
                started_by=row.started_by,
                actions=actions,
                zone=ZoneInfo(row.time_zone),
                reference=reference,
                session_timeout=float(row.session_timeout),
                max_attempts=int(row.max_attempts),
                retry_delay=float(row.retry_delay),
                retry_backoff=float(row.retry_backoff),
                window_end=_aware(row.window_end),
            )
        with self._lock:
            self._runs.update(found)

    def forget(self, run_id: int) -> None:
        """Drop a finished run."""
        with self._lock:
            self._runs.pop(run_id, None)


class PlanCache:
    """Meter plans, loaded in bulk ahead of their sessions and evicted least recently used first.

    :meth:`expect` names the meters coming next (in dispatch order). With :meth:`start`, a
    thread of its own keeps up to ``ahead`` of their plans loaded before their sessions ask,
    in loads of :data:`PREFETCH`, so a line that ends a session starts the next one without
    waiting for a query (at a thousand lines a wave of sessions ends together, and a load in
    the sessions' path made all of them wait for it). A miss still loads the meter at once,
    with the next expected ones as far as there is room ahead. Eviction takes the least recently
    used plan that was asked for; a plan loaded ahead stays until asked for (or stale), because
    evicting it made every later session miss, each miss loading plans that evicted the next
    ones in turn (measured: a run three times slower).

    ``warm`` (the store's :meth:`~meterhub.timeseries.MeterDataStore.channel_info`) is given,
    by the thread, the channel ids of the plans loaded ahead or by a session's miss, so the
    facts of those channels are cached before the batch writer stores their values: the writer,
    the one thread that commits, does not read them in its transactions.
    """

    def __init__(
        self,
        engine: Engine,
        pools: Callable[[], PoolTable],
        counters: Mapping[str, Mapping[str, int]],
        block: int,
        *,
        limit: int = 20_000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        warm: Callable[[list[int]], object] | None = None,
    ) -> None:
        self._engine = engine
        self._warm = warm
        self._pools = pools
        self._counters = counters
        self._block = block
        self._limit = max(limit, 2 * PREFETCH)
        #: Plans loaded ahead and not asked for yet, at most (half the cache).
        self._ahead_limit = max(PREFETCH, self._limit // 2)
        self._clock = clock
        self._plans: OrderedDict[int, MeterPlan | None] = OrderedDict()
        self._upcoming: deque[int] = deque()
        #: Plans loaded ahead and not asked for yet: meter id -> when loaded (monotonic), oldest
        #: first.
        self._ahead: dict[int, float] = {}
        #: Plans a session's miss loaded, whose channels the thread has still to warm.
        self._unwarmed: list[MeterPlan | None] = []
        self._lock = threading.Lock()
        self._wanted = threading.Condition(self._lock)
        self._loading = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = False

    def start(self) -> None:
        """Start loading expected plans ahead (a daemon thread, ``meterhub-plans``)."""
        with self._lock:
            if self._thread is not None:
                return
            self._stopping = False
            self._thread = threading.Thread(
                target=self._prefetch, name="meterhub-plans", daemon=True
            )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop loading ahead (a load in progress ends first)."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._stopping = True
            self._wanted.notify_all()
        if thread is not None:
            thread.join(timeout)

    def expect(self, meter_ids: Iterable[int]) -> None:
        """Meters that will be asked for soon, in the order they will be (prefetch hints)."""
        with self._lock:
            self._upcoming.extend(meter_ids)
            self._wanted.notify()

    def invalidate(self, meter_ids: Iterable[int] | None = None) -> None:
        """Forget plans (all, or of these meters) so they are read again."""
        with self._lock:
            if meter_ids is None:
                self._plans.clear()
                self._ahead.clear()
            else:
                for meter_id in meter_ids:
                    self._plans.pop(meter_id, None)
                    self._ahead.pop(meter_id, None)
            self._wanted.notify()

    def get(self, meter_id: int) -> MeterPlan | None:
        """The plan of ``meter_id``; ``None`` when the meter does not exist.

        A plan in the cache is returned without the lock (each step is one atomic operation
        on a dict or a set; the loading thread is woken by its own timeout), so the sessions
        of a thousand lines do not queue for it."""
        plan = self._plans.get(meter_id, _MISSING)
        if plan is not _MISSING:
            try:
                self._plans.move_to_end(meter_id)
            except KeyError:  # evicted meanwhile: the plan in hand serves this session
                pass
            self._ahead.pop(meter_id, None)
            return plan  # type: ignore[return-value]
        with self._loading:
            with self._lock:
                if meter_id in self._plans:
                    self._taken(meter_id)
                    return self._plans[meter_id]
                # the next expected ones come along, as many as may wait ahead
                batch = [meter_id, *self._next_expected(min(PREFETCH - 1, self._room()), meter_id)]
            loaded = self._load(batch, ahead=batch[1:])
        with self._lock:
            self._taken(meter_id)
            if self._warm is not None and self._thread is not None:
                self._unwarmed.extend(loaded)  # warmed by the thread, not in this session
                self._wanted.notify()
            return self._plans.get(meter_id)

    def _taken(self, meter_id: int) -> None:
        """A plan was asked for (called under the lock): one fewer loaded ahead."""
        if self._ahead.pop(meter_id, _MISSING) is not _MISSING:
            if self._upcoming:
                self._wanted.notify()

    def _next_expected(self, count: int, skip: int | None = None) -> list[int]:
        """Up to ``count`` expected meters whose plans are not loaded (under the lock)."""
        batch: list[int] = []
        while self._upcoming and len(batch) < count:
            candidate = self._upcoming.popleft()
            if candidate not in self._plans and candidate != skip:
                batch.append(candidate)
        return batch

    def _prefetch(self) -> None:
        while True:
            with self._lock:
                while (
                    not self._stopping
                    and not self._unwarmed
                    and (not self._upcoming or self._room() <= 0)
                ):
                    # plans taken from the cache do not notify (see get): look again soon
                    self._wanted.wait(AHEAD_LOOK if self._upcoming else None)
                if self._stopping:
                    return
                loaded, self._unwarmed = self._unwarmed, []
            failed = False
            with self._loading:
                with self._lock:
                    room = self._room()
                    batch = self._next_expected(min(PREFETCH, room)) if room > 0 else []
                if batch:
                    try:
                        loaded += self._load(batch, ahead=batch)
                    except Exception:  # the database is away: sessions load theirs on a miss
                        log.exception("loading %d meter plans ahead failed", len(batch))
                        failed = True
            self._warm_channels(loaded)  # a session that misses meanwhile need not wait for it
            if failed:
                with self._lock:
                    self._wanted.wait(1.0)

    def _warm_channels(self, plans: Iterable[MeterPlan | None]) -> None:
        """Hand the channels of plans this thread or a session's miss loaded to ``warm`` (the
        store loads the facts it lacks now, in this thread, rather than in the batch writer's
        transaction). A failure only leaves them to the writer."""
        if self._warm is None:
            return
        ids = sorted(
            {ref.channel_id for plan in plans if plan for refs in plan.channels.values()
             for ref in refs}
        )  # fmt: skip
        if not ids:
            return
        try:
            self._warm(ids)
        except Exception as exc:  # a channel deleted meanwhile, the database away
            log.warning("the facts of %d channels were not loaded ahead: %s", len(ids), exc)

    def _load(self, meter_ids: list[int], ahead: Iterable[int] = ()) -> list[MeterPlan | None]:
        with self._engine.begin() as connection:
            plans = load_plans(connection, meter_ids, self._pools())
            reserve_counters(connection, plans.values(), self._counters, self._block, self._clock())
        with self._lock:
            for meter_id in meter_ids:
                self._plans[meter_id] = plans.get(meter_id)
                self._plans.move_to_end(meter_id)
            loaded = time.monotonic()
            for meter_id in ahead:
                self._ahead[meter_id] = loaded
            self._evict()
        return [plans.get(meter_id) for meter_id in meter_ids]

    def _room(self) -> int:
        """How many more plans may be loaded ahead (under the lock); stale ones stop counting."""
        stale = time.monotonic() - AHEAD_STALE
        while self._ahead:
            try:
                oldest = next(iter(self._ahead))
            except (RuntimeError, StopIteration):  # a session took one meanwhile (no lock)
                continue
            if self._ahead.get(oldest, stale) > stale:
                break
            self._ahead.pop(oldest, None)
        return self._ahead_limit - len(self._ahead)

    def _evict(self) -> None:
        """Keep at most ``limit`` plans (under the lock): the least recently used plans that
        were asked for go first, plans loaded ahead only when nothing else is left."""
        excess = len(self._plans) - self._limit
        if excess <= 0:
            return
        # a snapshot: sessions move plans to the end without the lock (list() of int keys
        # runs without letting another thread in)
        for meter_id in list(self._plans):
            if meter_id not in self._ahead:
                self._plans.pop(meter_id, None)
                excess -= 1
                if not excess:
                    return
        while len(self._plans) > self._limit:
            evicted, _ = self._plans.popitem(last=False)
            self._ahead.pop(evicted, None)
