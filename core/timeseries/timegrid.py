"""Time at the edges of the store: IANA zones, instants as integer microseconds, interval grids.

Inside the store every instant is an ``int64`` count of microseconds since 1970-01-01 UTC (a
*tick*) and every interval is labelled by its **start**. Local time exists only at the API edge:
:func:`resolve_tz` turns a zone name into a :class:`zoneinfo.ZoneInfo`, :func:`local_day_range`
gives the UTC bounds and slot count of a local calendar day (92 or 100 quarter-hours on DST days in
Europe/Prague), and :func:`local_offsets` gives the UTC offsets of many slots without one Python
object per slot outside the days that contain a transition.

Grids: sub-daily intervals (1, 5, 10, 15, 30, 60 minutes) are aligned to multiples of the interval
counted from midnight UTC. Daily values are keyed by **calendar date**; the zone given with a call
turns a date into the instant of its local midnight, so writers and readers of daily data use the
channel's zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from meterhub.errors import InvalidValue

#: Microseconds per minute, hour and day.
US_PER_MINUTE = 60_000_000
US_PER_HOUR = 60 * US_PER_MINUTE
US_PER_DAY = 24 * US_PER_HOUR

#: The interval lengths (minutes) a profile channel may have; 1440 is a daily value.
INTERVALS = (1, 5, 10, 15, 30, 60, 1440)

#: Interval of daily values, in minutes.
DAILY = 1440

#: Daily values are stored in blocks of this many consecutive dates.
DAILY_BLOCK_DAYS = 32

#: How an interval is labelled at the API edge: by its start or by its end.
LABELS = ("start", "end")

_EPOCH_DATE = date(1970, 1, 1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def resolve_tz(tz: str | tzinfo | None, field: str = "tz") -> tzinfo:
    """The zone named ``tz`` (an IANA name such as ``Europe/Prague``); ``None`` means UTC.

    Raises :class:`InvalidValue` for a name that is not a known IANA zone.
    """
    if tz is None:
        return UTC
    if isinstance(tz, tzinfo):
        return tz
    if not isinstance(tz, str) or not tz:
        raise InvalidValue(
            field, f"time zone must be an IANA name such as 'Europe/Prague', not {tz!r}"
        )
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidValue(
            field, f"unknown time zone {tz!r}; use an IANA name such as 'Europe/Prague'"
        ) from None


def check_label(label: str) -> str:
    """Return ``label`` if it is ``"start"`` or ``"end"``; raise :class:`InvalidValue` otherwise."""
    if label not in LABELS:
        raise InvalidValue("label", f"must be 'start' or 'end', not {label!r}")
    return label


def interval_us(interval_minutes: int) -> int:
    """Length of a sub-daily interval in microseconds."""
    return interval_minutes * US_PER_MINUTE


def slots_per_block(interval_minutes: int) -> int:
    """Slots in one stored block: one UTC day of sub-daily intervals, or 32 dates of daily ones."""
    if interval_minutes == DAILY:
        return DAILY_BLOCK_DAYS
    return 1440 // interval_minutes


def to_tick(value: datetime | np.datetime64, tz: tzinfo, field: str) -> int:
    """The instant ``value`` as microseconds since the epoch (UTC).

    An aware ``datetime`` is an instant whatever its zone. A naive ``datetime`` and a
    ``numpy.datetime64`` (which has no zone) are wall-clock time in ``tz``; see
    :func:`wall_to_tick` for the wall-clock times a DST change skips or repeats.
    """
    if isinstance(value, np.datetime64):
        if np.isnat(value):
            raise InvalidValue(field, "NaT is not a time")
        tick = int(value.astype("datetime64[us]").astype(np.int64))
        return tick if tz is UTC else wall_to_tick(_naive(tick), tz, field, fold_given=False)
    if not isinstance(value, datetime):
        raise InvalidValue(field, f"must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        if tz is UTC:
            value = value.replace(tzinfo=UTC)
        else:
            return wall_to_tick(value.replace(tzinfo=None), tz, field, fold_given=True)
    delta = value.astimezone(UTC) - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def wall_to_tick(wall: datetime, tz: tzinfo, field: str, *, fold_given: bool) -> int:
    """The instant of the naive wall-clock time ``wall`` in ``tz``.

    A wall-clock time that does not exist in ``tz`` (skipped when the clocks go forward, such
    as 02:30 on 2026-03-29 in Europe/Prague) is refused. One that occurs twice (02:30 on
    2026-10-25 in Europe/Prague) is resolved by its ``fold`` when ``fold_given`` (a ``datetime``,
    PEP 495: ``fold=0`` the first occurrence, still on summer time; ``fold=1`` the second) and
    refused otherwise (a ``numpy.datetime64`` cannot say which one it means).
    """
    first = _aware_tick(wall.replace(tzinfo=tz, fold=0))
    if wall.fold == 0 or not fold_given:
        chosen = first
    else:
        chosen = _aware_tick(wall.replace(tzinfo=tz, fold=1))
    if tick_to_datetime(chosen, tz).replace(tzinfo=None, fold=0) != wall.replace(fold=0):
        raise InvalidValue(
            field,
            f"{wall.isoformat()} does not exist in {tz}: the clocks skip it when they go "
            "forward; give an aware datetime or a wall-clock time that exists",
        )
    if not fold_given:
        second = _aware_tick(wall.replace(tzinfo=tz, fold=1))
        if second != first:
            raise InvalidValue(
                field,
                f"{wall.isoformat()} occurs twice in {tz} (the clocks go back): a datetime64 "
                "cannot say which; give an aware datetime, or a naive one with fold=0 (first) "
                "or fold=1 (second)",
            )
    return chosen


def _aware_tick(value: datetime) -> int:
    delta = value.astimezone(UTC) - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def _naive(tick: int) -> datetime:
    return (_EPOCH + timedelta(microseconds=tick)).replace(tzinfo=None)


def ticks_of(values: np.ndarray, tz: tzinfo, field: str) -> np.ndarray:
    """``int64`` instants of a ``datetime64`` array read as wall-clock time in ``tz``."""
    if np.isnat(values).any():
        raise InvalidValue(field, "NaT is not a time")
    ticks = values.astype("datetime64[us]").astype(np.int64)
    if tz is UTC or ticks.size == 0:
        return ticks
    return np.array(
        [wall_to_tick(_naive(t), tz, field, fold_given=False) for t in ticks.tolist()],
        dtype=np.int64,
    )


def tick_to_datetime(tick: int, tz: tzinfo = UTC) -> datetime:
    """The aware ``datetime`` in ``tz`` of the instant ``tick``."""
    return (_EPOCH + timedelta(microseconds=int(tick))).astimezone(tz)


def date_number(day: date) -> int:
    """Days since 1970-01-01 of the calendar date ``day``."""
    return (day - _EPOCH_DATE).days


def number_to_date(number: int) -> date:
    """The calendar date ``number`` days after 1970-01-01."""
    return _EPOCH_DATE + timedelta(days=int(number))


def local_midnight_tick(day: date, tz: tzinfo) -> int:
    """The instant local midnight of ``day`` begins in ``tz`` (the first instant of the day)."""
    return to_tick(datetime.combine(day, time(0), tzinfo=tz), tz, "day")


def daily_slot(value: datetime, tz: tzinfo, field: str) -> int:
    """The date number of a daily value starting at local midnight ``value`` in ``tz``.

    Raises :class:`InvalidValue` when ``value`` is not a local midnight in ``tz``.
    """
    if not isinstance(value, datetime):
        raise InvalidValue(field, f"must be a datetime, not {type(value).__name__}")
    local = value.replace(tzinfo=tz) if value.tzinfo is None else value.astimezone(tz)
    day = local.date()
    if to_tick(value, tz, field) != local_midnight_tick(day, tz):
        raise InvalidValue(
            field, f"{value.isoformat()} is not on the daily grid (local midnight in {tz})"
        )
    return date_number(day)


@dataclass(frozen=True)
class LocalDay:
    """One local calendar day: its UTC bounds and how many intervals it holds."""

    day: date
    tz: tzinfo
    interval_minutes: int
    start: datetime
    end: datetime
    slots: int

    @property
    def start_tick(self) -> int:
        """UTC microseconds of the first instant of the day."""
        return to_tick(self.start, UTC, "start")


def local_day_range(day: date, tz: str | tzinfo, interval_minutes: int = 15) -> LocalDay:
    """UTC start and end of local calendar day ``day`` in ``tz`` and its number of slots.

    Europe/Prague 2026-03-29 has 92 quarter-hours and 2026-10-25 has 100; a daily interval has
    one slot per day.
    """
    zone = resolve_tz(tz)
    if interval_minutes not in INTERVALS:
        raise InvalidValue(
            "interval_minutes", f"must be one of {INTERVALS}, not {interval_minutes}"
        )
    start = local_midnight_tick(day, zone)
    end = local_midnight_tick(day + timedelta(days=1), zone)
    if interval_minutes == DAILY:
        slots = 1
    else:
        slots = (end - start) // interval_us(interval_minutes)
    return LocalDay(
        day=day,
        tz=zone,
        interval_minutes=interval_minutes,
        start=tick_to_datetime(start, zone),
        end=tick_to_datetime(end, zone),
        slots=int(slots),
    )


def _offset_us(tick: int, tz: tzinfo) -> int:
    offset = tick_to_datetime(tick, tz).utcoffset()
    assert offset is not None
    return (offset.days * 86400 + offset.seconds) * 1_000_000 + offset.microseconds


def local_offsets(ticks: np.ndarray, tz: tzinfo) -> np.ndarray:
    """UTC offsets in microseconds of the instants ``ticks`` (sorted ascending) in ``tz``.

    Offsets are sampled once per hour of the range; only hours whose two ends differ are resolved
    slot by slot, so a month of quarter-hours costs about 700 zone look-ups, not 2,880.
    """
    ticks = np.asarray(ticks, dtype=np.int64)
    out = np.empty(ticks.shape, dtype=np.int64)
    if ticks.size == 0:
        return out
    if tz is UTC:
        out[:] = 0
        return out
    first = int(ticks[0]) // US_PER_HOUR * US_PER_HOUR
    last = int(ticks[-1]) // US_PER_HOUR * US_PER_HOUR + US_PER_HOUR
    hours = np.arange(first, last + 1, US_PER_HOUR, dtype=np.int64)
    sampled = np.fromiter((_offset_us(int(h), tz) for h in hours), dtype=np.int64, count=len(hours))
    index = (ticks - first) // US_PER_HOUR
    out[:] = sampled[index]
    changing = np.flatnonzero(sampled[index] != sampled[np.minimum(index + 1, len(hours) - 1)])
    for i in changing:
        out[i] = _offset_us(int(ticks[i]), tz)
    return out
