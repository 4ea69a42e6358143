"""Edits of normalized values: substitutes and flags, recalculation from raw, restore of an
earlier state. Each is one transaction that locks its channels before it reads what it merges
with, so a value stored concurrently is never blanked; raw values are never touched."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from meterhub.errors import InvalidValue
from meterhub.timeseries import inputs
from meterhub.timeseries.blocks import Blocks, changed_spans, cut, slot_differs
from meterhub.timeseries.channels import by_interval, profile_only
from meterhub.timeseries.flags import EDIT_FLAGS, METER_STATUS_MASK, Flag
from meterhub.timeseries.ingest import first_slots
from meterhub.timeseries.normalization import normalize
from meterhub.timeseries.normlayer import Current, Stored, current, store_versions
from meterhub.timeseries.reads import read
from meterhub.timeseries.results import IntervalData, WriteReport
from meterhub.timeseries.timegrid import check_label, resolve_tz

if TYPE_CHECKING:
    from meterhub.timeseries.transaction import Transaction

T = TypeVar("T")


class Edits:
    """Changes of normalized interval values (a part of the store's facade and of a unit of
    work)."""

    def _run(self, work: Callable[[Transaction], T], write: bool = True) -> T:
        raise NotImplementedError

    def write_normalized(
        self,
        channel_ids: Sequence[int] | np.ndarray,
        start: datetime | Sequence[datetime] | np.ndarray,
        values: np.ndarray | None = None,
        flags: np.ndarray | None = None,
        *,
        where: np.ndarray | None = None,
        tz: str | tzinfo | None = None,
        label: str = "start",
        user: str,
        reason: str,
        comment: str | None = None,
        kind: str = "manual",
        empty_ok: bool = False,
    ) -> WriteReport:
        """Overwrite normalized values and/or flags (validation, estimation, manual substitute).

        ``values`` and ``flags`` are ``[channels, slots]`` arrays from ``start`` like in
        :meth:`write_intervals`; either may be ``None`` to keep what is stored. ``where`` (bool,
        same shape) selects the slots to change. Every changed block gets a new version recorded
        with ``user``, ``reason`` and ``comment``; raw values are untouched. ``kind`` says what
        the write is, for the event it fires after the commit: ``manual`` (a person's edit:
        ``values_edited``), ``validated``, ``estimated`` or ``calculated``
        (``readings_stored`` of that kind). With ``empty_ok``, ``NaN`` in ``values`` where a
        slot is written empties the slot (VEE's "insert null": the flags say why); otherwise
        ``NaN`` is refused.
        """
        if values is None and flags is None:
            raise InvalidValue("values", "give values, flags or both")
        zone = resolve_tz(tz)
        check_label(label)
        ids = inputs.channel_ids(channel_ids)
        inputs.who(user, reason)
        inputs.normalized_kind(kind)
        # without new values, a zero matrix of the flags' shape stands in (and is not used)
        given = values if values is not None else np.zeros(np.shape(np.asarray(flags)))
        empties = None
        if empty_ok and values is not None:
            try:
                given = np.array(values, dtype=np.float64)
            except (TypeError, ValueError):
                raise InvalidValue("values", "values must be numbers in a 2-D array") from None
            empties = np.isnan(given)
            given[empties] = 0.0
        vals, flg, mask = inputs.matrices(ids, given, flags, where, "flags")
        if empties is not None and empties.any():
            vals = np.where(empties.reshape(vals.shape), np.nan, vals)

        def work(tx: Transaction) -> WriteReport:
            infos = tx.infos(ids)
            profile_only(infos)
            first = first_slots(infos, start, zone, label, ids.size)
            groups = [
                cut(
                    interval,
                    ids[rows],
                    first[rows],
                    vals[rows],
                    flg[rows],
                    None if mask is None else mask[rows],
                )
                for interval, rows in by_interval(infos)
            ]
            tx.lock(ids)
            now = tx.now()
            report = WriteReport()
            for blocks in groups:
                cur = current(tx, blocks)
                w = blocks.written
                merged = cur.values if values is None else np.where(w, blocks.values, cur.values)
                merged_flags = cur.flags if flags is None else np.where(w, blocks.flags, cur.flags)
                stored = _version(
                    tx, blocks, cur, merged, merged_flags, now, zone, user, reason, comment, kind
                )
                report = _with(report, stored)
            return report

        return self._run(work)

    def recalculate(
        self,
        channel_ids: Sequence[int] | np.ndarray,
        start: datetime,
        end: datetime,
        *,
        tz: str | tzinfo | None = None,
        label: str = "start",
        keep_edits: bool = True,
        user: str,
        reason: str = "recalculation",
        comment: str | None = None,
    ) -> WriteReport:
        """Rebuild normalized values of ``[start, end)`` from raw with the current formulas.

        Channel facts and formulas are re-read first. With ``keep_edits`` values flagged
        estimated, substituted, manual or locked stay as they are; without, every slot follows
        raw (slots without raw become empty). Only blocks that change get a new version. Raw
        values are read in the same transaction, after the channels are locked, so raw stored
        concurrently is never blanked.
        """
        zone = resolve_tz(tz)
        check_label(label)
        ids = inputs.channel_ids(channel_ids)
        inputs.who(user, reason)

        def work(tx: Transaction) -> WriteReport:
            tx.state.channels.invalidate(ids.tolist())
            infos = tx.infos(ids)
            profile_only(infos)
            tx.lock(ids)
            raw = read(tx, ids, start, end, zone, label, "raw", None)
            normalized = normalize(raw.values, [info.factor for info in infos], ids)
            flags = raw.flags & np.uint32(METER_STATUS_MASK)
            assert raw.conflict is not None
            flags[raw.conflict] |= np.uint32(Flag.CONFLICT)
            return _replace_range(
                tx, ids, raw, normalized, flags, keep_edits, zone, user, reason, comment
            )

        return self._run(work)

    def restore(
        self,
        channel_ids: Sequence[int] | np.ndarray,
        start: datetime,
        end: datetime,
        as_of: datetime,
        *,
        tz: str | tzinfo | None = None,
        label: str = "start",
        user: str,
        reason: str = "restore",
        comment: str | None = None,
    ) -> WriteReport:
        """Make the normalized values of ``[start, end)`` what they were at ``as_of``.

        The old state is written as a new current version; history is kept.
        """
        zone = resolve_tz(tz)
        check_label(label)
        ids = inputs.channel_ids(channel_ids)
        inputs.who(user, reason)

        def work(tx: Transaction) -> WriteReport:
            profile_only(tx.infos(ids))
            tx.lock(ids)
            old = read(tx, ids, start, end, zone, label, "normalized", as_of)
            return _replace_range(
                tx, ids, old, old.values, old.flags, False, zone, user, reason, comment
            )

        return self._run(work)


def _replace_range(
    tx: Transaction,
    ids: np.ndarray,
    frame: IntervalData,
    values: np.ndarray,
    flags: np.ndarray,
    keep_edits: bool,
    zone: tzinfo,
    user: str,
    reason: str,
    comment: str | None,
) -> WriteReport:
    if values.shape[1] == 0:
        return WriteReport()
    first = np.full(ids.size, frame.first_slot, dtype=np.int64)
    blocks = cut(frame.interval_minutes, ids, first, values, flags, None)
    cur = current(tx, blocks)
    w = blocks.written
    if keep_edits:
        w = w & ((cur.flags & np.uint32(EDIT_FLAGS)) == 0)
    merged = np.where(w, blocks.values, cur.values)
    merged_flags = np.where(w, blocks.flags, cur.flags)
    stored = _version(
        tx, blocks, cur, merged, merged_flags, tx.now(), zone, user, reason, comment, "manual"
    )
    return _with(WriteReport(), stored)


def _with(report: WriteReport, stored: Stored) -> WriteReport:
    return WriteReport(
        normalized_versions=report.normalized_versions + stored.versions,
        change_id=stored.change_id if stored.change_id is not None else report.change_id,
    )


def _version(
    tx: Transaction,
    blocks: Blocks,
    cur: Current,
    values: np.ndarray,
    flags: np.ndarray,
    now: int,
    zone: tzinfo,
    user: str,
    reason: str,
    comment: str | None,
    kind: str,
) -> Stored:
    """Store the changed blocks as new versions and note the event the change fires."""
    flags = flags.astype(np.uint32, copy=False)
    stored = store_versions(tx, blocks, cur, values, flags, now, user, reason, comment)
    if tx.notices is not None and stored.versions:
        spans = changed_spans(blocks, slot_differs(values, cur.values, flags, cur.flags), zone)
        if kind == "manual":
            tx.notices.values_edited(user, reason, spans)
        else:
            tx.notices.readings_stored(kind, spans)
    return stored
