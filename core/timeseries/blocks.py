"""Interval data cut into stored blocks, and the slot grid the blocks lie on.

A *global slot* numbers the intervals of one length from the epoch: slot ``s`` of a 15-minute
channel starts ``s × 15`` minutes after 1970-01-01 00:00 UTC; slot ``s`` of a daily channel is the
calendar date ``s`` days after 1970-01-01. A block holds :func:`slots_per_block` consecutive slots
(one UTC day, or 32 dates) of one channel and is keyed by ``(channel_id, day_no)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import numpy as np

from meterhub.errors import InvalidValue
from meterhub.timeseries.timegrid import (
    DAILY,
    DAILY_BLOCK_DAYS,
    US_PER_DAY,
    date_number,
    interval_us,
    local_midnight_tick,
    number_to_date,
    slots_per_block,
    tick_to_datetime,
    to_tick,
)

_KEY_OFFSET = 1 << 31


@dataclass
class Blocks:
    """Data of one call cut into stored blocks (all of one interval)."""

    interval: int
    channel: np.ndarray  # int64[B]
    day_no: np.ndarray  # int64[B]
    values: np.ndarray  # float64[B, S], NaN where not written
    flags: np.ndarray  # uint32[B, S]
    written: np.ndarray  # bool[B, S]
    normalized: np.ndarray | None = None  # float64[B, S], the values normalized (ingest)

    @property
    def slots(self) -> int:
        """Slots per block."""
        return int(self.values.shape[1])

    @property
    def keys(self) -> np.ndarray:
        """One ``int64`` key per block (see :func:`keys`)."""
        return keys(self.channel, self.day_no)

    def subset(self, rows: np.ndarray) -> Blocks:
        """The blocks at positions ``rows``."""
        return Blocks(
            self.interval,
            self.channel[rows],
            self.day_no[rows],
            self.values[rows],
            self.flags[rows],
            self.written[rows],
            None if self.normalized is None else self.normalized[rows],
        )


def keys(channel: np.ndarray, day_no: np.ndarray) -> np.ndarray:
    """One ``int64`` per ``(channel, day_no)`` pair, ordered like the pairs."""
    return np.asarray(channel, dtype=np.int64) * (1 << 32) + (
        np.asarray(day_no, dtype=np.int64) + _KEY_OFFSET
    )


def match(block_keys: np.ndarray, found: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions in ``block_keys`` of the ``found`` keys, and which of ``found`` are there."""
    if found.size == 0 or block_keys.size == 0:
        return np.empty(0, dtype=np.int64), np.zeros(found.size, dtype=bool)
    if block_keys.size == 1:
        hit = found == block_keys[0]
        return np.zeros(int(hit.sum()), dtype=np.int64), hit
    order = np.argsort(block_keys, kind="stable")
    sorted_keys = block_keys[order]
    pos = np.minimum(np.searchsorted(sorted_keys, found), block_keys.size - 1)
    hit = sorted_keys[pos] == found
    return order[pos[hit]], hit


def row_keys(rows: list[Any]) -> np.ndarray:
    """Keys of fetched rows whose first two columns are channel id and day number."""
    if len(rows) == 1:
        return keys(np.array([rows[0][0]]), np.array([rows[0][1]]))
    channel, day = np.array([r[:2] for r in rows], dtype=np.int64).T
    return keys(channel, day)


def cut(
    interval: int,
    ids: np.ndarray,
    first: np.ndarray,
    values: np.ndarray,
    flags: np.ndarray,
    written: np.ndarray | None,
    normalized: np.ndarray | None = None,
) -> Blocks:
    """Cut rows of values starting at global slots ``first`` into whole stored blocks.

    ``written`` ``None`` means every slot of ``values`` is written; ``normalized`` (the values
    normalized, same shape) is cut alongside when given.
    """
    slots = slots_per_block(interval)
    block_days = DAILY_BLOCK_DAYS if interval == DAILY else 1
    rows, length = values.shape
    if length == 0:
        empty = np.empty(0, dtype=np.int64)
        return Blocks(
            interval,
            empty,
            empty,
            np.empty((0, slots)),
            np.empty((0, slots), np.uint32),
            np.empty((0, slots), bool),
        )
    b_first = first // slots
    b_last = (first + length - 1) // slots
    nb = b_last - b_first + 1
    total = int(nb.sum())
    if total == rows:  # every row within one block
        row_of = np.arange(rows)
        block = b_first
    else:
        row_of = np.repeat(np.arange(rows), nb)
        base = np.cumsum(nb) - nb
        block = b_first[row_of] + (np.arange(total) - base[row_of])
    if length % slots == 0 and not (first % slots).any():
        out_v = values.reshape(total, slots)
        out_f = flags.reshape(total, slots)
        if written is None:
            out_w = np.ones((total, slots), dtype=bool)
        else:
            out_w = written.reshape(total, slots)
        out_n = None if normalized is None else normalized.reshape(total, slots)
    else:
        start = (np.cumsum(nb) - nb) * slots + first - b_first * slots
        dest = (start[:, None] + np.arange(length)).ravel()
        flat_v = np.full(total * slots, np.nan)
        flat_f = np.zeros(total * slots, dtype=np.uint32)
        flat_w = np.zeros(total * slots, dtype=bool)
        flat_v[dest] = values.ravel()
        flat_f[dest] = flags.ravel()
        flat_w[dest] = True if written is None else written.ravel()
        out_v, out_f, out_w = (a.reshape(total, slots) for a in (flat_v, flat_f, flat_w))
        out_n = None
        if normalized is not None:
            flat_n = np.full(total * slots, np.nan)
            flat_n[dest] = normalized.ravel()
            out_n = flat_n.reshape(total, slots)
    return Blocks(
        interval=interval,
        channel=ids[row_of],
        day_no=block * block_days,
        values=out_v,
        flags=out_f,
        written=out_w,
        normalized=out_n,
    )


