"""History of normalized values: as-of reads, the versions of blocks, one value's changes, and
retention (archiving or dropping replaced versions)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from sqlalchemy import insert, select, update

from meterhub.errors import InvalidValue
from meterhub.timeseries import codec, inputs
from meterhub.timeseries import tables as t
from meterhub.timeseries.blocks import block_start, slot_of
from meterhub.timeseries.channels import ChannelInfo, profile_only
from meterhub.timeseries.results import ValueChange, VersionInfo
from meterhub.timeseries.sql import IDS_PER_STATEMENT
from meterhub.timeseries.timegrid import (
    DAILY,
    DAILY_BLOCK_DAYS,
    check_label,
    resolve_tz,
    slots_per_block,
    tick_to_datetime,
    to_tick,
)

if TYPE_CHECKING:
    from meterhub.timeseries.transaction import Transaction

T = TypeVar("T")


class History:
    """Version lists and value histories (a part of the store's facade and of a unit of work)."""

    def _run(self, work: Callable[[Transaction], T], write: bool = True) -> T:
        raise NotImplementedError

    def versions(
        self,
        channel_id: int,
        start: datetime,
        end: datetime,
        *,
        tz: str | tzinfo | None = None,
    ) -> list[VersionInfo]:
        """Every stored version of the normalized blocks of ``channel_id`` touching the range."""
        zone = resolve_tz(tz)
        ids = inputs.channel_ids([channel_id])

        def work(tx: Transaction) -> tuple[ChannelInfo, list[Any], dict[int, Any]]:
            (info,) = tx.infos(ids)
            profile_only([info])
            g0 = slot_of(info.interval_minutes, start, zone, "start", "start")
            g1 = slot_of(info.interval_minutes, end, zone, "start", "end")
            rows = block_versions(tx, info, g0, max(g0, g1 - 1))
            return info, rows, changes(tx, {r[6] for r in rows})

        info, rows, found = self._run(work, write=False)
        out = []
        for r in sorted(rows, key=lambda r: (r[0], r[1])):
            user, reason, comment = found[r[6]]
            out.append(
                VersionInfo(
                    channel_id=info.id,
                    block_start=block_start(info.interval_minutes, r[0], zone),
                    version=int(r[1]),
                    recorded_at=tick_to_datetime(r[2], zone),
                    replaced_at=None if r[3] is None else tick_to_datetime(r[3], zone),
                    user=user,
                    reason=reason,
                    comment=comment,
                    archived=bool(int(r[7])),
                )
            )
        return out

    def value_history(
        self,
        channel_id: int,
        at: datetime,
        *,
        tz: str | tzinfo | None = None,
        label: str = "start",
    ) -> list[ValueChange]:
        """Every change of the normalized value of ``channel_id`` in the slot labelled ``at``:
        who changed it, when, why, from what to what (oldest first).
        """
        zone = resolve_tz(tz)
        check_label(label)
        ids = inputs.channel_ids([channel_id])

        def work(tx: Transaction) -> tuple[ChannelInfo, int, list[Any], dict[int, Any]]:
            (info,) = tx.infos(ids)
            profile_only([info])
            g = slot_of(info.interval_minutes, at, zone, label, "at")
            rows = block_versions(tx, info, g, g)
            return info, g, rows, changes(tx, {r[6] for r in rows})

        info, g, rows, found = self._run(work, write=False)
        rows = sorted(rows, key=lambda r: r[1])
        slots = slots_per_block(info.interval_minutes)
        slot = g % slots
        values = codec.decode_values([r[4] for r in rows], slots)[:, slot]
        flags = codec.decode_flags([r[5] for r in rows], slots)[:, slot]
        out: list[ValueChange] = []
        old_v: float | None = None
        old_f: int | None = None
        for r, v, f in zip(rows, values.tolist(), flags.tolist(), strict=True):
            new_v = None if np.isnan(v) else float(v)
            new_f = None if new_v is None and f == 0 else int(f)
            if new_v == old_v and new_f == old_f:
                continue
            user, reason, comment = found[r[6]]
            out.append(
                ValueChange(
                    version=int(r[1]),
                    recorded_at=tick_to_datetime(r[2], zone),
                    user=user,
                    reason=reason,
                    comment=comment,
                    old_value=old_v,
                    new_value=new_v,
                    old_flags=old_f,
                    new_flags=new_f,
                )
            )
            old_v, old_f = new_v, new_f
        return out


def as_of_statement(
    tx: Transaction, layer: str, as_of: datetime | None
) -> tuple[str, dict[str, Any], datetime | None]:
    """The statement that reads ``layer`` (as of ``as_of``), its parameters and the as-of time.

    An as-of time in the future, or before versions were dropped by retention, is refused; one
    before the archive horizon reads the archive too.
    """
    if layer == "raw":
        return "raw_blocks", {}, None
    if as_of is None:
        return "norm_read", {}, None
    tick = to_tick(as_of, UTC, "as_of")
    if as_of.tzinfo is None:
        raise InvalidValue("as_of", "give an aware datetime")
    now = tx.now()
    if tick > now:
        raise InvalidValue(
            "as_of",
            f"{as_of.isoformat()} is in the future (now is {tick_to_datetime(now).isoformat()})",
        )
    row = tx.conn.execute(select(t.retention).where(t.retention.c.id == 1)).first()
    statement = "norm_as_of_read"
    if row is not None:
        if row.dropped_before is not None and tick < row.dropped_before:
            raise InvalidValue(
                "as_of",
                f"versions replaced before {tick_to_datetime(row.dropped_before).isoformat()} "
                "were dropped by retention",
            )
        if row.archived_before is not None and tick < row.archived_before:
            statement = "norm_as_of_archive_read"
    return statement, {"as_of": tick}, tick_to_datetime(tick)


def block_versions(tx: Transaction, info: ChannelInfo, g0: int, g1: int) -> list[Any]:
    """Every version (current, replaced and archived) of the blocks holding slots ``g0..g1``."""
    slots = slots_per_block(info.interval_minutes)
    block_days = DAILY_BLOCK_DAYS if info.interval_minutes == DAILY else 1
    return tx.run.fetch(
        "block_versions",
        {"channel": info.id, "d0": g0 // slots * block_days, "d1": g1 // slots * block_days},
    )


def changes(tx: Transaction, ids: set[int]) -> dict[int, tuple[str, str, str | None]]:
    """User, reason and comment of the change records ``ids``."""
    out: dict[int, tuple[str, str, str | None]] = {}
    wanted = sorted(ids)
    for i in range(0, len(wanted), IDS_PER_STATEMENT):
        for r in tx.conn.execute(
            select(t.change).where(t.change.c.id.in_(wanted[i : i + IDS_PER_STATEMENT]))
        ):
            out[r.id] = (r.user_name, r.reason, r.comment_text)
    return out


def prune(tx: Transaction, tick: int, now: int, archive: bool) -> int:
    """Archive (or drop) the normalized versions replaced before ``tick``; their number."""
    if tx.run.name == "postgresql":
        # no writer may close a version between the copy to the archive and the delete
        tx.conn.exec_driver_sql("LOCK TABLE ts_norm_block IN SHARE ROW EXCLUSIVE MODE")
    count = int(tx.run.fetch("prune_count", {"before": tick})[0][0])
    if archive:
        tx.run.execute("prune_archive", {"before": tick, "now": now})
    tx.run.execute("prune_delete", {"before": tick})
    row = tx.conn.execute(select(t.retention).where(t.retention.c.id == 1)).first()
    field = "archived_before" if archive else "dropped_before"
    if row is None:
        tx.conn.execute(insert(t.retention).values(id=1, **{field: tick}))
    elif getattr(row, field) is None or getattr(row, field) < tick:
        tx.conn.execute(update(t.retention).where(t.retention.c.id == 1).values(**{field: tick}))
    return count
