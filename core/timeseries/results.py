"""What the store returns: numpy arrays with their time axis, and small records for history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

import numpy as np

from meterhub.timeseries.timegrid import (
    DAILY,
    US_PER_DAY,
    interval_us,
    local_midnight_tick,
    local_offsets,
    number_to_date,
    tick_to_datetime,
)


@dataclass(frozen=True, eq=False)
class IntervalData:
    """Interval values of several channels over one range, one row per channel.

    ``values`` is ``float64[channels, slots]`` with ``NaN`` where a slot holds no value (or the
    read's flag filter excluded it); ``flags`` is ``uint32[channels, slots]``: MeterHub flags for
    normalized reads (:mod:`meterhub.timeseries.flags`), the meter's status word for raw reads.
    ``conflict`` marks raw slots with a differing re-read (raw reads only).

    Slot ``i`` covers ``[start_i, start_i + interval)``. Timestamps are given by the read's
    ``label``: ``"start"`` labels a slot by its start, ``"end"`` by its end (the European market
    convention: 00:15 is the energy of 00:00-00:15). Daily slots begin at local midnight of
    consecutive dates in ``tz``.
    """

    channel_ids: np.ndarray
    interval_minutes: int
    first_slot: int
    values: np.ndarray
    flags: np.ndarray
    tz: tzinfo
    label: str
    layer: str
    units: tuple[str | None, ...]
    conflict: np.ndarray | None = None
    as_of: datetime | None = None

    @property
    def slots(self) -> int:
        """Number of slots (columns)."""
        return int(self.values.shape[1])

    @property
    def present(self) -> np.ndarray:
        """``bool[channels, slots]``: where a value is present."""
        return np.asarray(~np.isnan(self.values))

    def start_ticks(self) -> np.ndarray:
        """UTC microseconds of each slot's start (``int64[slots]``)."""
        if self.interval_minutes == DAILY:
            return np.fromiter(
                (
                    local_midnight_tick(number_to_date(self.first_slot + i), self.tz)
                    for i in range(self.slots + 1)
                ),
                dtype=np.int64,
                count=self.slots + 1,
            )[:-1]
        step = interval_us(self.interval_minutes)
        return (self.first_slot + np.arange(self.slots, dtype=np.int64)) * step

    def _label_ticks(self) -> np.ndarray:
        if self.label == "start":
            return self.start_ticks()
        if self.interval_minutes == DAILY:
            last = number_to_date(self.first_slot + self.slots)
            ticks = self.start_ticks()
            return np.append(ticks[1:], local_midnight_tick(last, self.tz))
        return self.start_ticks() + interval_us(self.interval_minutes)

    def utc_times(self) -> np.ndarray:
        """Each slot's label instant in UTC, as ``datetime64[us]`` (naive, meaning UTC)."""
        return self._label_ticks().astype("datetime64[us]")

    def utc_offsets(self) -> np.ndarray:
        """UTC offset (``timedelta64[us]``) of ``tz`` at each slot's label instant."""
        return local_offsets(self._label_ticks(), self.tz).astype("timedelta64[us]")

    def local_times(self) -> np.ndarray:
        """Each slot's label as wall-clock time in ``tz`` (``datetime64[us]``, naive).

        On the day clocks go back, two slots show the same wall-clock time; pair them with
        :meth:`utc_offsets` to tell them apart.
        """
        ticks = self._label_ticks()
        return np.asarray((ticks + local_offsets(ticks, self.tz)).astype("datetime64[us]"))

    def timestamps(self) -> list[datetime]:
        """Each slot's label as an aware ``datetime`` in ``tz`` (one object per slot, not value)."""
        return [tick_to_datetime(int(t), self.tz) for t in self._label_ticks()]


@dataclass(frozen=True)
class WriteReport:
    """What one write did."""

    raw_new: int = 0
    raw_identical: int = 0
    conflicts: int = 0
    raw_blocks_inserted: int = 0
    raw_blocks_updated: int = 0
    normalized_versions: int = 0
    change_id: int | None = None


@dataclass(frozen=True, eq=False)
class ConflictRecords:
    """Re-reads that differed from the stored raw value, one array element per record."""

    channel_ids: np.ndarray
    times: np.ndarray
    stored_values: np.ndarray
    stored_status: np.ndarray
    values: np.ndarray
    status: np.ndarray
    received_at: np.ndarray

    def __len__(self) -> int:
        return int(self.channel_ids.size)


@dataclass(frozen=True, eq=False)
class RegisterData:
    """Register values: parallel arrays, sorted by channel then time (UTC ``datetime64[us]``).

    ``values`` and ``status`` are raw, as acquired; ``normalized`` and ``flags`` the normalized
    version read; ``capture_times`` is NaT where a reading has none.
    """

    channel_ids: np.ndarray
    times: np.ndarray
    values: np.ndarray
    status: np.ndarray
    normalized: np.ndarray
    flags: np.ndarray
    capture_times: np.ndarray
    units: dict[int, str | None] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.channel_ids.size)


@dataclass(frozen=True, eq=False)
class EventData:
    """Events: parallel arrays, sorted by channel then time (UTC ``datetime64[us]``)."""

    channel_ids: np.ndarray
    times: np.ndarray
    codes: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return int(self.channel_ids.size)


@dataclass(frozen=True)
class VersionInfo:
    """One version of one normalized block."""

    channel_id: int
    block_start: datetime
    version: int
    recorded_at: datetime
    replaced_at: datetime | None
    user: str
    reason: str
    comment: str | None
    archived: bool = False


@dataclass(frozen=True)
class ValueChange:
    """One change of one normalized value: who, when, why, from what to what."""

    version: int
    recorded_at: datetime
    user: str
    reason: str
    comment: str | None
    old_value: float | None
    new_value: float | None
    old_flags: int | None
    new_flags: int | None


def micros_to_datetime(tick: int | None) -> datetime | None:
    """An aware UTC datetime from microseconds since the epoch (``None`` stays ``None``)."""
    return None if tick is None else tick_to_datetime(int(tick), UTC)


def day_start(day_no: int) -> datetime:
    """Midnight UTC starting day number ``day_no``."""
    return tick_to_datetime(int(day_no) * US_PER_DAY, UTC)
