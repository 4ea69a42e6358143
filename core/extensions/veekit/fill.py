"""Fill kernels: estimated values for the positions of a mask, over whole arrays."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from meterhub.extensions.veekit.scratch import scratch

__all__ = ["first_plausible", "last_plausible", "linear_fill"]

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]


def linear_fill(values: Floats, missing: Bools, max_gap: int, out: Floats | None = None) -> Floats:
    """``values`` with each run of ``missing`` positions of at most ``max_gap`` values filled
    by linear interpolation between the known values on both sides.

    Runs longer than ``max_gap``, and runs at the start or end without a known neighbour, stay
    ``NaN``. Positions that are ``NaN`` without being in ``missing`` do not serve as support.
    With ``out`` (C-contiguous, of ``values``' shape; ``values`` itself fills in place) the
    result is written there instead of a new array.
    """
    if out is None:
        out = values.copy()
    elif out is not values:
        np.copyto(out, values)
    if not missing.any():
        return out
    slots = values.shape[-1]
    holes_mask = np.isnan(out, out=scratch("fill.holes", out.shape, np.bool_))
    holes_mask |= missing
    holes = np.flatnonzero(holes_mask)
    flat_out = out.reshape(-1)
    flat_out[holes] = np.nan  # the missing positions (the others are NaN already)
    flat_values = values.ravel()
    flat_missing = missing.ravel()
    # maximal runs of holes: [first, last] in flat positions
    breaks = np.flatnonzero(np.diff(holes) != 1)
    first = holes[np.concatenate([[0], breaks + 1])]
    last = holes[np.concatenate([breaks, [holes.size - 1]])]
    row = first // slots
    left, right = first - 1, last + 1
    usable = (left >= row * slots) & (right < (row + 1) * slots) & (last - first + 1 <= max_gap)
    first, last, left, right = first[usable], last[usable], left[usable], right[usable]
    if first.size == 0:
        return out
    lengths = last - first + 1
    positions = np.repeat(first, lengths) + (
        np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    )
    run_left = np.repeat(left, lengths)
    run_right = np.repeat(right, lengths)
    take = flat_missing[positions]
    positions, run_left, run_right = positions[take], run_left[take], run_right[take]
    weight = (positions - run_left) / (run_right - run_left)
    low, high = flat_values[run_left], flat_values[run_right]
    flat_out[positions] = low + (high - low) * weight
    return out


def last_plausible(values: Floats, missing: Bools, max_gap: int | None = None) -> Floats:
    """``values`` with each ``missing`` position taking the last plausible value before it
    (at most ``max_gap`` positions back when given); ``NaN`` where there is none."""
    out = values.copy()
    if not missing.any():
        return out
    known = ~(missing | np.isnan(values))
    index = np.arange(values.size)
    before = np.where(known, index, -1)
    np.maximum.accumulate(before, out=before)
    todo = missing & (before >= 0)
    if max_gap is not None:
        todo &= (index - before) <= max_gap
    out[missing] = np.nan
    out[todo] = values[before[todo]]
    return out


def first_plausible(
    values: Floats, missing: Bools, sources: list[Floats], usable: list[Bools] | None = None
) -> Floats:
    """``values`` with each ``missing`` position taking the first source (in order) that has a
    value there (and, with ``usable``, is marked usable there)."""
    out = values.copy()
    out[missing] = np.nan
    todo = missing.copy()
    for i, source in enumerate(sources):
        if not todo.any():
            break
        take = todo & ~np.isnan(source)
        if usable is not None:
            take &= usable[i]
        out[take] = source[take]
        todo &= ~take
    return out
