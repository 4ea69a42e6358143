"""Acquisition jobs and their runs.

A **job** says what to do (its *actions*: read the load profile, synchronise the clock,
disconnect, ...), to which meters (its *targets*: meters, meter groups, error groups) and when:
a **scheduled** job has a calendar (an RFC 5545 recurrence rule in a time zone, a window of
opportunity, exception dates; :mod:`meterhub.acquisition.calendars`), an **on-demand** job runs
when a user starts it, a **quick** job is one meter started by a user that runs at once.

Every execution of a job is a **run**; a run expands into one task per meter and action
(:mod:`meterhub.model.tasks`). Runs and tasks are written by the acquisition engine with bulk
statements (never one audited ORM change per task); jobs are created and changed through
:mod:`meterhub.inventory.jobs` and audited like every other object.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from meterhub.model.base import Base
from meterhub.model.templates import JSONText
from meterhub.model.types import Float64, UTCDateTime

#: Kinds of job.
JOB_KINDS: tuple[str, ...] = ("scheduled", "on_demand", "quick")

#: What started a run.
TRIGGERS: tuple[str, ...] = ("schedule", "user")

#: States of a run: queued (created, not yet taken by an engine), running, then one of the
#: final states.
RUN_STATES: tuple[str, ...] = ("queued", "running", "succeeded", "partial", "failed", "cancelled")

#: Final states of a run.
RUN_FINAL_STATES: frozenset[str] = frozenset({"succeeded", "partial", "failed", "cancelled"})

#: Longest job name.
JOB_NAME_LENGTH = 100


def _in_list(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


class Job(Base):
    """What to read or do, on which meters, when (see the module docstring).

    ``actions`` is a JSON list of ``{"action": name, "parameters": {...}}``; ``targets`` a JSON
    object ``{"meters": [ids], "groups": [ids], "error_groups": [ids]}``. A scheduled job has a
    ``recurrence`` (an RRULE without ``DTSTART``) starting at ``starts_at`` in ``time_zone``, an
    optional ``window_minutes`` after each occurrence within which its tasks may run, and
    ``exception_dates`` (local dates, ``YYYY-MM-DD``) with no run. ``max_attempts``,
    ``retry_delay`` (seconds) and ``retry_backoff`` (factor per attempt) are its retry policy;
    ``session_timeout`` (seconds) bounds one session with a meter.
    """

    __tablename__ = "acq_job"
    __table_args__ = (
        CheckConstraint(_in_list("kind", JOB_KINDS), name="kind"),
        CheckConstraint("priority >= 0 AND priority <= 9", name="priority"),
        CheckConstraint("max_attempts >= 1", name="max_attempts"),
        CheckConstraint("retry_delay >= 0", name="retry_delay"),
        CheckConstraint("session_timeout >= 1", name="session_timeout"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(JOB_NAME_LENGTH), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSONText)
    targets: Mapped[dict[str, list[int]]] = mapped_column(JSONText)
    priority: Mapped[int] = mapped_column(Integer, default=5)
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    recurrence: Mapped[str | None] = mapped_column(Text)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    window_minutes: Mapped[int | None] = mapped_column(Integer)
    exception_dates: Mapped[list[str]] = mapped_column(JSONText, default=lambda: [])
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    retry_delay: Mapped[int] = mapped_column(Integer, default=60)
    retry_backoff: Mapped[float] = mapped_column(Float64, default=2.0)
    session_timeout: Mapped[int] = mapped_column(Integer, default=300)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: The next occurrence the scheduler will start (bookkeeping, not audited).
    next_run_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, index=True, info={"audit": False}
    )
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, info={"audit": False})

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.name!r} {self.kind}>"


class JobRun(Base):
    """One execution of a job: its tasks, their counts and its state.

    ``capacity_share`` (0..1) caps the line capacity the run's tasks may take in each line
    pool (set for large group jobs started by a user). ``cancel_requested`` asks the engine to
    stop the run; ``owner`` names the engine that dispatches it.
    """

    __tablename__ = "acq_run"
    __table_args__ = (
        CheckConstraint(_in_list("trigger_kind", TRIGGERS), name="trigger_kind"),
        CheckConstraint(_in_list("status", RUN_STATES), name="status"),
        Index(None, "status"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("acq_job.id"), index=True)
    trigger_kind: Mapped[str] = mapped_column(String(16))
    started_by: Mapped[str] = mapped_column(String(200))
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    priority: Mapped[int] = mapped_column(Integer)
    quick: Mapped[bool] = mapped_column(Boolean, default=False)
    capacity_share: Mapped[float | None] = mapped_column(Float64)
    tasks_total: Mapped[int] = mapped_column(Integer, default=0)
    tasks_succeeded: Mapped[int] = mapped_column(Integer, default=0)
    tasks_failed: Mapped[int] = mapped_column(Integer, default=0)
    tasks_cancelled: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    owner: Mapped[str | None] = mapped_column(String(200))
    error_group_id: Mapped[int | None] = mapped_column(Integer)

    def __repr__(self) -> str:
        return f"<JobRun {self.id} job={self.job_id} {self.status}>"
