"""The scheduler's work on the database: occurrences started, runs adopted and recovered,
debug logs pruned.

The coordinator of :class:`~meterhub.acquisition.engine.AcquisitionEngine` calls these in each
round; a scaled-out ``meterhub scheduler`` calls the same functions while it holds the lease.
Each runs in a transaction of its own.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.orm import Session

from meterhub.acquisition.calendars import Calendar
from meterhub.acquisition.dispatch import Ticket
from meterhub.acquisition.plans import PoolTable
from meterhub.acquisition.runs import RUNS, TASKS, RunPolicy, finish_runs, start_run
from meterhub.acquisition.tables import table_of as _table
from meterhub.extensions.events import FinishedJob
from meterhub.model.jobs import Job
from meterhub.model.tasks import SessionLog

__all__ = ["adopt_run", "prune_traces", "recover_runs", "start_due_jobs", "start_occurrence"]

log = logging.getLogger(__name__)


def recover_runs(engine: Engine) -> list[int]:
    """Queue again the runs an engine left running (it stopped or died) and their running
    tasks; returns their ids. Call it only while holding the engine lease."""
    with engine.begin() as connection:
        orphans = [
            int(row[0])
            for row in connection.execute(select(RUNS.c.id).where(RUNS.c.status == "running"))
        ]
        if not orphans:
            return []
        connection.execute(
            update(TASKS)
            .where(TASKS.c.run_id.in_(orphans), TASKS.c.state == "running")
            .values(state="queued")
        )
        connection.execute(
            update(RUNS).where(RUNS.c.id.in_(orphans)).values(status="queued", owner=None)
        )
    return orphans


def start_due_jobs(engine: Engine, now: datetime, pools: PoolTable, policy: RunPolicy) -> None:
    """Start the runs of the scheduled jobs whose next occurrence has come."""
    jobs = _table(Job)
    with engine.begin() as connection:
        due = [
            int(row[0])
            for row in connection.execute(
                select(jobs.c.id).where(
                    jobs.c.enabled.is_(True),
                    jobs.c.kind == "scheduled",
                    jobs.c.next_run_at <= now,
                )
            )
        ]
        if not due:
            return
        with Session(bind=connection) as session:
            for job in session.scalars(select(Job).where(Job.id.in_(due))):
                start_occurrence(connection, job, now, pools, policy)


def start_occurrence(
    connection: Connection, job: Job, now: datetime, pools: PoolTable, policy: RunPolicy
) -> None:
    """Start the run of ``job``'s due occurrence (unless its window closed) and move the job
    to its next occurrence after now: a gap without a scheduler gives one run, not many."""
    occurrence = job.next_run_at
    assert occurrence is not None
    calendar = Calendar.parse(
        job.recurrence, job.starts_at, job.time_zone, job.window_minutes, job.exception_dates
    )
    window_end = calendar.window_end(occurrence)
    if window_end is not None and now >= window_end:
        log.warning(
            "job %r: the occurrence %s was missed (its window closed at %s)",
            job.name, occurrence.isoformat(), window_end.isoformat(),
        )  # fmt: skip
    else:
        start_run(
            connection,
            job,
            trigger="schedule",
            user="scheduler",
            now=now,
            pools=pools,
            policy=policy,
            scheduled_for=occurrence,
            window_end=window_end,
        )
    following = calendar.next_after(max(now, occurrence), hint=occurrence)
    jobs = _table(Job)
    connection.execute(
        update(jobs)
        .where(jobs.c.id == job.id, jobs.c.next_run_at == occurrence)
        .values(next_run_at=following, last_run_at=occurrence)
    )


def adopt_run(
    engine: Engine, run_id: int, owner: str, now: datetime
) -> tuple[list[Ticket], list[FinishedJob]] | None:
    """Take queued run ``run_id`` for ``owner``: its tickets, and the ``job_finished`` event
    when it has no task left; ``None`` when another engine took it first."""
    with engine.begin() as connection:
        taken = connection.execute(
            update(RUNS)
            .where(RUNS.c.id == run_id, RUNS.c.status == "queued")
            .values(status="running", owner=owner[:200], started_at=now)
        ).rowcount
        if not taken:
            return None
        run = connection.execute(select(RUNS).where(RUNS.c.id == run_id)).one()
        rows = connection.execute(
            select(
                TASKS.c.id,
                TASKS.c.meter_id,
                TASKS.c.action,
                TASKS.c.action_index,
                TASKS.c.pool_key,
                TASKS.c.attempts,
                TASKS.c.not_before,
            )
            .where(TASKS.c.run_id == run_id, TASKS.c.state.in_(("queued", "retry", "running")))
            .order_by(TASKS.c.id)
        ).all()
        tickets = [
            Ticket(
                task_id=int(row.id),
                run_id=run_id,
                meter_id=int(row.meter_id),
                action=row.action,
                action_index=int(row.action_index),
                pool=row.pool_key,
                priority=int(run.priority),
                quick=bool(run.quick),
                attempts=int(row.attempts),
                created=float(row.id),
                not_before=(
                    row.not_before.replace(tzinfo=UTC).timestamp() if row.not_before else 0.0
                ),
                share=run.capacity_share,
            )
            for row in rows
        ]
        events = [] if tickets else finish_runs(connection, [run_id], now)
    return tickets, events


def prune_traces(engine: Engine, horizon: datetime) -> int:
    """Clear the frame traces of sessions started before ``horizon`` (the records stay)."""
    table = _table(SessionLog)
    with engine.begin() as connection:
        result = connection.execute(
            update(table)
            .where(table.c.started_at < horizon, table.c.frames.is_not(None))
            .values(frames=None)
        )
    return int(result.rowcount or 0)
