"""Runs of jobs: expansion into tasks, cancellation, completion — all in bulk statements.

* :func:`start_run` creates a run and expands it into one task per meter and action (the
  targets resolved now: meters, the members of meter groups served by a meter now, the members
  of error groups; disabled meters left out). Control actions are recorded in the audit log
  with the user who started the run. A large group job started by a user gets the capacity share
  (``acquisition_user_share``) so it cannot take every line.
* :func:`cancel_waiting` ends a run's tasks that wait (queued or waiting for a retry): a user's
  cancellation, or the run's window of opportunity closing.
* :func:`finish_runs` ends the runs whose tasks have all ended: status, time, the error group of
  its failed meters; it returns the :class:`~meterhub.extensions.events.FinishedJob` events to
  fire after the commit.

Every function works on the caller's connection and transaction; nothing here commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, insert, or_, select, text, update

from meterhub.acquisition.actions import CONTROL_ACTIONS
from meterhub.acquisition.plans import PoolTable, main_pools
from meterhub.acquisition.tables import table_of as _table
from meterhub.extensions.events import FinishedJob
from meterhub.inventory.common import chunks
from meterhub.model.audit import AuditLog
from meterhub.model.errorgroups import ErrorGroup, ErrorGroupMember
from meterhub.model.groups import MeterGroupMember
from meterhub.model.jobs import Job, JobRun
from meterhub.model.meters import Meter, MeterAssignment
from meterhub.model.tasks import Task

__all__ = [
    "RUNS_CHANNEL",
    "RunPolicy",
    "announce_queued_run",
    "audit_rows",
    "cancel_waiting",
    "finish_runs",
    "resolve_targets",
    "start_run",
]

RUNS = _table(JobRun)
TASKS = _table(Task)
AUDIT = _table(AuditLog)


@dataclass(frozen=True)
class RunPolicy:
    """Settings that shape a run: the user share and when a user's job counts as large."""

    user_share: float = 0.5
    large_job: int = 100


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def resolve_targets(connection: Connection, targets: Mapping[str, Any], now: datetime) -> list[int]:
    """The enabled meters a job's targets name now, each once, in id order."""
    meter_ids: set[int] = set(int(i) for i in targets.get("meters", ()))
    groups = [int(i) for i in targets.get("groups", ())]
    error_groups = [int(i) for i in targets.get("error_groups", ())]
    members, assignments = _table(MeterGroupMember), _table(MeterAssignment)
    for batch in chunks(groups):
        rows = connection.execute(
            select(assignments.c.meter_id)
            .join(members, members.c.virtual_meter_id == assignments.c.virtual_meter_id)
            .where(
                members.c.group_id.in_(batch),
                assignments.c.valid_from <= now,
                or_(assignments.c.valid_to.is_(None), assignments.c.valid_to > now),
            )
        )
        meter_ids.update(int(row[0]) for row in rows)
    error_members = _table(ErrorGroupMember)
    for batch in chunks(error_groups):
        rows = connection.execute(
            select(error_members.c.meter_id).where(error_members.c.group_id.in_(batch))
        )
        meter_ids.update(int(row[0]) for row in rows)
    meters = _table(Meter)
    enabled: list[int] = []
    for batch in chunks(sorted(meter_ids)):
        rows = connection.execute(
            select(meters.c.id).where(meters.c.id.in_(batch), meters.c.enabled.is_(True))
        )
        enabled.extend(int(row[0]) for row in rows)
    return sorted(enabled)


def audit_rows(
    task_rows: Iterable[tuple[int, int, str]],
    *,
    user: str,
    attribute: str,
    text: Mapping[int, str],
    now: datetime,
) -> list[dict[str, Any]]:
    """Audit rows for control tasks ``(task id, meter id, action)``: object ``meter``."""
    return [
        {
            "recorded_at": now,
            "object_type": "meter",
            "object_id": str(meter_id),
            "action": action[:20],
            "changed_by": user[:200],
            "attribute": attribute,
            "old_value": None,
            "new_value": text[task_id],
        }
        for task_id, meter_id, action in task_rows
        if action in CONTROL_ACTIONS
    ]


