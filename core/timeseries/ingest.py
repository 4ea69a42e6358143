"""Ingest of interval data: raw values merged into stored blocks, then normalized versions.

Raw slots are never overwritten: a write merges into the stored raw block slot by slot (an
empty slot is filled, an identical re-read is a no-op, a differing one becomes a conflict
record, found and deduplicated with whole-array operations), then every newly filled slot is
normalized (:func:`~meterhub.timeseries.normalization.normalize`) and merged into the current
normalized block as a new version. A slot that already holds a value that is not a replaceable
estimate (``ESTIMATED`` without ``LOCKED``) keeps it.

A store built with an ``ingest_check`` (:data:`IngestCheck`, the on-the-fly validation of
:mod:`meterhub.vee.ingest`) lets it flag the normalized values a write takes, in the same
transaction and the same version: no second version for validation at ingest.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

import numpy as np

from meterhub.errors import InvalidValue
from meterhub.timeseries import codec
from meterhub.timeseries.blocks import (
    Blocks,
    changed_spans,
    cut,
    match,
    row_keys,
    slot_of,
    slot_ticks,
)
from meterhub.timeseries.channels import ChannelInfo, by_interval, of_kind
from meterhub.timeseries.flags import METER_STATUS_MASK, Flag
from meterhub.timeseries.normalization import normalize
from meterhub.timeseries.normlayer import current, store_versions
from meterhub.timeseries.results import WriteReport

if TYPE_CHECKING:
    from meterhub.timeseries.transaction import Transaction

#: The on-the-fly validation a store may run inside its ingest transaction:
#: ``check(connection, channel_ids, day_numbers, interval_minutes, values, taken)`` gets the
#: transaction's SQLAlchemy connection (for rows of its own in the same transaction), one row
#: per stored block (``values`` float64 ``[blocks, slots]`` normalized, ``taken`` bool, the
#: slots this write stores) and returns flags (uint32, same shape) to set on the taken slots, or
#: ``None`` when there is nothing to flag.
IngestCheck = Callable[
    [Any, np.ndarray, np.ndarray, int, np.ndarray, np.ndarray], np.ndarray | None
]

_ESTIMATED = np.uint32(Flag.ESTIMATED)
_LOCKED = np.uint32(Flag.LOCKED)
_CONFLICT = np.uint32(Flag.CONFLICT)
_METER_STATUS = np.uint32(METER_STATUS_MASK)
_NONE = np.uint32(0)


def ingest(
    tx: Transaction,
    ids: np.ndarray,
    start: Any,
    vals: np.ndarray,
    stat: np.ndarray,
    mask: np.ndarray | None,
    zone: tzinfo,
    label: str,
    end: datetime | None,
    user: str,
    reason: str,
    comment: str | None,
) -> WriteReport:
    """Merge raw values into stored blocks and update the normalized layer (checked inputs)."""
    infos = tx.infos(ids)
    of_kind(infos, "profile", "a profile")
    first = first_slots(infos, start, zone, label, ids.size)
    if end is not None:
        check_end(infos, first, vals.shape[1], end, zone, label)
    # normalized before anything is written, so an overflow refuses the whole call
    normalized = normalize(vals, [info.factor for info in infos], ids)
    identity = normalized is vals  # every factor is 1
    groups = []
    for interval, rows in by_interval(infos):
        whole = rows.size == ids.size
        blocks = cut(
            interval,
            ids if whole else ids[rows],
            first if whole else first[rows],
            vals if whole else vals[rows],
            stat if whole else stat[rows],
            None if mask is None else mask if whole else mask[rows],
            None if identity else normalized if whole else normalized[rows],
        )
        if identity:
            blocks.normalized = blocks.values
        groups.append(blocks)
    tx.lock(ids)
    report = WriteReport()
    for blocks in groups:
        report = add(report, merge(tx, blocks, zone, user, reason, comment))
    return report


def first_slots(
    infos: list[ChannelInfo], start: Any, zone: tzinfo, label: str, rows: int
) -> np.ndarray:
    """The global slot number of each row's first interval, checked against its grid."""
    if isinstance(start, datetime | np.datetime64):
        by_interval: dict[int, int] = {}
        out = np.empty(rows, dtype=np.int64)
        for i, info in enumerate(infos):
            slot = by_interval.get(info.interval_minutes)
            if slot is None:
                slot = by_interval[info.interval_minutes] = slot_of(
                    info.interval_minutes, start, zone, label, "start"
                )
            out[i] = slot
        return out
    starts = start if isinstance(start, np.ndarray) else list(start)
    if len(starts) != rows:
        raise InvalidValue(
            "start", f"give one start for all rows or one per row ({rows}), not {len(starts)}"
        )
    return np.array(
        [
            slot_of(info.interval_minutes, value, zone, label, "start")
            for info, value in zip(infos, starts, strict=True)
        ],
        dtype=np.int64,
    )


