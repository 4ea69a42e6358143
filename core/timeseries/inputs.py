"""Checks of the arguments of the store's calls, made before anything is read or written.

Each function either returns the argument in the form the store works with (``int64`` channel
ids, ``float64`` values, ``uint32`` status words) or raises :class:`InvalidValue` naming the
field, so a refused call leaves the database as it was.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from meterhub.errors import InvalidValue

_UINT32_MAX = (1 << 32) - 1

#: The kinds of normalized writes: what ``write_normalized`` stores, for the event it fires.
NORMALIZED_KINDS = ("manual", "validated", "estimated", "calculated")


def channel_ids(value: Any, allow_duplicates: bool = False) -> np.ndarray:
    """``value`` as a non-empty ``int64[n]`` array of channel ids."""
    if isinstance(value, list) and value and all(type(v) is int for v in value):
        ids = np.array(value, dtype=np.int64)  # the common case, without numpy's type probing
    else:
        ids = np.asarray(value)
        if ids.ndim == 0:
            ids = ids.reshape(1)
        if ids.ndim != 1 or ids.size == 0:
            raise InvalidValue("channel_ids", "give a non-empty 1-D sequence of channel ids")
        if not np.issubdtype(ids.dtype, np.integer) or ids.dtype == np.bool_:
            raise InvalidValue("channel_ids", f"channel ids must be integers, not {ids.dtype}")
        ids = ids.astype(np.int64)
    if ids.size == 0:
        raise InvalidValue("channel_ids", "give a non-empty 1-D sequence of channel ids")
    if not allow_duplicates and ids.size > 1 and len(set(ids.tolist())) != ids.size:
        raise InvalidValue("channel_ids", "a channel appears twice in one call")
    return ids


def matrices(
    ids: np.ndarray,
    values: Any,
    status: Any,
    present: Any,
    status_field: str = "status",
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Check the 2-D inputs of a write: values, status words and the presence mask.

    Returns ``(values, status, mask)``; ``values`` holds NaN where ``present`` is false and
    ``mask`` is ``None`` when every slot is written. NaN or inf where a value is written, and a
    write of zero slots, are refused.
    """
    try:
        vals = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidValue("values", "values must be numbers in a 2-D array") from None
    if vals.ndim == 1 and ids.size == 1:
        vals = vals.reshape(1, -1)
    if vals.ndim != 2 or vals.shape[0] != ids.size:
        raise InvalidValue(
            "values",
            f"need a 2-D array with one row per channel ({ids.size}), got shape {vals.shape}",
        )
    if vals.shape[1] == 0:
        raise InvalidValue("values", "no slots to write: give at least one value per channel")
    mask: np.ndarray | None = None
    if present is not None:
        mask = np.asarray(present)
        if mask.ndim == 1 and ids.size == 1:
            mask = mask.reshape(1, -1)
        if mask.shape != vals.shape or mask.dtype != np.bool_:
            raise InvalidValue("present", f"need a bool array of shape {vals.shape}")
    stat = status_array(status, vals.shape, status_field)
    if mask is None:
        finite(vals, "values")
        return vals, stat, None
    finite(vals[mask], "values")
    return np.where(mask, vals, np.nan), np.where(mask, stat, np.uint32(0)), mask


def status_array(status: Any, shape: tuple[int, ...], field: str = "status") -> np.ndarray:
    """Status words (or flags) of ``shape`` as ``uint32``; ``None`` is all zero."""
    if status is None:
        return np.zeros(shape, dtype=np.uint32)
    stat = np.asarray(status)
    if stat.ndim == 1 and len(shape) == 2 and shape[0] == 1:
        stat = stat.reshape(1, -1)
    if stat.shape != shape:
        raise InvalidValue(field, f"need an array of shape {shape}, got {stat.shape}")
    if stat.dtype == np.uint32:
        return stat
    if stat.size and (
        not np.issubdtype(stat.dtype, np.integer) or stat.min() < 0 or stat.max() > _UINT32_MAX
    ):
        raise InvalidValue(field, "status words must be unsigned integers of at most 32 bits")
    return stat.astype(np.uint32)


def finite(values: np.ndarray, field: str) -> None:
    """Refuse NaN and infinite values (absent slots are marked with ``present``)."""
    if not np.isfinite(values).all():
        bad = "NaN" if np.isnan(values).any() else "infinite"
        raise InvalidValue(field, f"{bad} values are not accepted: mark missing slots with present")


def who(user: str, reason: str) -> None:
    """Refuse a change that does not say who makes it and why."""
    if not isinstance(user, str) or not user.strip():
        raise InvalidValue("user", "say who makes the change")
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidValue("reason", "say why the values change")


def normalized_kind(kind: str) -> str:
    """``kind`` if it is one of :data:`NORMALIZED_KINDS`."""
    if kind not in NORMALIZED_KINDS:
        raise InvalidValue("kind", f"must be one of {', '.join(NORMALIZED_KINDS)}, not {kind!r}")
    return kind
