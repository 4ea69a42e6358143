"""What the engine keeps in memory about runs and meters, loaded in bulk and refreshed per run.

* :class:`RunBook`: each run's job facts (actions with parsed parameters, zone, reference time,
  retry policy, session timeout, who started it).
* :class:`PlanCache`: the meters' :class:`~meterhub.acquisition.plans.MeterPlan` objects. A
  miss loads the meter together with the next meters of the queue (hundreds per query set) and
  reserves their session counters in the same transaction (:mod:`meterhub.acquisition.counters`).
  The cache is bounded: plans of meters read long ago are evicted, so memory does not grow with
  the fleet.
"""

from __future__ import annotations

import threading
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

#: Meters loaded together on a miss.
PREFETCH = 500


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
        """The facts of run ``run_id`` (loaded once)."""
        with self._lock:
            info = self._runs.get(run_id)
        if info is None:
            self.load([run_id])
            with self._lock:
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
    """Meter plans, loaded in bulk on a miss and evicted least recently used first."""

    def __init__(
        self,
        engine: Engine,
        pools: Callable[[], PoolTable],
        counters: Mapping[str, Mapping[str, int]],
        block: int,
        *,
        limit: int = 20_000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._engine = engine
        self._pools = pools
        self._counters = counters
        self._block = block
        self._limit = max(limit, 2 * PREFETCH)
        self._clock = clock
        self._plans: OrderedDict[int, MeterPlan | None] = OrderedDict()
        self._upcoming: deque[int] = deque()
        self._lock = threading.Lock()
        self._loading = threading.Lock()

    def expect(self, meter_ids: Iterable[int]) -> None:
        """Meters that will be asked for soon, in the order they will be (prefetch hints)."""
        with self._lock:
            self._upcoming.extend(meter_ids)

    def invalidate(self, meter_ids: Iterable[int] | None = None) -> None:
        """Forget plans (all, or of these meters) so they are read again."""
        with self._lock:
            if meter_ids is None:
                self._plans.clear()
            else:
                for meter_id in meter_ids:
                    self._plans.pop(meter_id, None)

    def get(self, meter_id: int) -> MeterPlan | None:
        """The plan of ``meter_id``; ``None`` when the meter does not exist."""
        with self._lock:
            if meter_id in self._plans:
                self._plans.move_to_end(meter_id)
                return self._plans[meter_id]
        with self._loading:
            with self._lock:
                if meter_id in self._plans:
                    return self._plans[meter_id]
                batch = [meter_id]
                while self._upcoming and len(batch) < PREFETCH:
                    candidate = self._upcoming.popleft()
                    if candidate not in self._plans and candidate != meter_id:
                        batch.append(candidate)
            self._load(batch)
        with self._lock:
            return self._plans.get(meter_id)

    def _load(self, meter_ids: list[int]) -> None:
        with self._engine.begin() as connection:
            plans = load_plans(connection, meter_ids, self._pools())
            reserve_counters(connection, plans.values(), self._counters, self._block, self._clock())
        with self._lock:
            for meter_id in meter_ids:
                self._plans[meter_id] = plans.get(meter_id)
                self._plans.move_to_end(meter_id)
            while len(self._plans) > self._limit:
                self._plans.popitem(last=False)
