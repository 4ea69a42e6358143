"""The engine's own rows of a committed batch: task states, session records, session state,
last reads, audit rows, the time-sync error group.

The writer (:mod:`meterhub.acquisition.writer`) calls these inside the batch's unit of work, so
they commit with the values they describe. Task and session rows, one per task and session, go
through the drivers' ``executemany`` with statements compiled once
(:mod:`meterhub.acquisition.bulk`); session ids are allocated in bulk.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from meterhub.acquisition.actions import CONTROL_ACTIONS
from meterhub.acquisition.bulk import execute_many
from meterhub.acquisition.observers import SessionRecord
from meterhub.acquisition.results import SessionResult, TaskOutcome
from meterhub.acquisition.runs import AUDIT, RUNS, TASKS, audit_rows
from meterhub.acquisition.tables import table_of as _table
from meterhub.db import id_in
from meterhub.inventory.common import chunks
from meterhub.model.errorgroups import TIME_SYNC_GROUP, ErrorGroup, ErrorGroupMember
from meterhub.model.sessionstate import LastRead, SessionState
from meterhub.model.tasks import SessionLog

__all__ = [
    "audit",
    "current_states",
    "insert_sessions",
    "records",
    "store_last_reads",
    "store_state",
    "time_sync",
    "update_tasks",
]

SESSIONS = _table(SessionLog)
STATES = _table(SessionState)
READS = _table(LastRead)

#: The columns a task's outcome writes.
_OUTCOME_COLUMNS = (
    "state", "attempts", "not_before", "started_at", "finished_at", "progress",
    "path_priority", "path_id", "device_id", "error_class", "error_message", "warnings",
    "details", "sessions",
)  # fmt: skip
_TASK_DONE = (
    update(TASKS)
    .where(TASKS.c.id == bindparam("tid"))
    .values({name: bindparam(name) for name in _OUTCOME_COLUMNS})
)


def _last_read_upsert(insert_of: Any) -> Any:
    statement = insert_of(READS).values(
        meter_id=bindparam("m"), action=bindparam("a"), read_to=bindparam("r")
    )
    return statement.on_conflict_do_update(
        index_elements=[READS.c.meter_id, READS.c.action],
        set_={"read_to": statement.excluded.read_to},
        where=READS.c.read_to < statement.excluded.read_to,
    )


#: Last reads in one statement per row where the dialect has ``ON CONFLICT``.
_LAST_READ_UPSERT = {
    "sqlite": _last_read_upsert(sqlite_insert),
    "postgresql": _last_read_upsert(postgresql_insert),
}

_SESSION_INSERT = insert(SESSIONS).values(
    {column.name: bindparam(column.name) for column in SESSIONS.columns}
)
_TASK_RUNNING = (
    update(TASKS)
    .where(
        TASKS.c.id == bindparam("tid"),
        or_(TASKS.c.state == bindparam("q"), TASKS.c.state == bindparam("w")),
    )
    .values(state=bindparam("r"), started_at=bindparam("at"), attempts=bindparam("n"))
)


def _allocate_session_ids(connection: Connection, count: int) -> list[int] | None:
    """Ids for ``count`` new session rows, so they go in with one ``executemany``.

    PostgreSQL: values of the identity's sequence. SQLite: the ids after the largest, which
    are free until this transaction ends (a writing transaction holds SQLite's write lock from
    its start). Other databases: ``None`` (rows are inserted with ``RETURNING``).
    """
    dialect = connection.dialect.name
    if dialect == "postgresql":
        rows = connection.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence('acq_session', 'id')) "
                "FROM generate_series(1, :count)"
            ),
            {"count": count},
        )
        return [int(row[0]) for row in rows]
    if dialect == "sqlite":
        top = int(connection.execute(select(func.max(SESSIONS.c.id))).scalar() or 0)
        return list(range(top + 1, top + 1 + count))
    return None


def current_states(
    connection: Connection, task_ids: list[int]
) -> tuple[dict[int, str], dict[int, list[int]]]:
    """The tasks' states as stored (a user may have cancelled them) and their sessions."""
    states: dict[int, str] = {}
    sessions: dict[int, list[int]] = {}
    for batch in chunks(task_ids):
        rows = connection.execute(
            select(TASKS.c.id, TASKS.c.state, TASKS.c.sessions)
            .where(id_in(connection, TASKS.c.id, batch))
            .with_for_update()
        )
        for task_id, state, earlier in rows:
            states[int(task_id)] = str(state)
            if earlier:
                sessions[int(task_id)] = [int(i) for i in earlier]
    return states, sessions


