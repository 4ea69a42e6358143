"""What a session brings back, on its way to the store: plain records, arrays for the values.

The executor (:mod:`meterhub.acquisition.session`) fills a :class:`SessionResult` per session;
the writer (:mod:`meterhub.acquisition.writer`) commits many of them in one transaction. Interval
values stay numpy arrays (:class:`ProfileRow`) from the driver's columns to the store's 2-D
write; registers and events are parallel lists (few values per meter).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from meterhub.acquisition.dispatch import Ticket
from meterhub.acquisition.plans import MeterPlan, PathPlan
from meterhub.extensions.events import MeterAlarm

if TYPE_CHECKING:
    from meterhub.acquisition.dispatch import Claim
    from meterhub.acquisition.heard import HeardTelegrams

__all__ = ["ProfileRow", "SessionDraft", "SessionResult", "StoreData", "TaskOutcome"]


@dataclass(slots=True)
class ProfileRow:
    """Values of one channel on its grid: slot ``k`` starts at ``start + k * interval``."""

    channel_id: int
    start: int
    interval: int
    values: npt.NDArray[np.float64]
    status: npt.NDArray[np.uint32]
    present: npt.NDArray[np.bool_]
    #: Every slot carries a value (``present`` is all true).
    whole: bool = False

    @property
    def count(self) -> int:
        """How many slots carry a value."""
        return int(self.present.sum())


@dataclass(slots=True)
class StoreData:
    """Everything one task stores: profile rows, register readings, events."""

    profiles: list[ProfileRow] = field(default_factory=list)
    register_ids: list[int] = field(default_factory=list)
    register_times: list[int] = field(default_factory=list)
    register_values: list[float] = field(default_factory=list)
    register_status: list[int] = field(default_factory=list)
    event_ids: list[int] = field(default_factory=list)
    event_times: list[int] = field(default_factory=list)
    event_codes: list[int] = field(default_factory=list)

    @property
    def values(self) -> int:
        """How many values (interval values, register readings, events) it holds."""
        return (
            sum(row.count for row in self.profiles) + len(self.register_ids) + len(self.event_ids)
        )


@dataclass(slots=True)
class TaskOutcome:
    """The outcome of one task in one session.

    ``state`` is ``succeeded``, ``failed``, ``retry`` (failed, another attempt follows at
    ``not_before``) or ``cancelled``. ``warnings`` are what could not be stored (unknown OBIS
    codes, values outside any assignment, wrong units): reported, never dropped silently.
    ``time_sync`` is ``add`` or ``remove`` for the time-sync error group.
    """

    ticket: Ticket
    state: str
    attempts: int
    started: datetime
    finished: datetime
    error_class: str | None = None
    error_message: str | None = None
    warnings: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    path: PathPlan | None = None
    not_before: datetime | None = None
    data: StoreData = field(default_factory=StoreData)
    last_read: datetime | None = None
    time_sync: str | None = None
    sessions: list[int] = field(default_factory=list)

    @property
    def final(self) -> bool:
        """Whether the task is over (no retry follows)."""
        return self.state != "retry"


@dataclass(slots=True)
class SessionDraft:
    """One connection over one path, before it has its id: the statistics and debug log."""

    meter_id: int
    attempt: int
    path: PathPlan | None
    started: datetime
    finished: datetime
    outcome: str
    error_class: str | None = None
    error_message: str | None = None
    bytes_sent: int = 0
    bytes_received: int = 0
    frame_count: int = 0
    frames_dropped: int = 0
    frames: bytes | None = None
    task_ids: tuple[int, ...] = ()


@dataclass(slots=True)
class SessionResult:
    """Everything one session produced: its tasks' outcomes, its connections, its state."""

    meter_id: int
    plan: MeterPlan | None
    tasks: list[TaskOutcome]
    sessions: list[SessionDraft] = field(default_factory=list)
    #: Session state to store: driver state values and the counters' next values.
    state: dict[str, str] = field(default_factory=dict)
    claim: Claim | None = None
    #: Values the meter sent on its own (a received telegram, a push), stored with the batch
    #: although no task asked for them.
    received: StoreData | None = None
    #: Alarms among ``received`` (a push): the writer fires ``alarms_stored`` after the commit
    #: that stored them (not when the store refused them).
    alarms: tuple[MeterAlarm, ...] = ()
    #: Senders a receiver heard (:mod:`meterhub.acquisition.heard`), recorded with the batch;
    #: a result of the telegram stream may carry only these (``meter_id`` 0, no plan).
    heard: list[HeardTelegrams] = field(default_factory=list)
