"""Reading what acquisition did: tasks with filters, their sessions, and debug logs.

Tasks and sessions are written by the engine (:mod:`meterhub.acquisition.writer`); these
functions only read them, for ``meterhub tasks``, ``meterhub trace`` and the web UI.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterhub.acquisition.session import decode_frames
from meterhub.errors import NotFound
from meterhub.model.tasks import SessionLog, Task

__all__ = ["find_task", "sessions_of", "task_list", "trace_lines"]


def task_list(
    session: Session,
    *,
    run_id: int | None = None,
    job_id: int | None = None,
    meter_id: int | None = None,
    state: str | None = None,
    error_class: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[Task]:
    """Tasks matching every filter given, newest first."""
    query = select(Task).order_by(Task.id.desc()).limit(max(1, min(limit, 100_000)))
    if run_id is not None:
        query = query.where(Task.run_id == run_id)
    if job_id is not None:
        query = query.where(Task.job_id == job_id)
    if meter_id is not None:
        query = query.where(Task.meter_id == meter_id)
    if state is not None:
        query = query.where(Task.state == state)
    if error_class is not None:
        query = query.where(Task.error_class == error_class)
    if since is not None:
        query = query.where(Task.created_at >= since)
    return list(session.scalars(query))


def find_task(session: Session, task_id: int) -> Task:
    """A task by id."""
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound(f"no task {task_id}")
    return task


def sessions_of(session: Session, task: Task) -> list[SessionLog]:
    """The sessions that served ``task``, oldest first (several after a failover or retry)."""
    ids = [int(i) for i in (task.sessions or [])]
    if not ids:
        return []
    return list(
        session.scalars(select(SessionLog).where(SessionLog.id.in_(ids)).order_by(SessionLog.id))
    )


def trace_lines(log: SessionLog) -> list[str]:
    """The debug log of one session, one line per frame or note (secrets already masked)."""
    if log.frames is None:
        return []
    lines = []
    for record in decode_frames(log.frames):
        data = bytes.fromhex(record.get("hex", ""))
        digits = [f"{byte:02X}" for byte in data]
        for start, end in record.get("masked", []):
            digits[start:end] = ["**"] * (end - start)
        body = record.get("text", "") if record["direction"] == "note" else " ".join(digits)
        if record.get("masked"):
            body += " (masked)"
        lines.append(f"{record['time']} {record['direction']} {body}".rstrip())
    return lines
