"""Reads of interval data: one layer (raw, current normalized or normalized as of a time) of
many channels over a range, as ``[channels, slots]`` arrays."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

import numpy as np

from meterhub.errors import InvalidValue
from meterhub.timeseries import codec
from meterhub.timeseries.blocks import slot_of, slot_tick, tick_slots
from meterhub.timeseries.channels import profile_only
from meterhub.timeseries.history import as_of_statement
from meterhub.timeseries.results import IntervalData
from meterhub.timeseries.timegrid import DAILY, DAILY_BLOCK_DAYS, slots_per_block

if TYPE_CHECKING:
    from meterhub.timeseries.transaction import Transaction


def read(
    tx: Transaction,
    ids: np.ndarray,
    start: datetime,
    end: datetime,
    zone: tzinfo,
    label: str,
    layer: str,
    as_of: datetime | None,
) -> IntervalData:
    """Values of one layer of ``ids`` in ``[start, end)`` within ``tx`` (checked inputs)."""
    infos = tx.infos(ids)
    profile_only(infos)
    intervals = {info.interval_minutes for info in infos}
    if len(intervals) > 1:
        raise InvalidValue(
            "channel_ids", f"read channels of one interval per call, not {sorted(intervals)}"
        )
    interval = intervals.pop()
    g0 = slot_of(interval, start, zone, label, "start")
    g1 = slot_of(interval, end, zone, label, "end")
    if g1 < g0:
        raise InvalidValue("end", "must not be before start")
    statement, params, as_of_dt = as_of_statement(tx, layer, as_of)
    values, flags = read_range(tx, ids, interval, g0, g1, statement, params)
    conflict = conflict_mask(tx, ids, interval, g0, g1) if layer == "raw" else None
    units = tuple(info.normalized_unit if layer == "normalized" else info.unit for info in infos)
    return IntervalData(
        channel_ids=ids,
        interval_minutes=interval,
        first_slot=g0,
        values=values,
        flags=flags,
        tz=zone,
        label=label,
        layer=layer,
        units=units,
        conflict=conflict,
        as_of=as_of_dt,
    )


def read_range(
    tx: Transaction,
    ids: np.ndarray,
    interval: int,
    g0: int,
    g1: int,
    statement: str,
    params: dict[str, Any],
) -> tuple[np.ndarray, np.ndarray]:
    """Values and flags of global slots ``[g0, g1)`` of ``ids`` from the blocks ``statement``
    selects, as ``[channels, slots]`` arrays the caller owns."""
    slots = slots_per_block(interval)
    block_days = DAILY_BLOCK_DAYS if interval == DAILY else 1
    length = g1 - g0
    if length == 0:
        return np.empty((ids.size, 0)), np.empty((ids.size, 0), dtype=np.uint32)
    b0, b1 = g0 // slots, (g1 - 1) // slots
    rows = tx.run.fetch(
        statement,
        {"d0": b0 * block_days, "d1": b1 * block_days, **params},
        ids=ids.tolist(),
    )
    nb = b1 - b0 + 1
    if rows:
        channel_col, day_col, value_col, flag_col = zip(*rows, strict=True)
        channel = np.array(channel_col, dtype=np.int64)
        day = np.array(day_col, dtype=np.int64)
        order = np.argsort(ids)
        row = order[np.searchsorted(ids[order], channel)]
        block = day // block_days - b0
        decoded = codec.decode_values(value_col, slots)
        has_flags = flag_col.count(None) != len(flag_col)
        decoded_flags = codec.decode_flags(flag_col, slots) if has_flags else None
        if len(rows) == ids.size * nb and (row * nb + block == np.arange(len(rows))).all():
            # every block present, in output order: no scatter copy
            values = decoded.reshape(ids.size, nb, slots)
            flags = (
                np.zeros((ids.size, nb, slots), dtype=np.uint32)
                if decoded_flags is None
                else decoded_flags.reshape(ids.size, nb, slots)
            )
        else:
            values = np.full((ids.size, nb, slots), np.nan)
            flags = np.zeros((ids.size, nb, slots), dtype=np.uint32)
            values[row, block] = decoded
            if decoded_flags is not None:
                flags[row, block] = decoded_flags
    else:
        values = np.full((ids.size, nb, slots), np.nan)
        flags = np.zeros((ids.size, nb, slots), dtype=np.uint32)
    offset = g0 - b0 * slots
    if offset == 0 and length == nb * slots:
        return values.reshape(ids.size, length), flags.reshape(ids.size, length)
    values = values.reshape(ids.size, nb * slots)[:, offset : offset + length]
    flags = flags.reshape(ids.size, nb * slots)[:, offset : offset + length]
    return np.ascontiguousarray(values), np.ascontiguousarray(flags)


def conflict_mask(tx: Transaction, ids: np.ndarray, interval: int, g0: int, g1: int) -> np.ndarray:
    """``bool[channels, slots]``: slots of ``[g0, g1)`` with a conflict record."""
    mask = np.zeros((ids.size, g1 - g0), dtype=bool)
    t0, t1 = slot_tick(interval, g0), slot_tick(interval, g1)
    rows = tx.run.fetch("conflicts", {"t0": t0, "t1": t1}, ids=ids.tolist())
    if rows:
        order = np.argsort(ids)
        channel = np.array([r[0] for r in rows], dtype=np.int64)
        row = order[np.searchsorted(ids[order], channel)]
        slot = tick_slots(interval, np.array([r[1] for r in rows], dtype=np.int64)) - g0
        mask[row, slot] = True
    return mask
