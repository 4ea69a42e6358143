"""Fill kernels: estimated values for the positions of a mask, over whole arrays."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["first_plausible", "last_plausible", "linear_fill"]

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]


def linear_fill(values: Floats, missing: Bools, max_gap: int) -> Floats:
    """``values`` with each run of ``missing`` positions of at most ``max_gap`` values filled
    by linear interpolation between the known values on both sides.

    Runs longer than ``max_gap``, and runs at the start or end without a known neighbour, stay
    ``NaN``. Positions that are ``NaN`` without being in ``missing`` do not serve as support.
    """
    out = values.copy()
    holes = missing | np.isnan(values)
    if not missing.any():
        return out
    out[missing] = np.nan
    n = values.size
    known = ~holes
    if not known.any():
        return out
    index = np.arange(n)
    before = np.where(known, index, -1)
    np.maximum.accumulate(before, out=before)
    after = np.where(known, index, n)
    after = np.minimum.accumulate(after[::-1])[::-1]
    todo = np.flatnonzero(missing & (before >= 0) & (after < n) & (after - before - 1 <= max_gap))
    if todo.size == 0:
        return out
    left = before[todo]
    right = after[todo]
    weight = (todo - left) / (right - left)
    out[todo] = values[left] + (values[right] - values[left]) * weight
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
