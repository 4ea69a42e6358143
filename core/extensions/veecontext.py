"""What validators and estimators see besides the block: parameters, context and verdicts.

The VEE engine (:mod:`meterhub.vee`) hands a check or an estimation method one
:class:`~meterhub.extensions.series.IntervalBlock` of one channel, its parsed parameters (an
instance of the plugin's :class:`VeeParameters` model, checked when a profile is saved) and a
:class:`VeeContext` holding the extra data the plugin declared it ``needs``: the channel's
earlier values, the local calendar of every slot (day, day type, minute of the day), the blocks
of related channels (check meter, parent, children) and register readings. A check answers with
a :class:`Verdict`: boolean arrays, never a Python object per value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from pydantic import ConfigDict

from meterhub.extensions.settings import PluginSettings

if TYPE_CHECKING:
    import numpy.typing as npt

    from meterhub.extensions.series import IntervalBlock

__all__ = [
    "DAY_TYPES",
    "BlockRows",
    "RowsVerdict",
    "NEEDS",
    "ChannelFacts",
    "Finding",
    "NoParameters",
    "RegisterSeries",
    "SlotCalendar",
    "VeeContext",
    "VeeParameters",
    "Verdict",
]

#: What a check or an estimation method may ask the engine for (its ``needs``).
NEEDS = frozenset({"history", "calendar", "related", "children", "registers"})

#: Day type codes of :attr:`SlotCalendar.day_type`: working day, Saturday, Sunday, public
#: holiday; user-defined special day types get codes from 10 on (see ``meterhub.vee.daytypes``).
DAY_TYPES: Mapping[str, int] = {"workday": 0, "saturday": 1, "sunday": 2, "holiday": 3}


class VeeParameters(PluginSettings):
    """Base of a check's, estimation method's or calculation function's parameter model.

    Declare each parameter as a pydantic field with a default, bounds and a description; a
    profile step is refused at save time when a parameter is unknown, of the wrong type or out
    of range (:class:`~meterhub.errors.InvalidValue` naming ``parameters.<name>``). Numbers may
    be given as numbers or as text.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    field_prefix: ClassVar[str] = "parameters"


class NoParameters(VeeParameters):
    """The parameter model of a plugin that takes none."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One suspect value: its position in the block, the check's name and why."""

    position: int
    check: str
    message: str


@dataclass(frozen=True, eq=False)
class Verdict:
    """What one check found in one block.

    ``suspect`` marks the values that failed (they get :attr:`Flag.SUSPECT`); ``missing`` the
    positions the check found without a value that should have one (a gap), which estimation
    may fill; ``message`` says in one line what the check found.
    """

    suspect: npt.NDArray[np.bool_]
    message: str = ""
    missing: npt.NDArray[np.bool_] | None = None

    @classmethod
    def passed(cls, length: int) -> Verdict:
        """A verdict without findings for a block of ``length`` values."""
        return cls(np.zeros(length, dtype=bool))

    @classmethod
    def of_positions(cls, length: int, positions: object, message: str) -> Verdict:
        """A verdict marking ``positions`` (indices) of a block of ``length`` values."""
        suspect = np.zeros(length, dtype=bool)
        suspect[np.asarray(positions, dtype=np.int64)] = True
        return cls(suspect, message)

    @classmethod
    def from_findings(cls, length: int, findings: list[Finding]) -> Verdict:
        """The verdict of a list of :class:`Finding` (the simple form a check may return)."""
        suspect = np.zeros(length, dtype=bool)
        messages = []
        for finding in findings:
            if not 0 <= finding.position < length:
                raise ValueError(f"finding at position {finding.position} outside the block")
            suspect[finding.position] = True
            if finding.message and finding.message not in messages:
                messages.append(finding.message)
        return cls(suspect, "; ".join(messages[:3]))

    @property
    def count(self) -> int:
        """How many values are suspect."""
        return int(np.count_nonzero(self.suspect))

    def findings(self, check: str) -> list[Finding]:
        """One :class:`Finding` per suspect value (for people and reports; not for bulk)."""
        return [Finding(int(i), check, self.message) for i in np.flatnonzero(self.suspect)]