def check_end(
    infos: list[ChannelInfo],
    first: np.ndarray,
    length: int,
    end: datetime,
    zone: tzinfo,
    label: str,
) -> None:
    """Refuse a write whose values do not reach exactly to ``end``."""
    for info, slot in zip(infos, first.tolist(), strict=True):
        stop = slot_of(info.interval_minutes, end, zone, "start", "end")
        expected = stop - slot
        if expected != length:
            raise InvalidValue(
                "values",
                f"wrong block length: channel {info.id} needs {expected} values of "
                f"{info.interval_minutes} minutes up to {end.isoformat()}, got {length}",
            )


def merge(
    tx: Transaction,
    blocks: Blocks,
    zone: tzinfo,
    user: str,
    reason: str,
    comment: str | None,
) -> WriteReport:
    """Merge new raw values into stored blocks, then update the normalized layer with
    ``blocks.normalized``."""
    normalized = blocks.normalized
    assert normalized is not None
    now = tx.now()
    slots = blocks.slots
    count = blocks.channel.size
    channel_list = sorted(set(blocks.channel.tolist()))
    rows = tx.run.fetch(
        "raw_blocks",
        {"d0": int(blocks.day_no.min()), "d1": int(blocks.day_no.max())},
        ids=channel_list,
    )
    exists = np.zeros(count, dtype=bool)
    fill = blocks.written
    clash: np.ndarray | None = None
    raw_identical = 0
    updates: list[dict[str, Any]] = []
    conflict_rows: list[tuple[Any, ...]] = []
    if rows:
        where, hit = match(blocks.keys, row_keys(rows))
        kept = rows if hit.all() else [r for r, h in zip(rows, hit.tolist(), strict=True) if h]
        if kept:
            exists[where] = True
            stored = codec.decode_values([r[2] for r in kept], slots)
            stored_status = codec.decode_flags([r[3] for r in kept], slots)
            new = blocks.values[where]
            new_status = blocks.flags[where]
            written = blocks.written[where]
            has = ~np.isnan(stored)
            both = written & has
            same = both & (new == stored) & (new_status == stored_status)
            clashing = both & ~same
            raw_identical = int(same.sum())
            filled = written & ~has
            fill = blocks.written.copy()
            fill[where] = filled
            changed = np.flatnonzero(filled.any(axis=1))
            if changed.size:
                merged = np.where(filled, new, stored)[changed]
                merged_status = np.where(filled, new_status, stored_status)[changed]
                for i, vb, sb in zip(
                    where[changed].tolist(),
                    codec.encode_values(merged),
                    codec.encode_flags(merged_status),
                    strict=True,
                ):
                    updates.append(
                        {
                            "k_channel": int(blocks.channel[i]),
                            "k_day": int(blocks.day_no[i]),
                            "received_at": now,
                            "value_data": vb,
                            "status_data": sb,
                        }
                    )
            if clashing.any():
                clash = np.zeros_like(fill)
                clash[where] = clashing
                conflict_rows = conflict_records(
                    tx, blocks, where, clashing, stored, stored_status, now
                )
    fresh = np.flatnonzero(~exists & blocks.written.any(axis=1))
    raw_blobs: tuple[list[bytes], list[bytes | None]] | None = None
    if fresh.size:
        everything = fresh.size == count
        value_blobs = codec.encode_values(blocks.values if everything else blocks.values[fresh])
        flag_blobs = codec.encode_flags(blocks.flags if everything else blocks.flags[fresh])
        if everything:
            raw_blobs = (value_blobs, flag_blobs)
        tx.run.bulk_insert(
            "ts_raw_block",
            list(
                zip(
                    (blocks.channel if everything else blocks.channel[fresh]).tolist(),
                    (blocks.day_no if everything else blocks.day_no[fresh]).tolist(),
                    [now] * fresh.size,
                    value_blobs,
                    flag_blobs,
                    strict=True,
                )
            ),
        )
    tx.run.execute_many("raw_update", updates)
    tx.run.bulk_insert("ts_conflict", conflict_rows)
    # normalized layer: new raw slots normalized, conflicts flagged
    changed_slots = fill if clash is None else fill | clash
    touched = np.flatnonzero(changed_slots.any(axis=1))
    stored_norm = None
    if touched.size:
        whole = touched.size == count
        sub = blocks if whole else blocks.subset(touched)
        sub_fill = fill if whole else fill[touched]
        cur = current(tx, sub)
        cur_vals, cur_flags = cur.values, cur.flags
        if cur.exists.any():
            replaceable = np.isnan(cur_vals)
            replaceable |= ((cur_flags & _ESTIMATED) != 0) & ((cur_flags & _LOCKED) == 0)
            take = sub_fill & replaceable
        else:  # no normalized version yet: every new raw slot is taken
            take = sub_fill
        encoded = None
        if whole and take.all():  # a fresh block: the normalized values are the new ones
            merged = normalized
            merged_flags = sub.flags & _METER_STATUS
            if raw_blobs is not None and normalized is blocks.values:
                # factor 1: the normalized blocks are the raw blocks, encoded once
                high_status = bool((blocks.flags > _METER_STATUS).any())
                encoded = (raw_blobs[0], None if high_status else raw_blobs[1])
        else:
            merged = np.where(take, normalized if whole else normalized[touched], cur_vals)
            merged_flags = np.where(take, sub.flags & _METER_STATUS, cur_flags)
        if clash is not None:
            merged_flags[clash if whole else clash[touched]] |= _CONFLICT
            encoded = None
        check = tx.state.ingest_check
        if check is not None and take.any():
            found = check(tx.conn, sub.channel, sub.day_no, blocks.interval, merged, take)
            if found is not None and found.any():
                merged_flags = merged_flags | np.where(take, found.astype(np.uint32), _NONE)
                if encoded is not None:
                    encoded = (encoded[0], None)
        stored_norm = store_versions(
            tx, sub, cur, merged, merged_flags, now, user, reason, comment, encoded
        )
        if tx.notices is not None:
            tx.notices.readings_stored("raw", changed_spans(blocks, changed_slots, zone))
    return WriteReport(
        raw_new=int(fill.sum()),
        raw_identical=raw_identical,
        conflicts=len(conflict_rows),
        raw_blocks_inserted=int(fresh.size),
        raw_blocks_updated=len(updates),
        normalized_versions=0 if stored_norm is None else stored_norm.versions,
        change_id=None if stored_norm is None else stored_norm.change_id,
    )


