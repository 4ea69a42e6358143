"""Acquisition tasks and sessions: what the engine did with each meter, and its debug log.

A **task** is one action of one run on one meter (:mod:`meterhub.model.jobs`): its state,
attempts, times, progress, the communication path that served it, its error class and message,
and what it stored (``details``). A **session** is one connection to a meter over one
communication path (a task's attempt may take two when the main path fails over to the backup;
one session may serve several tasks of the same meter). A session row is the record the
statistics are made of (outcome, error class, duration, bytes) and holds the frame trace — the
debug log, secrets already masked by the trace — compressed, until retention clears it.

Both tables are written in batches by :mod:`meterhub.acquisition.writer` with bulk statements.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from meterhub.model.base import Base
from meterhub.model.templates import JSONText
from meterhub.model.types import UTCDateTime

#: States of a task. ``queued`` waits for a line, ``running`` is in a session, ``retry`` waits
#: for its back-off to end; the others are final.
TASK_STATES: tuple[str, ...] = ("queued", "running", "retry", "succeeded", "failed", "cancelled")

#: Final states of a task.
TASK_FINAL_STATES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})

#: Outcomes of a session.
SESSION_OUTCOMES: tuple[str, ...] = ("succeeded", "failed")

#: A 64-bit key (a plain INTEGER on SQLite, where only that is an alias of the rowid).
BigId = BigInteger().with_variant(Integer, "sqlite")


class Task(Base):
    """One action on one meter within one run (see the module docstring).

    ``action_index`` points into the job's ``actions`` list (the parameters);
    ``pool_key`` names the line pool of the meter's main path when the task was created.
    ``sessions`` lists the ids of the sessions that served it, oldest first.
    """

    __tablename__ = "acq_task"
    __table_args__ = (
        CheckConstraint(
            "state IN ({})".format(", ".join(repr(state) for state in TASK_STATES)), name="state"
        ),
        CheckConstraint("progress >= 0 AND progress <= 100", name="progress"),
        # Few indexes: every task row is updated once or twice; tasks are found by run (and
        # state) or by meter.
        Index(None, "run_id", "state"),
        Index(None, "meter_id"),
    )

    id: Mapped[int] = mapped_column(BigId, Identity(), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("acq_run.id"))
    job_id: Mapped[int] = mapped_column(Integer)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id"))
    action: Mapped[str] = mapped_column(String(32))
    action_index: Mapped[int] = mapped_column(Integer, default=0)
    pool_key: Mapped[str] = mapped_column(String(120))
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    path_priority: Mapped[int | None] = mapped_column(Integer)
    path_id: Mapped[int | None] = mapped_column(Integer)
    device_id: Mapped[int | None] = mapped_column(Integer)
    error_class: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(Text)
    warnings: Mapped[int] = mapped_column(Integer, default=0)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONText)
    sessions: Mapped[list[int] | None] = mapped_column(JSONText)

    def __repr__(self) -> str:
        return (
            f"<Task {self.id} run={self.run_id} meter={self.meter_id} {self.action} {self.state}>"
        )


class SessionLog(Base):
    """One connection to a meter over one path: the statistics record and the debug log.

    ``frames`` is the frame trace (zlib-compressed JSON lines of
    :meth:`meterhub.extensions.trace.FrameTrace.as_records`), ``None`` when the trace policy
    kept none or retention cleared it; ``frames_dropped`` counts entries the trace let go.
    """

    __tablename__ = "acq_session"
    __table_args__ = (
        CheckConstraint(
            "outcome IN ({})".format(", ".join(repr(o) for o in SESSION_OUTCOMES)),
            name="outcome",
        ),
        Index(None, "started_at"),
        Index(None, "meter_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigId, Identity(), primary_key=True)
    task_id: Mapped[int] = mapped_column(BigInteger)
    meter_id: Mapped[int] = mapped_column(Integer)
    attempt: Mapped[int] = mapped_column(Integer)
    path_id: Mapped[int | None] = mapped_column(Integer)
    path_priority: Mapped[int | None] = mapped_column(Integer)
    device_id: Mapped[int | None] = mapped_column(Integer)
    medium: Mapped[str | None] = mapped_column(String(32))
    pool_key: Mapped[str | None] = mapped_column(String(120))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(16))
    error_class: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(Text)
    bytes_sent: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_received: Mapped[int] = mapped_column(BigInteger, default=0)
    frame_count: Mapped[int] = mapped_column(Integer, default=0)
    frames_dropped: Mapped[int] = mapped_column(Integer, default=0)
    frames: Mapped[bytes | None] = mapped_column(LargeBinary)

    def __repr__(self) -> str:
        return f"<SessionLog {self.id} meter={self.meter_id} {self.outcome}>"