def same(a: np.ndarray, b: np.ndarray, fa: np.ndarray, fb: np.ndarray) -> np.ndarray:
    """Per block: are values (NaN equal to NaN) and flags identical?"""
    return np.asarray(~slot_differs(a, b, fa, fb).any(axis=1))


def slot_differs(a: np.ndarray, b: np.ndarray, fa: np.ndarray, fb: np.ndarray) -> np.ndarray:
    """Per slot: does the value (NaN equal to NaN) or the flag word differ?"""
    differs: np.ndarray = np.asarray(a != b)
    differs &= ~(np.isnan(a) & np.isnan(b))
    differs |= fa != fb
    return differs


# ---------------------------------------------------------------------- the slot grid


def slot_of(interval: int, value: Any, zone: tzinfo, label: str, field: str) -> int:
    """Global slot number of the interval labelled ``value`` (start or end) on the grid."""
    if interval == DAILY:
        if isinstance(value, np.datetime64):
            value = tick_to_datetime(to_tick(value, UTC, field)).replace(tzinfo=None)
        number = daily_number(value, zone, field)
        return number - 1 if label == "end" else number
    tick = to_tick(value, zone, field)
    step = interval_us(interval)
    if tick % step:
        raise InvalidValue(field, off_grid(tick, interval, zone))
    slot = tick // step
    return slot - 1 if label == "end" else slot


def off_grid(tick: int, interval: int, zone: tzinfo) -> str:
    """Why the instant ``tick`` is refused as a slot boundary of ``interval`` minutes."""
    local = tick_to_datetime(tick, zone)
    reason = f"{local.isoformat()} is not on the {interval}-minute grid"
    offset = local.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    if minutes % interval:
        sign = "-" if minutes < 0 else "+"
        hours, rest = divmod(abs(minutes), 60)
        reason += (
            f": {interval}-minute intervals start at multiples of {interval} minutes counted "
            f"from midnight UTC, and {zone} is UTC{sign}{hours:02d}:{rest:02d}, so its local "
            f"{interval}-minute boundaries never lie on that grid; keep such data in channels "
            f"whose interval divides the offset (15 minutes fits every zone in use)"
        )
    return reason


def daily_number(value: Any, zone: tzinfo, field: str) -> int:
    """The date number of a daily value starting at local midnight ``value`` in ``zone``."""
    if not isinstance(value, datetime):
        raise InvalidValue(field, f"must be a datetime, not {type(value).__name__}")
    tick = to_tick(value, zone, field)
    local = tick_to_datetime(tick, zone)
    number = date_number(local.date())
    if tick != local_midnight_tick(local.date(), zone):
        raise InvalidValue(
            field, f"{value.isoformat()} is not on the daily grid (local midnight in {zone})"
        )
    return number


def slot_tick(interval: int, slot: int) -> int:
    """Internal tick of global slot ``slot``: UTC start, or UTC midnight of a daily value's date."""
    if interval == DAILY:
        return slot * US_PER_DAY
    return slot * interval_us(interval)


def tick_slots(interval: int, ticks: np.ndarray) -> np.ndarray:
    """Global slots of internal ticks (the inverse of :func:`slot_tick`)."""
    return ticks // (US_PER_DAY if interval == DAILY else interval_us(interval))


def slot_ticks(interval: int, day_no: np.ndarray, slot: np.ndarray) -> np.ndarray:
    """Internal ticks of slot ``slot`` of the blocks starting at ``day_no``."""
    if interval == DAILY:
        return np.asarray((day_no + slot) * US_PER_DAY)
    return np.asarray(day_no * US_PER_DAY + slot * interval_us(interval))


def block_start(interval: int, day_no: int, zone: tzinfo) -> datetime:
    """The instant block ``day_no`` starts at, in ``zone``."""
    if interval == DAILY:
        return tick_to_datetime(local_midnight_tick(number_to_date(day_no), zone), zone)
    return tick_to_datetime(day_no * US_PER_DAY, zone)


def changed_spans(blocks: Blocks, changed: np.ndarray, zone: tzinfo) -> dict[int, tuple[int, int]]:
    """Per channel with a changed slot: UTC ticks of the start of the first and the end of the
    last changed slot (daily slots begin at local midnight in ``zone``)."""
    rows = np.flatnonzero(changed.any(axis=1))
    if rows.size == 0:
        return {}
    mask = changed[rows]
    slots = mask.shape[1]
    first = mask.argmax(axis=1)
    last = slots - 1 - mask[:, ::-1].argmax(axis=1)
    day_no = blocks.day_no[rows]
    if blocks.interval == DAILY:
        starts = [
            local_midnight_tick(number_to_date(d + s), zone)
            for d, s in zip(day_no.tolist(), first.tolist(), strict=True)
        ]
        ends = [
            local_midnight_tick(number_to_date(d + s + 1), zone)
            for d, s in zip(day_no.tolist(), last.tolist(), strict=True)
        ]
    else:
        step = interval_us(blocks.interval)
        starts = (day_no * US_PER_DAY + first * step).tolist()
        ends = (day_no * US_PER_DAY + (last + 1) * step).tolist()
    out: dict[int, tuple[int, int]] = {}
    for channel, t0, t1 in zip(blocks.channel[rows].tolist(), starts, ends, strict=True):
        found = out.get(channel)
        out[channel] = (t0, t1) if found is None else (min(found[0], t0), max(found[1], t1))
    return out