#: PostgreSQL channel on which a new queued run is announced (at its commit).
RUNS_CHANNEL = "meterhub_runs"


def announce_queued_run(connection: Connection) -> None:
    """Tell a scheduler of another process that a run is queued (PostgreSQL ``NOTIFY``,
    delivered when the transaction commits; a scheduler that misses it sees the run at its
    next look at the database). Other databases: nothing."""
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"NOTIFY {RUNS_CHANNEL}"))


def start_run(
    connection: Connection,
    job: Job,
    *,
    trigger: str,
    user: str,
    now: datetime,
    pools: PoolTable,
    policy: RunPolicy = RunPolicy(),
    scheduled_for: datetime | None = None,
    window_end: datetime | None = None,
) -> int:
    """Create a run of ``job`` and its tasks (status ``queued``); return the run's id."""
    meter_ids = resolve_targets(connection, job.targets, now)
    task_count = len(meter_ids) * len(job.actions)
    targets = job.targets
    large_group = bool(targets.get("groups") or targets.get("error_groups"))
    share = (
        policy.user_share
        if trigger == "user" and large_group and task_count > policy.large_job
        else None
    )
    run_id = connection.execute(
        insert(RUNS).returning(RUNS.c.id),
        {
            "job_id": job.id,
            "trigger_kind": trigger,
            "started_by": user[:200],
            "scheduled_for": scheduled_for,
            "created_at": now,
            "window_end": window_end,
            "status": "queued",
            "priority": 9 if job.kind == "quick" else job.priority,
            "quick": job.kind == "quick",
            "capacity_share": share,
            "tasks_total": task_count,
            "tasks_succeeded": 0,
            "tasks_failed": 0,
            "tasks_cancelled": 0,
            "cancel_requested": False,
        },
    ).scalar_one()
    if task_count:
        pool_of = main_pools(connection, meter_ids, pools)
        rows = (
            {
                "run_id": run_id,
                "job_id": job.id,
                "meter_id": meter_id,
                "action": entry["action"],
                "action_index": index,
                "pool_key": pool_of[meter_id],
                "state": "queued",
                "attempts": 0,
                "max_attempts": job.max_attempts,
                "created_at": now,
                "progress": 0,
                "warnings": 0,
            }
            for meter_id in meter_ids
            for index, entry in enumerate(job.actions)
        )
        for batch in chunks(rows, 5000):
            connection.execute(insert(TASKS), batch)
        if any(entry["action"] in CONTROL_ACTIONS for entry in job.actions):
            created = connection.execute(
                select(TASKS.c.id, TASKS.c.meter_id, TASKS.c.action).where(TASKS.c.run_id == run_id)
            ).all()
            text = {row.id: f"job {job.name!r}, run {run_id}: started" for row in created}
            audit = audit_rows(
                ((r.id, r.meter_id, r.action) for r in created),
                user=user, attribute="job", text=text, now=now,
            )  # fmt: skip
            if audit:
                connection.execute(insert(AUDIT), audit)
        announce_queued_run(connection)
    else:
        finish_runs(connection, [run_id], now)
    return int(run_id)


def cancel_waiting(
    connection: Connection,
    run_id: int,
    now: datetime,
    *,
    error_class: str = "cancelled",
    message: str = "cancelled",
) -> int:
    """End the run's tasks that have not started (queued, or waiting for a retry) as
    cancelled; count them on the run; return how many."""
    result = connection.execute(
        update(TASKS)
        .where(TASKS.c.run_id == run_id, TASKS.c.state.in_(("queued", "retry")))
        .values(
            state="cancelled",
            finished_at=now,
            error_class=error_class,
            error_message=message,
            not_before=None,
        )
    )
    count = int(result.rowcount or 0)
    if count:
        connection.execute(
            update(RUNS)
            .where(RUNS.c.id == run_id)
            .values(tasks_cancelled=RUNS.c.tasks_cancelled + count)
        )
    return count


