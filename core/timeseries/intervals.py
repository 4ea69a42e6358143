"""Interval data: the public methods that write raw values (with their normalized versions) and
read either layer; the work is done by :mod:`~meterhub.timeseries.ingest` and
:mod:`~meterhub.timeseries.reads`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from meterhub.errors import InvalidValue
from meterhub.timeseries import inputs
from meterhub.timeseries.ingest import ingest
from meterhub.timeseries.reads import read
from meterhub.timeseries.results import ConflictRecords, IntervalData, WriteReport
from meterhub.timeseries.timegrid import check_label, resolve_tz, to_tick

if TYPE_CHECKING:
    from meterhub.timeseries.transaction import Transaction

T = TypeVar("T")


class Intervals:
    """Writes and reads of interval data (a part of the store's facade and of a unit of work)."""

    def _run(self, work: Callable[[Transaction], T], write: bool = True) -> T:
        raise NotImplementedError

    def write_intervals(
        self,
        channel_ids: Sequence[int] | np.ndarray,
        start: datetime | np.datetime64 | Sequence[datetime] | np.ndarray,
        values: np.ndarray,
        status: np.ndarray | None = None,
        *,
        present: np.ndarray | None = None,
        end: datetime | None = None,
        tz: str | tzinfo | None = None,
        label: str = "start",
        user: str = "acquisition",
        reason: str = "ingest",
        comment: str | None = None,
    ) -> WriteReport:
        """Store acquired interval values (raw) and their normalized values, in one transaction.

        ``values[i, j]`` is the value of channel ``channel_ids[i]`` in its ``j``-th interval from
        ``start`` (one instant for all rows, or one per row). ``start`` labels the first interval
        by its start (``label="start"``) or its end (``label="end"``); an aware datetime is an
        instant, a naive one or a ``numpy.datetime64`` is wall-clock time in ``tz`` (see
        ``docs/datastore.md`` for the hour a DST change skips or repeats). Daily channels take
        local midnights in ``tz``. ``status`` holds the meters' status words (unsigned, up to 32
        bits). ``present`` (bool, same shape) marks which slots carry a value; others are not
        written. ``end``, if given, must be where the block ends (a check of the block length).

        Raw slots are never overwritten: a new slot fills in, an identical re-read is a no-op and
        a differing re-read becomes a conflict record (and flags the normalized value
        :attr:`Flag.CONFLICT`). Normalized values are computed by the channel's formula and
        written as new block versions recorded with ``user``, ``reason`` and ``comment``.
        """
        zone = resolve_tz(tz)
        check_label(label)
        inputs.who(user, reason)
        ids = inputs.channel_ids(channel_ids)
        vals, stat, mask = inputs.matrices(ids, values, status, present)

        def work(tx: Transaction) -> WriteReport:
            return ingest(tx, ids, start, vals, stat, mask, zone, label, end, user, reason, comment)

        return self._run(work)

    def write_local_days(
        self,
        channel_ids: Sequence[int] | np.ndarray,
        day: date,
        values: np.ndarray,
        status: np.ndarray | None = None,
        *,
        tz: str | tzinfo,
        days: int = 1,
        present: np.ndarray | None = None,
        user: str = "acquisition",
        reason: str = "ingest",
        comment: str | None = None,
    ) -> WriteReport:
        """Store whole local days: ``values`` must have exactly the slots of ``days`` days from
        ``day`` in ``tz`` (92 quarter-hours on a spring-forward day in Europe/Prague, 100 in
        autumn); otherwise :class:`InvalidValue` and nothing is written.
        """
        zone = resolve_tz(tz)
        start, end = _local_days(day, days, zone)
        return self.write_intervals(
            channel_ids,
            start,
            values,
            status,
            present=present,
            end=end,
            tz=zone,
            user=user,
            reason=reason,
            comment=comment,
        )

    def read_intervals(
        self,
        channel_ids: Sequence[int] | np.ndarray,
        start: datetime,
        end: datetime,
        *,
        tz: str | tzinfo | None = None,
        label: str = "start",
        layer: str = "normalized",
        as_of: datetime | None = None,
        flags_all: int = 0,
        flags_any: int = 0,
        flags_none: int = 0,
    ) -> IntervalData:
        """Values of ``channel_ids`` (all of one interval) in ``[start, end)``.

        ``layer`` is ``"normalized"`` (current, or as they were at ``as_of``) or ``"raw"``.
        ``start`` and ``end`` are slot labels (``label``) on the channels' grid; naive times are
        wall-clock time in ``tz``, which also sets the zone of the returned timestamps. Slots
        whose flags fail the filter (``flags_all`` all set, ``flags_any`` one set, ``flags_none``
        none set) come back as ``NaN``.
        """
        zone = resolve_tz(tz)
        check_label(label)
        if layer not in ("normalized", "raw"):
            raise InvalidValue("layer", f"must be 'normalized' or 'raw', not {layer!r}")
        if as_of is not None and layer == "raw":
            raise InvalidValue("as_of", "raw values are never changed: read them without as_of")
        ids = inputs.channel_ids(channel_ids)

        def work(tx: Transaction) -> IntervalData:
            return read(tx, ids, start, end, zone, label, layer, as_of)

        data = self._run(work, write=False)
        if flags_all or flags_any or flags_none:
            flags = data.flags
            keep = np.ones(flags.shape, dtype=bool)
            if flags_all:
                keep &= (flags & np.uint32(flags_all)) == np.uint32(flags_all)
            if flags_any:
                keep &= (flags & np.uint32(flags_any)) != 0
            if flags_none:
                keep &= (flags & np.uint32(flags_none)) == 0
            data.values[~keep] = np.nan
        return data

    def read_local_days(
        self,
        channel_ids: Sequence[int] | np.ndarray,
        day: date,
        *,
        tz: str | tzinfo,
        days: int = 1,
        **options: Any,
    ) -> IntervalData:
        """Values of whole local days from ``day`` in ``tz`` (92 or 100 quarter-hours on DST
        days in Europe/Prague); ``options`` as for :meth:`read_intervals`.
        """
        zone = resolve_tz(tz)
        start, end = _local_days(day, days, zone)
        if options.get("label") == "end":
            raise InvalidValue("label", "local days are given by date; read them labelled by start")
        return self.read_intervals(channel_ids, start, end, tz=zone, **options)

    def conflicts(
        self,
        channel_ids: Sequence[int] | np.ndarray,
        start: datetime,
        end: datetime,
        *,
        tz: str | tzinfo | None = None,
    ) -> ConflictRecords:
        """Conflict records (re-reads that differed from stored raw values) in ``[start, end)``.

        ``times`` are UTC ``datetime64[us]`` slot starts (registers: reading times).
        """
        zone = resolve_tz(tz)
        ids = inputs.channel_ids(channel_ids)
        t0, t1 = to_tick(start, zone, "start"), to_tick(end, zone, "end")

        def work(tx: Transaction) -> list[Any]:
            tx.infos(ids)
            return tx.run.fetch("conflicts", {"t0": t0, "t1": t1}, ids=ids.tolist())

        rows = self._run(work, write=False)
        cols = list(zip(*rows, strict=True)) if rows else [()] * 7
        return ConflictRecords(
            channel_ids=np.array(cols[0], dtype=np.int64),
            times=np.array(cols[1], dtype=np.int64).astype("datetime64[us]"),
            stored_values=np.array([np.nan if v is None else v for v in cols[2]], dtype=np.float64),
            stored_status=np.array([0 if v is None else v for v in cols[3]], dtype=np.int64),
            values=np.array(cols[4], dtype=np.float64),
            status=np.array(cols[5], dtype=np.int64),
            received_at=np.array(cols[6], dtype=np.int64).astype("datetime64[us]"),
        )


def _local_days(day: date, days: int, zone: tzinfo) -> tuple[datetime, datetime]:
    if not isinstance(day, date) or isinstance(day, datetime):
        raise InvalidValue("day", f"must be a date, not {day!r}")
    start = datetime.combine(day, datetime.min.time(), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=days), datetime.min.time(), tzinfo=zone)
    return start, end