def conflict_records(
    tx: Transaction,
    blocks: Blocks,
    where: np.ndarray,
    clash: np.ndarray,
    stored: np.ndarray,
    stored_status: np.ndarray,
    now: int,
) -> list[tuple[Any, ...]]:
    """Rows of ``ts_conflict`` for the clashing slots not recorded before (linear, vectorized).

    ``clash``, ``stored`` and ``stored_status`` are indexed like ``where`` (the stored blocks).
    """
    kept_i, slot_i = np.nonzero(clash)
    block_i = where[kept_i]
    ticks = slot_ticks(blocks.interval, blocks.day_no[block_i], slot_i)
    channels = blocks.channel[block_i]
    values = blocks.values[block_i, slot_i]
    status = blocks.flags[block_i, slot_i].astype(np.int64)
    old_values = stored[kept_i, slot_i]
    old_status = stored_status[kept_i, slot_i].astype(np.int64)
    seen = tx.run.fetch(
        "conflicts",
        {"t0": int(ticks.min()), "t1": int(ticks.max()) + 1},
        ids=sorted(set(channels.tolist())),
    )
    if seen:
        cols = list(zip(*seen, strict=True))
        known = _conflict_keys(
            np.array(cols[0]), np.array(cols[1]), np.array(cols[4]), np.array(cols[5])
        )
        new = ~np.isin(_conflict_keys(channels, ticks, values, status), known)
        channels, ticks, values, status = channels[new], ticks[new], values[new], status[new]
        old_values, old_status = old_values[new], old_status[new]
    count = int(channels.size)
    return list(
        zip(
            channels.tolist(),
            ticks.tolist(),
            old_values.tolist(),
            old_status.tolist(),
            values.tolist(),
            status.tolist(),
            [now] * count,
            strict=True,
        )
    )


def _conflict_keys(
    channels: np.ndarray, ticks: np.ndarray, values: np.ndarray, status: np.ndarray
) -> np.ndarray:
    """One comparable item per (channel, time, value, status); -0.0 and 0.0 compare equal."""
    record = np.empty(channels.size, dtype=[("c", "<i8"), ("t", "<i8"), ("v", "<f8"), ("s", "<i8")])
    record["c"] = channels
    record["t"] = ticks
    record["v"] = np.asarray(values, dtype=np.float64) + 0.0
    record["s"] = status
    return record.view(np.dtype((np.void, 32)))


def add(a: WriteReport, b: WriteReport) -> WriteReport:
    """The sum of two reports (the change id of the later one that has one)."""
    return WriteReport(
        raw_new=a.raw_new + b.raw_new,
        raw_identical=a.raw_identical + b.raw_identical,
        conflicts=a.conflicts + b.conflicts,
        raw_blocks_inserted=a.raw_blocks_inserted + b.raw_blocks_inserted,
        raw_blocks_updated=a.raw_blocks_updated + b.raw_blocks_updated,
        normalized_versions=a.normalized_versions + b.normalized_versions,
        change_id=b.change_id if b.change_id is not None else a.change_id,
    )
