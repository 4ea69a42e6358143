"""Check kernels: whole-array tests that return a boolean mask of suspect positions.

Every kernel takes 1-D arrays (one channel) unless it says otherwise, treats ``NaN`` as "no
value" (never suspect by itself) and allocates only a few temporaries of the input's size.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "beyond_tolerance",
    "like_day_reference",
    "outside_limits",
    "register_spans",
    "runs_at_least",
    "spikes",
    "status_hits",
]

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

#: Channels per pass of :func:`like_day_reference` (measured fastest on a 2-core machine).
_LIKE_DAY_ROWS = 16


def outside_limits(values: Floats, low: float | None, high: float | None) -> Bools:
    """Values below ``low`` or above ``high`` (either may be ``None``); works on any shape."""
    if low is None and high is None:
        return np.zeros(values.shape, dtype=bool)
    if low is None:
        assert high is not None
        return np.asarray(np.greater(values, high))
    out = np.less(values, low)
    if high is not None:
        out |= np.greater(values, high)
    return out


def status_hits(flags: npt.NDArray[np.uint32], mask: int) -> Bools:
    """Positions whose flags have any bit of ``mask`` set."""
    return np.asarray(np.bitwise_and(flags, np.uint32(mask)) != 0)


def spikes(values: Floats, factor: float, min_delta: float) -> Bools:
    """Values that exceed both neighbours' larger value ``factor`` times and by at least
    ``min_delta`` (a spike against its neighbours). The first and last value are not judged.
    """
    out = np.zeros(values.shape, dtype=bool)
    if values.shape[-1] < 3:
        return out
    middle = values[..., 1:-1]
    reference = np.fmax(values[..., :-2], values[..., 2:])
    hit = np.greater(middle - reference, min_delta)
    if factor > 1.0:
        hit &= np.greater(middle, reference * factor)
    out[..., 1:-1] = hit
    return out


def runs_at_least(mask: Bools, length: int, exclude: Bools | None = None) -> Bools:
    """The positions in runs of at least ``length`` consecutive ``True`` of ``mask``.

    ``exclude`` (same shape) drops every run that touches one of its positions (an outage the
    meter reported makes a run of zeros expected).
    """
    if mask.ndim == 2:  # rows: one flat pass with a separating gap after each row
        rows, slots = mask.shape
        padded = np.zeros((rows, slots + 1), dtype=bool)
        padded[:, :slots] = mask
        flat_exclude = None
        if exclude is not None:
            flat_exclude = np.zeros((rows, slots + 1), dtype=bool)
            flat_exclude[:, :slots] = exclude
            flat_exclude = flat_exclude.ravel()
        return runs_at_least(padded.ravel(), length, flat_exclude).reshape(rows, slots + 1)[
            :, :slots
        ]
    n = mask.size
    out = np.zeros(n, dtype=bool)
    if n == 0 or length <= 0:
        return out
    edges = np.diff(mask.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    long = (ends - starts) >= length
    if not long.any():
        return out
    starts, ends = starts[long], ends[long]
    if exclude is not None and exclude.any():
        counts = np.cumsum(exclude, dtype=np.int64)
        before = np.where(starts > 0, counts[np.maximum(starts - 1, 0)], 0)
        touched = counts[ends - 1] - before
        keep = touched == 0
        starts, ends = starts[keep], ends[keep]
        if starts.size == 0:
            return out
    marks = np.bincount(starts, minlength=n + 1) - np.bincount(ends, minlength=n + 1)
    result: Bools = np.cumsum(marks[:-1]) > 0
    return result


def beyond_tolerance(values: Floats, reference: Floats, relative: float, absolute: float) -> Bools:
    """Positions where ``values`` and ``reference`` (both present) differ by more than
    ``max(absolute, relative × |reference|)``."""
    allowed = np.maximum(np.abs(reference) * relative, absolute)
    return np.greater(np.abs(values - reference), allowed)


def like_day_reference(
    values: Floats,
    day: npt.NDArray[np.int32],
    day_type: npt.NDArray[np.int16],
    minute: npt.NDArray[np.int16],
    interval_minutes: int,
    days: int,
) -> Floats:
    """For every slot, the mean of the same local time on the ``days`` most recent earlier
    dates of the same day type (``NaN`` where no such value exists).

    ``values`` (one channel, or ``[rows, slots]``) runs over history and block alike (``NaN``
    for values that must not serve as reference: missing, suspect or estimated ones); ``day``,
    ``day_type`` and ``minute`` come from a
    :class:`~meterhub.extensions.veecontext.SlotCalendar`. A date's values are laid into a
    ``[dates, slots of the day]`` matrix by local minute, so a 92- or 100-slot DST day
    compares its wall-clock quarter-hours with those of ordinary days.
    """
    flat = values.ndim == 1
    rows2d = values[None, :] if flat else values
    if rows2d.shape[-1] == 0:
        return np.empty(values.shape)
    first = int(day[0])
    row_of = (day - first).astype(np.int64)
    columns = (minute // interval_minutes).astype(np.int64)
    width = max(1, 1440 // interval_minutes)
    count_days = int(row_of[-1]) + 1
    regular = rows2d.shape[1] == count_days * width and np.array_equal(
        columns, np.tile(np.arange(width), count_days)
    )
    types = np.full(count_days, -1, dtype=np.int16)
    types[row_of] = day_type
    groups = [np.flatnonzero(types == code) for code in np.unique(types) if code >= 0]
    out = np.empty(rows2d.shape)
    for lo in range(0, rows2d.shape[0], _LIKE_DAY_ROWS):  # a few rows at a time stay in cache
        part = rows2d[lo : lo + _LIKE_DAY_ROWS]
        channels = part.shape[0]
        if regular:  # whole days without a DST change: a reshape, no scatter
            matrix = part.reshape(channels, count_days, width)
        else:
            matrix = np.full((channels, count_days, width), np.nan)
            matrix[:, row_of, columns] = part
        reference = np.full((channels, count_days, width), np.nan)
        for same in groups:
            block = matrix[:, same, :]
            present = ~np.isnan(block)
            filled = np.where(present, block, 0.0)
            total = np.zeros_like(filled)
            number = np.zeros(block.shape, dtype=np.float32)
            for back in range(1, min(days, same.size - 1) + 1):  # the like days before each
                total[:, back:, :] += filled[:, :-back, :]
                number[:, back:, :] += present[:, :-back, :]
            with np.errstate(invalid="ignore", divide="ignore"):
                reference[:, same, :] = total / number
        if regular:
            out[lo : lo + channels] = reference.reshape(channels, count_days * width)
        else:
            out[lo : lo + channels] = reference[:, row_of, columns]
    result: Floats = out[0] if flat else out
    return result


def register_spans(
    slot_starts: npt.NDArray[np.int64],
    interval_us: int,
    times: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Slot ranges ``[first, stop)`` between consecutive register times.

    ``slot_starts`` are the block's slot starts (UTC microseconds, ascending), ``times`` the
    register reading times (UTC microseconds, ascending). Range ``i`` covers the slots from
    reading ``i`` to reading ``i + 1``; positions are clipped to the block.
    """
    if times.size < 2 or slot_starts.size == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    origin = int(slot_starts[0])
    positions = (times - origin) // interval_us
    first = np.clip(positions[:-1], 0, slot_starts.size)
    stop = np.clip(positions[1:], 0, slot_starts.size)
    return first.astype(np.int64), stop.astype(np.int64)
