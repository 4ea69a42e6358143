"""The plain records event hooks carry (``task_finished``, ``job_finished``, ``alarms_stored``).

Events are notifications after the fact: ids, names, counts and aware UTC datetimes, never ORM
objects or sessions, so a listener cannot change what happened and works the same in a worker
process.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["FinishedJob", "FinishedTask", "MeterAlarm"]


@dataclass(frozen=True, slots=True)
class FinishedTask:
    """One acquisition task that ended, successfully or not.

    ``status`` is ``succeeded``, ``failed`` or ``cancelled``; ``action`` a
    :class:`~meterhub.extensions.driver.Action` value; ``error`` the error text of a failed
    task; ``path`` the name of the communication path used last (``main``, ``backup``).
    """

    task_id: int
    job_id: int | None
    meter_id: int
    action: str
    status: str
    attempts: int
    started: datetime
    finished: datetime
    path: str | None = None
    error: str | None = None
    #: The run of the job the task belongs to (a job runs many times).
    run_id: int | None = None


@dataclass(frozen=True, slots=True)
class FinishedJob:
    """A job whose tasks have all ended.

    ``status`` is ``succeeded`` (every task succeeded), ``partial``, ``failed`` or
    ``cancelled``.
    """

    job_id: int
    name: str
    status: str
    started: datetime
    finished: datetime
    tasks_total: int
    tasks_succeeded: int
    tasks_failed: int
    #: Which run of the job ended (a scheduled job runs many times).
    run_id: int | None = None
    tasks_cancelled: int = 0


@dataclass(frozen=True, slots=True)
class MeterAlarm:
    """One alarm a meter pushed (power failure, tamper, relay ...), as an event of the store.

    ``code`` is the meter's code (an event code, or the bit number of an alarm register);
    ``log`` the OBIS code of the event log or alarm register it belongs to; ``description`` the
    text the driver knows for it (may be empty); ``time`` when the meter says it happened;
    ``received`` when the head-end received it. ``channel_id`` is the event channel that
    stored it, ``None`` when the meter's virtual meter has no event channel for ``log`` (the
    alarm is announced all the same).
    """

    meter_id: int
    serial: str
    code: int
    log: str
    description: str
    time: datetime
    received: datetime
    channel_id: int | None = None