@dataclass(frozen=True, eq=False)
class SlotCalendar:
    """The local calendar of consecutive slots: one entry per slot, as numpy arrays.

    ``day`` numbers the local dates (days since 1970-01-01 in the channel's zone), ``day_type``
    holds the code of each slot's date (:data:`DAY_TYPES` and user-defined ones) and ``minute``
    the local minute of the day the slot starts at, so "the same quarter-hour of like days"
    is one comparison even across DST changes (a 92- or 100-slot day keeps its wall clock).
    """

    day: npt.NDArray[np.int32]
    day_type: npt.NDArray[np.int16]
    minute: npt.NDArray[np.int16]

    def __len__(self) -> int:
        return len(self.day)


@dataclass(frozen=True, eq=False)
class RegisterSeries:
    """Register readings of a channel: UTC times (``datetime64[us]``) and values, ascending."""

    times: npt.NDArray[np.datetime64]
    values: npt.NDArray[np.float64]


@dataclass(frozen=True)
class ChannelFacts:
    """Facts of the channel a block belongs to, as plain values."""

    id: int
    obis: str = ""
    name: str = ""
    unit: str | None = None
    interval_minutes: int = 15


@dataclass(frozen=True, eq=False)
class VeeContext:
    """What the engine supplies besides the block (only what the plugin ``needs``).

    - ``history``: earlier values of the same channel, ending where the block starts
      (``"history"``); ``None`` when not asked for or not stored.
    - ``calendar``: a :class:`SlotCalendar` covering ``history`` followed by the block
      (``"calendar"``).
    - ``related``: blocks of related channels aligned with the block, by role (``"check"`` for
      the check meter, ``"parent"``) (``"related"``).
    - ``children``: blocks of the child channels of a hierarchy, aligned (``"children"``).
    - ``registers``: the register readings that belong to the profile (``"registers"``).
    - ``channel``: facts of the channel; ``tz`` the zone of its local days.
    """

    tz: tzinfo = UTC
    channel: ChannelFacts | None = None
    history: IntervalBlock | None = None
    calendar: SlotCalendar | None = None
    related: Mapping[str, IntervalBlock] = field(default_factory=dict)
    children: tuple[IntervalBlock, ...] = ()
    registers: RegisterSeries | None = None


#: The context of a check that needs nothing.
EMPTY_CONTEXT = VeeContext()


@dataclass(frozen=True, eq=False)
class BlockRows:
    """Many channels over the same period at once, for the optional whole-batch methods
    (:meth:`Validator.validate_rows`, :meth:`Estimator.estimate_rows`): ``values`` and
    ``flags`` are ``[rows, slots]``; ``history_values``/``history_flags`` (``[rows, H]``) the
    earlier values when the plugin ``needs`` ``history``; the shared ``calendar`` covers
    history and values."""

    start: datetime
    interval: timedelta
    values: npt.NDArray[np.float64]
    flags: npt.NDArray[np.uint32]
    channel_ids: npt.NDArray[np.int64]
    history_values: npt.NDArray[np.float64] | None = None
    history_flags: npt.NDArray[np.uint32] | None = None
    calendar: SlotCalendar | None = None
    tz: tzinfo = UTC

    @property
    def rows(self) -> int:
        """How many channels."""
        return int(self.values.shape[0])


@dataclass(frozen=True, eq=False)
class RowsVerdict:
    """What a check found in many channels at once: ``[rows, slots]`` masks and one message
    per row (empty where nothing was found)."""

    suspect: npt.NDArray[np.bool_]
    messages: list[str]
    missing: npt.NDArray[np.bool_] | None = None