def insert_sessions(connection: Connection, batch: list[SessionResult]) -> list[list[int]]:
    """The session records of ``batch``; returns their ids per result."""
    rows = []
    for result in batch:
        for draft in result.sessions:
            path = draft.path
            rows.append(
                {
                    "task_id": draft.task_ids[0] if draft.task_ids else 0,
                    "meter_id": draft.meter_id,
                    "attempt": draft.attempt,
                    "path_id": path.path_id if path else None,
                    "path_priority": path.priority if path else None,
                    "device_id": path.device_id if path else None,
                    "medium": path.medium if path else None,
                    "pool_key": path.pool if path else None,
                    "started_at": draft.started,
                    "finished_at": draft.finished,
                    "outcome": draft.outcome,
                    "error_class": draft.error_class,
                    "error_message": draft.error_message,
                    "bytes_sent": draft.bytes_sent,
                    "bytes_received": draft.bytes_received,
                    "frame_count": draft.frame_count,
                    "frames_dropped": draft.frames_dropped,
                    "frames": draft.frames,
                }
            )
    ids: list[int] = []
    allocated = _allocate_session_ids(connection, len(rows)) if rows else []
    if allocated is not None:
        for row, session_id in zip(rows, allocated, strict=True):
            row["id"] = session_id
        execute_many(connection, _SESSION_INSERT, rows)
        ids = allocated
    else:
        for part in chunks(rows, 1000):
            inserted = connection.execute(
                insert(SESSIONS).returning(SESSIONS.c.id, sort_by_parameter_order=True), part
            )
            ids.extend(int(row[0]) for row in inserted)
    per_result: list[list[int]] = []
    position = 0
    for result in batch:
        per_result.append(ids[position : position + len(result.sessions)])
        position += len(result.sessions)
    return per_result


def update_tasks(
    connection: Connection,
    batch: list[SessionResult],
    accepted: list[TaskOutcome],
    session_ids: list[list[int]],
    earlier: dict[int, list[int]],
    marks: dict[int, tuple[datetime, int]],
    now: datetime,
) -> None:
    """Write the accepted outcomes into their task rows, and ``running`` for tasks that
    started and have not ended (``marks``: task id -> (start, attempt))."""
    accepted_ids = {id(outcome) for outcome in accepted}
    rows = []
    for result, ids in zip(batch, session_ids, strict=True):
        for outcome in result.tasks:
            if id(outcome) not in accepted_ids:
                continue
            path = outcome.path
            warnings = outcome.warnings
            details = dict(outcome.details)
            if warnings:
                details["warnings"] = warnings[:50]
            rows.append(
                {
                    "tid": outcome.ticket.task_id,
                    "state": outcome.state,
                    "attempts": outcome.attempts,
                    "not_before": outcome.not_before,
                    "started_at": outcome.started,
                    "finished_at": outcome.finished if outcome.final else None,
                    "progress": 100 if outcome.final else 0,
                    "path_priority": path.priority if path else None,
                    "path_id": path.path_id if path else None,
                    "device_id": path.device_id if path else None,
                    "error_class": outcome.error_class,
                    "error_message": outcome.error_message,
                    "warnings": len(warnings),
                    "details": details or None,
                    "sessions": earlier.get(outcome.ticket.task_id, [])
                    + [ids[i] for i in outcome.sessions if i < len(ids)]
                    or None,
                }
            )
        for task_id in (o.ticket.task_id for o in result.tasks):
            marks.pop(task_id, None)
    execute_many(connection, _TASK_DONE, rows)
    if marks:
        execute_many(
            connection,
            _TASK_RUNNING,
            [
                {"tid": task_id, "at": at, "n": n, "r": "running", "q": "queued", "w": "retry"}
                for task_id, (at, n) in marks.items()
            ],
        )


