"""What a profile run works on and what it gives: a :class:`Batch` of channels over one period,
the :class:`Outcome` with a :class:`StepResult` per step and channel that found something."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

import numpy as np
import numpy.typing as npt

from meterhub.extensions.veecontext import SlotCalendar, VeeContext
from meterhub.vee.profiles import PreparedStep

__all__ = ["Batch", "ContextFor", "Outcome", "StepResult"]

#: What gives a per-channel plugin call its context: ``(row, step) → VeeContext``.
ContextFor = Callable[[int, PreparedStep], VeeContext]


@dataclass
class Batch:
    """The values of ``rows`` channels over one period, as the run starts from.

    ``flags`` hold what is stored less VEE's own marks (a run starts clean, so running it again
    gives the same result); ``protected`` marks the slots the run must not change.
    """

    channel_ids: npt.NDArray[np.int64]
    start: datetime
    interval_minutes: int
    values: npt.NDArray[np.float64]
    flags: npt.NDArray[np.uint32]
    protected: npt.NDArray[np.bool_]
    script_data: Callable[[int], dict[str, Any]] | None = None
    #: What the ingest checks found (they run first, so no run clears their flags).
    found_at_ingest: npt.NDArray[np.bool_] | None = None
    #: The shared calendar (history + period), history values and flags, the zone: what the
    #: whole-batch methods of plugins get.
    calendar: SlotCalendar | None = None
    history_values: npt.NDArray[np.float64] | None = None
    history_flags: npt.NDArray[np.uint32] | None = None
    tz: tzinfo = UTC

    @property
    def rows(self) -> int:
        """How many channels."""
        return int(self.values.shape[0])


@dataclass(slots=True)
class StepResult:
    """What one step found or filled in one channel (for the results per value)."""

    row: int
    step: str
    positions: npt.NDArray[np.bool_]
    message: str
    outcome: str  # "suspect", "missing" or "estimated"


@dataclass
class Outcome:
    """The result of a run over a batch."""

    values: npt.NDArray[np.float64]
    flags: npt.NDArray[np.uint32]
    suspect: npt.NDArray[np.bool_]
    estimated: npt.NDArray[np.bool_]
    results: list[StepResult] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
