"""The internal interface for what watches acquisition: statistics, metrics, the push listener.

After every committed batch the writer calls each registered :class:`AcquisitionObserver`
with a :class:`BatchReport`: the sessions of the batch (one :class:`SessionRecord` per
connection: meter, virtual meter, device, path, pool, attempt, outcome, error class, duration,
bytes), the tasks that ended, the tasks that will be retried (with the error classes of the
tasks that did not succeed), the runs that ended and the number of values stored. Observers run
in the writer's thread after the commit (so what they see is stored); one that raises is
logged and the others still run. Keep them quick: hand slow work to a thread of your own.

Live counts (tasks queued and running, lines in use per pool) come from
:meth:`meterhub.acquisition.engine.AcquisitionEngine.snapshot`, for gauges.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from meterhub.extensions.events import FinishedJob, FinishedTask

__all__ = ["AcquisitionObserver", "BatchReport", "SessionRecord"]


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One connection to a meter, as stored in ``acq_session``.

    ``outcome`` is ``succeeded`` or ``failed``; ``error_class`` one of
    :class:`meterhub.extensions.driver.ErrorKind` values, or ``configuration``, ``cancelled``,
    ``internal``. ``path_priority`` 1 is the main path, 2 the backup; ``None`` fields mean the
    meter was reached without a device (a simulated meter).
    """

    session_id: int
    meter_id: int
    virtual_meter_id: int | None
    task_ids: tuple[int, ...]
    attempt: int
    path_id: int | None
    path_priority: int | None
    device_id: int | None
    medium: str | None
    pool: str | None
    started: datetime
    finished: datetime
    outcome: str
    error_class: str | None
    bytes_sent: int
    bytes_received: int

    @property
    def seconds(self) -> float:
        """How long the connection lasted."""
        return (self.finished - self.started).total_seconds()


@dataclass(frozen=True, slots=True)
class BatchReport:
    """What one committed batch held (see the module docstring).

    ``error_classes`` maps the id of every task of the report that failed, was cancelled or
    will be retried to its error class.
    """

    sessions: tuple[SessionRecord, ...]
    finished_tasks: tuple[FinishedTask, ...]
    retried_tasks: tuple[int, ...]
    finished_runs: tuple[FinishedJob, ...]
    values_stored: int
    committed_at: datetime
    commit_seconds: float
    error_classes: Mapping[int, str] = field(default_factory=dict)


@runtime_checkable
class AcquisitionObserver(Protocol):
    """Something that watches acquisition (statistics, metrics)."""

    def batch_committed(self, report: BatchReport) -> None:
        """A batch was committed; ``report`` says what it held."""