def store_state(connection: Connection, batch: list[SessionResult], now: datetime) -> None:
    """Store the session state the sessions of ``batch`` ended with."""
    wanted = {(r.meter_id, name): value for r in batch for name, value in r.state.items()}
    if not wanted:
        return
    meter_ids = sorted({meter_id for meter_id, _ in wanted})
    existing: set[tuple[int, str]] = set()
    for part in chunks(meter_ids):
        existing.update(
            (int(row[0]), str(row[1]))
            for row in connection.execute(
                select(STATES.c.meter_id, STATES.c.name).where(
                    id_in(connection, STATES.c.meter_id, part)
                )
            )
        )
    updates = [
        {"m": m, "n": n, "v": v, "t": now} for (m, n), v in wanted.items() if (m, n) in existing
    ]
    inserts = [
        {"meter_id": m, "name": n, "value": v, "reserved_to": None, "updated_at": now}
        for (m, n), v in wanted.items()
        if (m, n) not in existing
    ]
    if updates:
        connection.execute(
            update(STATES)
            .where(STATES.c.meter_id == bindparam("m"), STATES.c.name == bindparam("n"))
            .values(value=bindparam("v"), updated_at=bindparam("t")),
            updates,
        )
    if inserts:
        connection.execute(insert(STATES), inserts)


def store_last_reads(connection: Connection, accepted: list[TaskOutcome]) -> None:
    """Move the end of the last successful read of each meter and action forward."""
    wanted: dict[tuple[int, str], datetime] = {}
    for outcome in accepted:
        if outcome.state == "succeeded" and outcome.last_read is not None:
            key = (outcome.ticket.meter_id, outcome.ticket.action)
            if key not in wanted or outcome.last_read > wanted[key]:
                wanted[key] = outcome.last_read
    if not wanted:
        return
    upsert = _LAST_READ_UPSERT.get(connection.dialect.name)
    if upsert is not None:  # one statement a row, the later time wins
        rows = [{"m": m, "a": a, "r": r} for (m, a), r in wanted.items()]
        execute_many(connection, upsert, rows)
        return
    existing: dict[tuple[int, str], datetime] = {}
    for part in chunks(sorted({m for m, _ in wanted})):
        for row in connection.execute(
            select(READS).where(id_in(connection, READS.c.meter_id, part))
        ):
            read_to = row.read_to if row.read_to.tzinfo else row.read_to.replace(tzinfo=UTC)
            existing[(row.meter_id, row.action)] = read_to
    updates = [
        {"m": m, "a": a, "r": r}
        for (m, a), r in wanted.items()
        if (m, a) in existing and r > existing[(m, a)]
    ]
    inserts = [
        {"meter_id": m, "action": a, "read_to": r}
        for (m, a), r in wanted.items()
        if (m, a) not in existing
    ]
    if updates:
        connection.execute(
            update(READS)
            .where(READS.c.meter_id == bindparam("m"), READS.c.action == bindparam("a"))
            .values(read_to=bindparam("r")),
            updates,
        )
    if inserts:
        connection.execute(insert(READS), inserts)


