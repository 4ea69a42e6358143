"""The normalized layer: the current version of blocks, and new versions of those that change.

Every change of normalized values writes a complete new version of each changed block and
closes the one it replaces (``replaced_at``); the versions are recorded with the change (user,
reason, comment) they belong to. Ingest and edits both go through :func:`store_versions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from meterhub.timeseries import codec
from meterhub.timeseries.blocks import Blocks, match, row_keys, same

if TYPE_CHECKING:
    from meterhub.timeseries.transaction import Transaction


@dataclass
class Current:
    """The stored versions of some blocks (empty where a block has none)."""

    exists: np.ndarray  # bool[B]
    version: np.ndarray  # int64[B]
    recorded: np.ndarray  # int64[B]
    values: np.ndarray  # float64[B, S]
    flags: np.ndarray  # uint32[B, S]


def current(tx: Transaction, blocks: Blocks) -> Current:
    """The current normalized versions of ``blocks``."""
    return versions_of(tx, blocks, "norm_current", {})


def versions_of(tx: Transaction, blocks: Blocks, statement: str, params: dict[str, Any]) -> Current:
    """The versions of ``blocks`` that ``statement`` selects."""
    count, slots = blocks.values.shape
    out = Current(
        exists=np.zeros(count, dtype=bool),
        version=np.zeros(count, dtype=np.int64),
        recorded=np.zeros(count, dtype=np.int64),
        values=np.full((count, slots), np.nan),
        flags=np.zeros((count, slots), dtype=np.uint32),
    )
    if count == 0:
        return out
    rows = tx.run.fetch(
        statement,
        {"d0": int(blocks.day_no.min()), "d1": int(blocks.day_no.max()), **params},
        ids=sorted(set(blocks.channel.tolist())),
    )
    if not rows:
        return out
    where, hit = match(blocks.keys, row_keys(rows))
    kept = rows if hit.all() else [r for r, h in zip(rows, hit.tolist(), strict=True) if h]
    if kept:
        out.exists[where] = True
        out.version[where] = [r[2] for r in kept]
        out.recorded[where] = [r[3] for r in kept]
        out.values[where] = codec.decode_values([r[5] for r in kept], slots)
        out.flags[where] = codec.decode_flags([r[6] for r in kept], slots)
    return out


@dataclass
class Stored:
    """What :func:`store_versions` wrote: new versions and the change they belong to."""

    versions: int = 0
    change_id: int | None = None


def store_versions(
    tx: Transaction,
    blocks: Blocks,
    cur: Current,
    values: np.ndarray,
    flags: np.ndarray,
    now: int,
    user: str,
    reason: str,
    comment: str | None,
    encoded: tuple[list[bytes], list[bytes | None] | None] | None = None,
) -> Stored:
    """Write new versions of the blocks whose values or flags differ from ``cur``.

    ``encoded``, when given, holds the values blobs (and the flags blobs, or ``None``) of every
    row of ``values`` and ``flags`` already encoded (ingest of fresh blocks with factor 1).
    """
    if cur.exists.any():
        unchanged = same(values, cur.values, flags, cur.flags)
        if unchanged.all():
            return Stored()
        empty = np.isnan(values).all(axis=1) & ~flags.any(axis=1)
        write = np.flatnonzero(~unchanged & (cur.exists | ~empty))
    else:  # no version yet: every block that holds something is new
        write = np.flatnonzero(~np.isnan(values).all(axis=1) | flags.any(axis=1))
    if write.size == 0:
        return Stored()
    change_id = tx.change(now, user, reason, comment)
    recorded = np.maximum(cur.recorded[write], now)
    closing = write[cur.exists[write]]
    if closing.size:  # the versions these replace are closed
        tx.run.execute_many(
            "norm_close",
            [
                {
                    "k_channel": channel,
                    "k_day": day,
                    "k_version": version,
                    "replaced_at": replaced,
                }
                for channel, day, version, replaced in zip(
                    blocks.channel[closing].tolist(),
                    blocks.day_no[closing].tolist(),
                    cur.version[closing].tolist(),
                    np.maximum(cur.recorded[closing], now).tolist(),
                    strict=True,
                )
            ],
        )
    size = int(write.size)
    tx.run.bulk_insert(
        "ts_norm_block",
        list(
            zip(
                blocks.channel[write].tolist(),
                blocks.day_no[write].tolist(),
                (cur.version[write] + 1).tolist(),
                [change_id] * size,
                recorded.tolist(),
                [None] * size,
                _pick(encoded[0], write) if encoded else codec.encode_values(values[write]),
                _pick(encoded[1], write)
                if encoded and encoded[1] is not None
                else codec.encode_flags(flags[write]),
                strict=True,
            )
        ),
    )
    return Stored(versions=size, change_id=change_id)


def _pick(items: list[Any], rows: np.ndarray) -> list[Any]:
    return items if rows.size == len(items) else [items[i] for i in rows.tolist()]
