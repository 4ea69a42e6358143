"""Check kernels: whole-array tests that return a boolean mask of suspect positions.

Every kernel takes 1-D arrays (one channel) unless it says otherwise, treats ``NaN`` as "no
value" (never suspect by itself) and allocates only a few temporaries of the input's size.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from meterhub.extensions.veekit.likeday import like_day_reference
from meterhub.extensions.veekit.scratch import scratch

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
    if flags.dtype != np.uint32:
        return np.asarray(np.bitwise_and(flags, np.uint32(mask)) != 0)
    masked = np.bitwise_and(
        flags, np.uint32(mask), out=scratch("status.masked", flags.shape, np.uint32)
    )
    return np.asarray(masked != 0)


def spikes(values: Floats, factor: float, min_delta: float) -> Bools:
    """Values that exceed both neighbours' larger value ``factor`` times and by at least
    ``min_delta`` (a spike against its neighbours). The first and last value are not judged.
    """
    out = np.zeros(values.shape, dtype=bool)
    if values.shape[-1] < 3:
        return out
    middle = values[..., 1:-1]
    if values.dtype != np.float64:
        reference = np.fmax(values[..., :-2], values[..., 2:])
        hit = np.greater(middle - reference, min_delta)
        if factor > 1.0:
            hit &= np.greater(middle, reference * factor)
        out[..., 1:-1] = hit
        return out
    shape = middle.shape
    reference = np.fmax(
        values[..., :-2], values[..., 2:], out=scratch("spikes.reference", shape, np.float64)
    )
    work = scratch("spikes.work", shape, np.float64)
    if factor <= 1.0:
        np.greater(np.subtract(middle, reference, out=work), min_delta, out=out[..., 1:-1])
        return out
    # far above the larger neighbour is rare: the margin is tested only there
    above = np.greater(
        middle,
        np.multiply(reference, factor, out=work),
        out=scratch("spikes.above", shape, np.bool_),
    )
    at = np.flatnonzero(above)
    if at.size:
        slots = values.shape[-1]
        row, column = np.divmod(at, slots - 2)
        position = row * slots + column + 1
        value = np.ascontiguousarray(values).reshape(-1)[position]
        keep = (value - reference.reshape(-1)[at]) > min_delta
        out.reshape(-1)[position[keep]] = True
    return out


def runs_at_least(mask: Bools, length: int, exclude: Bools | None = None) -> Bools:
    """The positions in runs of at least ``length`` consecutive ``True`` of ``mask`` (one
    channel, or ``[rows, slots]`` with each row on its own).

    ``exclude`` (same shape) drops every run that touches one of its positions (an outage the
    meter reported makes a run of zeros expected).
    """
    out = np.zeros(mask.shape, dtype=bool)
    if mask.size == 0 or length <= 0 or not mask.any():
        return out
    slots = mask.shape[-1]
    rows = mask.size // slots
    bits = np.ascontiguousarray(mask, dtype=bool).reshape(rows, slots).view(np.int8)
    # +1 where a run starts, -1 just after it ends, one column more per row for the last end
    edges = np.empty((rows, slots + 1), dtype=np.int8)
    edges[:, 0] = bits[:, 0]
    np.subtract(bits[:, 1:], bits[:, :-1], out=edges[:, 1:slots])
    np.negative(bits[:, -1], out=edges[:, slots])
    changes = np.flatnonzero(edges)
    rising = edges.reshape(-1)[changes] == 1
    starts, ends = changes[rising], changes[~rising]
    long = (ends - starts) >= length
    if not long.any():
        return out
    starts, ends = starts[long], ends[long]
    if exclude is not None:
        # the excluded positions in the same coordinates (a row is slots + 1 wide)
        excluded = np.flatnonzero(exclude)
        excluded += excluded // slots
        if excluded.size:
            following = np.searchsorted(excluded, starts)
            inside = following < excluded.size
            inside[inside] = excluded[following[inside]] < ends[inside]
            starts, ends = starts[~inside], ends[~inside]
            if starts.size == 0:
                return out
    lengths = ends - starts
    firsts = starts - starts // (slots + 1)  # back to positions in rows of ``slots``
    offsets = np.cumsum(lengths) - lengths
    positions = np.repeat(firsts - offsets, lengths) + np.arange(int(lengths.sum()))
    out.reshape(-1)[positions] = True
    return out


def beyond_tolerance(values: Floats, reference: Floats, relative: float, absolute: float) -> Bools:
    """Positions where ``values`` and ``reference`` (both present) differ by more than
    ``max(absolute, relative × |reference|)``."""
    allowed = np.maximum(np.abs(reference) * relative, absolute)
    return np.greater(np.abs(values - reference), allowed)


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