def _status(row: Any) -> str:
    if row.cancel_requested:
        return "cancelled"
    if not row.tasks_failed and not row.tasks_cancelled:
        return "succeeded"
    if not row.tasks_succeeded:
        return "failed" if row.tasks_failed else "cancelled"
    return "partial"


def finish_runs(connection: Connection, run_ids: Iterable[int], now: datetime) -> list[FinishedJob]:
    """End the runs of ``run_ids`` whose tasks have all ended; return their events."""
    jobs = _table(Job)
    done = RUNS.c.tasks_succeeded + RUNS.c.tasks_failed + RUNS.c.tasks_cancelled
    finished: list[FinishedJob] = []
    for batch in chunks(sorted(set(run_ids))):
        rows = connection.execute(
            select(RUNS, jobs.c.name)
            .join(jobs, jobs.c.id == RUNS.c.job_id)
            .where(RUNS.c.id.in_(batch), RUNS.c.finished_at.is_(None), done >= RUNS.c.tasks_total)
        ).all()
        for row in rows:
            status = _status(row)
            group_id = _error_group(connection, row, now) if row.tasks_failed else None
            changed = connection.execute(
                update(RUNS)
                .where(RUNS.c.id == row.id, RUNS.c.finished_at.is_(None))
                .values(
                    status=status,
                    finished_at=now,
                    started_at=func.coalesce(RUNS.c.started_at, now),
                    error_group_id=group_id,
                )
            ).rowcount
            if not changed:
                continue
            finished.append(
                FinishedJob(
                    job_id=row.job_id,
                    name=row.name,
                    status=status,
                    started=_aware(row.started_at) or now,
                    finished=now,
                    tasks_total=row.tasks_total,
                    tasks_succeeded=row.tasks_succeeded,
                    tasks_failed=row.tasks_failed,
                    run_id=row.id,
                    tasks_cancelled=row.tasks_cancelled,
                )
            )
    return finished


def _error_group(connection: Connection, run: Any, now: datetime) -> int | None:
    """The error group of the run's failed meters (created automatically)."""
    groups, members = _table(ErrorGroup), _table(ErrorGroupMember)
    failed = connection.execute(
        select(TASKS.c.meter_id, func.max(TASKS.c.id), func.max(TASKS.c.error_class),
               func.max(TASKS.c.error_message))
        .where(TASKS.c.run_id == run.id, TASKS.c.state == "failed")
        .group_by(TASKS.c.meter_id)
    ).all()  # fmt: skip
    if not failed:
        return None
    group_id = connection.execute(
        insert(groups).returning(groups.c.id),
        {
            "name": f"{run.name} run {run.id}: failed meters"[:200],
            "kind": "job",
            "job_id": run.job_id,
            "run_id": run.id,
            "created_at": now,
        },
    ).scalar_one()
    connection.execute(
        insert(members),
        [
            {
                "group_id": group_id,
                "meter_id": meter_id,
                "task_id": task_id,
                "error_class": error_class,
                "error_message": (message or "")[:2000] or None,
                "added_at": now,
            }
            for meter_id, task_id, error_class, message in failed
        ],
    )
    return int(group_id)


def count_outcomes(connection: Connection, counts: Mapping[int, tuple[int, int, int]]) -> None:
    """Add ``(succeeded, failed, cancelled)`` per run to the runs' counters."""
    rows = [
        {"rid": run_id, "s": s, "f": f, "c": c}
        for run_id, (s, f, c) in sorted(counts.items())
        if s or f or c
    ]
    if not rows:
        return
    connection.execute(
        update(RUNS)
        .where(and_(RUNS.c.id == bindparam("rid")))
        .values(
            tasks_succeeded=RUNS.c.tasks_succeeded + bindparam("s"),
            tasks_failed=RUNS.c.tasks_failed + bindparam("f"),
            tasks_cancelled=RUNS.c.tasks_cancelled + bindparam("c"),
        ),
        rows,
    )