def audit(
    connection: Connection,
    batch: list[SessionResult],
    accepted: list[TaskOutcome],
    now: datetime,
) -> None:
    """Audit rows for the control actions that ended: the outcome, recorded with the user
    who started the run."""
    controls = [o for o in accepted if o.final and o.ticket.action in CONTROL_ACTIONS]
    if not controls:
        return
    users = {
        int(row[0]): str(row[1])
        for row in connection.execute(
            select(RUNS.c.id, RUNS.c.started_by).where(
                RUNS.c.id.in_({o.ticket.run_id for o in controls})
            )
        )
    }
    rows: list[dict[str, Any]] = []
    for outcome in controls:
        text = outcome.state if outcome.state == "succeeded" else (
            f"{outcome.state}: {outcome.error_message or ''}".strip())  # fmt: skip
        rows.extend(
            audit_rows(
                [(outcome.ticket.task_id, outcome.ticket.meter_id, outcome.ticket.action)],
                user=users.get(outcome.ticket.run_id, "acquisition"),
                attribute="outcome",
                text={outcome.ticket.task_id: f"run {outcome.ticket.run_id}: {text}"[:2000]},
                now=now,
            )
        )
    if rows:
        connection.execute(insert(AUDIT), rows)


def time_sync(connection: Connection, accepted: list[TaskOutcome], now: datetime) -> None:
    """Meters into and out of the time-sync error group."""
    changes = [o for o in accepted if o.time_sync is not None and o.final]
    if not changes:
        return
    groups, members = _table(ErrorGroup), _table(ErrorGroupMember)
    group_id = connection.execute(
        select(groups.c.id).where(groups.c.name == TIME_SYNC_GROUP)
    ).scalar()
    if group_id is None:
        group_id = connection.execute(
            insert(groups).returning(groups.c.id),
            {"name": TIME_SYNC_GROUP, "kind": "time_sync", "created_at": now},
        ).scalar_one()
    present = {
        int(row[0])
        for row in connection.execute(
            select(members.c.meter_id).where(members.c.group_id == group_id)
        )
    }
    added: dict[int, TaskOutcome] = {}
    removed: set[int] = set()
    for outcome in changes:
        meter_id = outcome.ticket.meter_id
        if outcome.time_sync == "add":
            added[meter_id] = outcome
            removed.discard(meter_id)
        else:
            removed.add(meter_id)
            added.pop(meter_id, None)
    fresh = [
        {
            "group_id": group_id,
            "meter_id": meter_id,
            "task_id": outcome.ticket.task_id,
            "error_class": outcome.error_class,
            "error_message": outcome.error_message,
            "added_at": now,
        }
        for meter_id, outcome in added.items()
        if meter_id not in present
    ]
    if fresh:
        connection.execute(insert(members), fresh)
    gone = sorted(removed & present)
    if gone:
        connection.execute(
            delete(members).where(members.c.group_id == group_id, members.c.meter_id.in_(gone))
        )


def records(batch: list[SessionResult], session_ids: list[list[int]]) -> list[SessionRecord]:
    """The :class:`SessionRecord` of every session of ``batch`` (for the observers)."""
    records = []
    for result, ids in zip(batch, session_ids, strict=True):
        plan = result.plan
        for draft, session_id in zip(result.sessions, ids, strict=True):
            path = draft.path
            at = int(draft.started.timestamp())
            records.append(
                SessionRecord(
                    session_id=session_id,
                    meter_id=draft.meter_id,
                    virtual_meter_id=plan.virtual_meter_at(at) if plan is not None else None,
                    task_ids=draft.task_ids,
                    attempt=draft.attempt,
                    path_id=path.path_id if path else None,
                    path_priority=path.priority if path else None,
                    device_id=path.device_id if path else None,
                    medium=path.medium if path else None,
                    pool=path.pool if path else None,
                    started=draft.started,
                    finished=draft.finished,
                    outcome=draft.outcome,
                    error_class=draft.error_class,
                    bytes_sent=draft.bytes_sent,
                    bytes_received=draft.bytes_received,
                )
            )
    return records
