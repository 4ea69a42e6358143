"""The meter data store: bulk numpy writes and reads of raw, normalized and versioned meter data.

:class:`MeterDataStore` is the one entry point. Every public method is one transaction: it
validates the whole call first (unknown channels, off-grid times, NaN/inf, wrong lengths, unknown
zones, as-of in the future) and writes nothing unless everything is acceptable.

Interval data travels as 2-D numpy arrays ``[channels, slots]``; no Python object is made per
value on the write or read path. See ``docs/datastore.md`` for the layout and the reasons.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from fractions import Fraction
from typing import Any

import numpy as np
from sqlalchemy import Engine, column, delete, insert, select, table, update

from meterhub.errors import Conflict, InvalidValue
from meterhub.timeseries import codec
from meterhub.timeseries import tables as t
from meterhub.timeseries.flags import EDIT_FLAGS, METER_STATUS_MASK, Flag
from meterhub.timeseries.normalization import (
    Formula,
    Unit,
    UnitTable,
    channel_factor,
    check_formula,
)
from meterhub.timeseries.results import (
    ConflictRecords,
    EventData,
    IntervalData,
    RegisterData,
    ValueChange,
    VersionInfo,
    WriteReport,
)
from meterhub.timeseries.sql import IDS_PER_STATEMENT, Compiled, Runner
from meterhub.timeseries.timegrid import (
    DAILY,
    DAILY_BLOCK_DAYS,
    INTERVALS,
    US_PER_DAY,
    check_label,
    date_number,
    interval_us,
    local_midnight_tick,
    number_to_date,
    resolve_tz,
    slots_per_block,
    tick_to_datetime,
    to_tick,
)

#: The channel table of the domain model, as far as the store reads it.
_channel = table(
    "channel",
    column("id"),
    column("virtual_meter_id"),
    column("kind"),
    column("interval_minutes"),
    column("unit"),
    column("scaler"),
)
_group_member = table("meter_group_member", column("group_id"), column("virtual_meter_id"))

_KEY_OFFSET = 1 << 31
_UINT32_MAX = (1 << 32) - 1


@dataclass(frozen=True)
class ChannelInfo:
    """What the store needs to know about one channel, with its normalization resolved."""

    id: int
    kind: str
    interval_minutes: int
    unit: str | None
    scaler: int
    formula: str | None
    factor: Fraction
    normalized_unit: str | None


@dataclass
class _Blocks:
    """Data of one call cut into stored blocks (all of one interval)."""

    interval: int
    channel: np.ndarray  # int64[B]
    day_no: np.ndarray  # int64[B]
    values: np.ndarray  # float64[B, S], NaN where not written
    flags: np.ndarray  # uint32[B, S]
    written: np.ndarray  # bool[B, S]

    @property
    def slots(self) -> int:
        return int(self.values.shape[1])

    @property
    def keys(self) -> np.ndarray:
        return _keys(self.channel, self.day_no)


def _keys(channel: np.ndarray, day_no: np.ndarray) -> np.ndarray:
    return np.asarray(channel, dtype=np.int64) * (1 << 32) + (
        np.asarray(day_no, dtype=np.int64) + _KEY_OFFSET
    )


def _match(keys: np.ndarray, found: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions in ``keys`` of the ``found`` keys, and which of ``found`` are in ``keys``."""
    if found.size == 0 or keys.size == 0:
        return np.empty(0, dtype=np.int64), np.zeros(found.size, dtype=bool)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    pos = np.minimum(np.searchsorted(sorted_keys, found), keys.size - 1)
    hit = sorted_keys[pos] == found
    return order[pos[hit]], hit


def _same(a: np.ndarray, b: np.ndarray, fa: np.ndarray, fb: np.ndarray) -> np.ndarray:
    """Per block: are values (NaN equal to NaN) and flags identical?"""
    equal = (a == b) | (np.isnan(a) & np.isnan(b))
    return equal.all(axis=1) & (fa == fb).all(axis=1)


class _Tx:
    """One database transaction: the SQLAlchemy connection and a runner on its driver connection."""

    def __init__(self, conn: Any, run: Runner) -> None:
        self.conn = conn
        self.run = run
        self.change_id: int | None = None


class MeterDataStore:
    """Raw, normalized and versioned meter data of the channels in one database.

    ``engine`` is the application's engine (:func:`meterhub.db.make_engine`). ``clock`` returns
    the current instant (aware); tests may pass their own.

    Channel facts (interval, kind, unit, scaler, formula) are looked up once per call for all
    channels of the call and cached in this instance; call :meth:`invalidate_channels` after
    changing channels or formulas elsewhere (this instance's own formula methods invalidate).
    """

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self._clock = clock or (lambda: datetime.now(UTC))
        self._channels: dict[int, ChannelInfo] = {}
        self._units: UnitTable | None = None
        self._compiled: dict[str, Compiled] = {}

    # ------------------------------------------------------------------ plumbing

    def _now(self) -> int:
        return to_tick(self._clock(), UTC, "now")

    @contextmanager
    def _transaction(self, write: bool = True) -> Iterator[_Tx]:
        with self.engine.connect() as conn:
            dbapi = conn.connection.driver_connection
            run = Runner(dbapi, self.engine.dialect, self._compiled)
            if not write:
                yield _Tx(conn, run)
                return
            with conn.begin():
                if run.name == "sqlite":
                    # take the write lock before reading what a merge is based on
                    dbapi.execute("BEGIN IMMEDIATE")
                try:
                    yield _Tx(conn, run)
                except Exception as error:
                    cause = getattr(error, "orig", error)
                    if getattr(cause, "sqlstate", None) == "23505":
                        raise _ConcurrentWrite(str(cause).splitlines()[0]) from error
                    raise

    # ------------------------------------------------------------------ channels and formulas

    def invalidate_channels(self, channel_ids: Iterable[int] | None = None) -> None:
        """Forget cached channel facts (all, or of ``channel_ids``) and the units table."""
        if channel_ids is None:
            self._channels.clear()
            self._units = None
            return
        for channel_id in channel_ids:
            self._channels.pop(int(channel_id), None)

    def _unit_table(self, conn: Any) -> UnitTable:
        if self._units is None:
            rows = conn.execute(select(t.unit)).all()
            self._units = UnitTable(
                Unit(r.symbol, r.quantity, Fraction(r.factor_num, r.factor_den), r.rate_of)
                for r in rows
            )
        return self._units

    def channel_info(self, channel_ids: Sequence[int] | np.ndarray) -> list[ChannelInfo]:
        """Facts of the channels ``channel_ids`` (one query for all that are not cached)."""
        ids = _ids(channel_ids, allow_duplicates=True)
        with self._transaction(write=False) as tx:
            return self._infos(tx, ids)

    def _infos(self, tx: _Tx, ids: np.ndarray) -> list[ChannelInfo]:
        missing = sorted({int(i) for i in ids.tolist()} - self._channels.keys())
        if missing:
            self._load_channels(tx.conn, missing)
        unknown = [i for i in ids.tolist() if i not in self._channels]
        if unknown:
            shown = ", ".join(str(i) for i in unknown[:10])
            more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
            raise InvalidValue("channel_ids", f"unknown channel ids: {shown}{more}")
        return [self._channels[i] for i in ids.tolist()]

    def _load_channels(self, conn: Any, ids: list[int]) -> None:
        units = self._unit_table(conn)
        rows: list[Any] = []
        assigned: dict[int, int] = {}
        for i in range(0, len(ids), IDS_PER_STATEMENT):
            chunk = ids[i : i + IDS_PER_STATEMENT]
            rows += conn.execute(select(_channel).where(_channel.c.id.in_(chunk))).all()
            assigned.update(
                conn.execute(
                    select(t.channel_formula.c.channel_id, t.channel_formula.c.formula_id).where(
                        t.channel_formula.c.channel_id.in_(chunk)
                    )
                ).all()
            )
        meters = sorted({r.virtual_meter_id for r in rows if r.id not in assigned})
        by_meter: dict[int, int] = {}
        for i in range(0, len(meters), IDS_PER_STATEMENT):
            chunk = meters[i : i + IDS_PER_STATEMENT]
            found = conn.execute(
                select(_group_member.c.virtual_meter_id, t.group_formula.c.formula_id)
                .join(t.group_formula, t.group_formula.c.group_id == _group_member.c.group_id)
                .where(_group_member.c.virtual_meter_id.in_(chunk))
                .order_by(_group_member.c.virtual_meter_id, t.group_formula.c.group_id)
            ).all()
            for meter, formula_id in found:
                by_meter.setdefault(meter, formula_id)
        wanted = set(assigned.values()) | set(by_meter.values())
        formulas: dict[int, Formula] = {}
        if wanted:
            for r in conn.execute(select(t.formula).where(t.formula.c.id.in_(sorted(wanted)))):
                formulas[r.id] = _formula_from_row(r)
        for r in rows:
            formula_id = assigned.get(r.id, by_meter.get(r.virtual_meter_id))
            formula = formulas.get(formula_id) if formula_id is not None else None
            interval = int(r.interval_minutes or 0)
            try:
                factor, normalized_unit = channel_factor(
                    formula,
                    unit=r.unit,
                    scaler=int(r.scaler or 0),
                    interval_minutes=interval,
                    units=units,
                )
            except InvalidValue as error:
                raise InvalidValue(
                    "formula",
                    f"formula {formula.name if formula else None!r} cannot normalize channel "
                    f"{r.id}: {error.reason}",
                ) from None
            self._channels[r.id] = ChannelInfo(
                id=r.id,
                kind=r.kind,
                interval_minutes=interval,
                unit=r.unit,
                scaler=int(r.scaler or 0),
                formula=formula.name if formula else None,
                factor=factor,
                normalized_unit=normalized_unit,
            )

    def add_unit(self, unit: Unit) -> None:
        """Add or change a site-specific unit of the units table."""
        if not unit.symbol or not unit.quantity or unit.factor <= 0:
            raise InvalidValue("unit", "a unit needs a symbol, a quantity and a positive size")
        factor = Fraction(unit.factor)
        with self._transaction() as tx:
            tx.conn.execute(delete(t.unit).where(t.unit.c.symbol == unit.symbol))
            tx.conn.execute(
                insert(t.unit).values(
                    symbol=unit.symbol,
                    quantity=unit.quantity,
                    factor_num=factor.numerator,
                    factor_den=factor.denominator,
                    rate_of=unit.rate_of,
                )
            )
        self.invalidate_channels()

    def define_formula(self, formula: Formula) -> int:
        """Create the formula ``formula.name`` or replace its settings; its id.

        Channels normalized by it use the new settings from the next write on; rebuild stored
        values with :meth:`recalculate`.
        """
        with self._transaction() as tx:
            check_formula(formula, self._unit_table(tx.conn))
            values = _formula_row(formula)
            found = tx.conn.execute(
                select(t.formula.c.id).where(t.formula.c.name == formula.name)
            ).scalar()
            if found is None:
                found = tx.conn.execute(
                    insert(t.formula).values(**values).returning(t.formula.c.id)
                ).scalar_one()
            else:
                tx.conn.execute(update(t.formula).where(t.formula.c.id == found).values(**values))
        self.invalidate_channels()
        return int(found)

    def formula(self, name: str) -> Formula:
        """The formula called ``name``."""
        with self._transaction(write=False) as tx:
            row = tx.conn.execute(select(t.formula).where(t.formula.c.name == name)).first()
        if row is None:
            raise InvalidValue("formula", f"no formula called {name!r}")
        return _formula_from_row(row)

    def _formula_id(self, conn: Any, name: str | None) -> int | None:
        if name is None:
            return None
        found = conn.execute(select(t.formula.c.id).where(t.formula.c.name == name)).scalar()
        if found is None:
            raise InvalidValue("formula", f"no formula called {name!r}")
        return int(found)

    def assign_formula(self, name: str | None, channel_ids: Sequence[int] | np.ndarray) -> None:
        """Normalize ``channel_ids`` with formula ``name`` (``None``: the group's or none)."""
        ids = _ids(channel_ids)
        with self._transaction() as tx:
            self._infos(tx, ids)
            formula_id = self._formula_id(tx.conn, name)
            tx.conn.execute(
                delete(t.channel_formula).where(t.channel_formula.c.channel_id.in_(ids.tolist()))
            )
            if formula_id is not None:
                tx.conn.execute(
                    insert(t.channel_formula),
                    [{"channel_id": int(i), "formula_id": formula_id} for i in ids.tolist()],
                )
            self.invalidate_channels(ids.tolist())
            self._infos(tx, ids)  # the formula must apply to every channel
        self.invalidate_channels(ids.tolist())

    def assign_group_formula(self, name: str | None, group_id: int) -> None:
        """Normalize every channel of the virtual meters of meter group ``group_id`` with ``name``.

        A channel's own formula (:meth:`assign_formula`) wins over its groups'; of several
        groups, the one with the lowest id wins.
        """
        with self._transaction() as tx:
            formula_id = self._formula_id(tx.conn, name)
            tx.conn.execute(delete(t.group_formula).where(t.group_formula.c.group_id == group_id))
            if formula_id is not None:
                tx.conn.execute(
                    insert(t.group_formula).values(group_id=group_id, formula_id=formula_id)
                )
        self.invalidate_channels()

    # ------------------------------------------------------------------ interval writes

    def write_intervals(
        self,
        channel_ids: Sequence[int] | np.ndarray,
        start: datetime | Sequence[datetime] | np.ndarray,
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
        instant, a naive one is wall-clock time in ``tz``. Daily channels take local midnights
        in ``tz``. ``status`` holds the meters' status words (unsigned, up to 32 bits).
        ``present`` (bool, same shape) marks which slots carry a value; others are not written.
        ``end``, if given, must be where the block ends (a check of the block length).

        Raw slots are never overwritten: a new slot fills in, an identical re-read is a no-op and
        a differing re-read becomes a conflict record (and flags the normalized value
        :attr:`Flag.CONFLICT`). Normalized values are computed by the channel's formula and
        written as new block versions recorded with ``user``, ``reason`` and ``comment``.
        """
        zone = resolve_tz(tz)
        check_label(label)
        ids = _ids(channel_ids)
        vals, stat, mask = _matrices(ids, values, status, present)

        def attempt() -> WriteReport:
            with self._transaction() as tx:
                infos = self._infos(tx, ids)
                for info in infos:
                    if info.kind != "profile":
                        raise InvalidValue(
                            "channel_ids",
                            f"channel {info.id} is a {info.kind} channel, not a profile",
                        )
                first = self._first_slots(infos, start, zone, label, ids.size)
                if end is not None:
                    self._check_end(infos, first, vals.shape[1], end, zone, label)
                report = WriteReport()
                factors = {info.id: info.factor for info in infos}
                for interval, rows in _by_interval(infos):
                    blocks = _cut(
                        interval, ids[rows], first[rows], vals[rows], stat[rows], mask[rows]
                    )
                    report = _add(report, self._ingest(tx, blocks, factors, user, reason, comment))
                return report

        return _retry(attempt)

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
        if not isinstance(day, date) or isinstance(day, datetime):
            raise InvalidValue("day", f"must be a date, not {day!r}")
        start = datetime.combine(day, datetime.min.time(), tzinfo=zone)
        end = datetime.combine(day + timedelta(days=days), datetime.min.time(), tzinfo=zone)
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

    def _first_slots(
        self,
        infos: list[ChannelInfo],
        start: Any,
        zone: tzinfo,
        label: str,
        rows: int,
    ) -> np.ndarray:
        """The global slot number of each row's first interval, checked against its grid."""
        if isinstance(start, datetime | np.datetime64):
            starts: list[Any] | np.ndarray = [start] * rows
        else:
            starts = start if isinstance(start, np.ndarray) else list(start)
            if len(starts) != rows:
                raise InvalidValue(
                    "start",
                    f"give one start for all rows or one per row ({rows}), not {len(starts)}",
                )
        out = np.empty(rows, dtype=np.int64)
        for i, (info, value) in enumerate(zip(infos, starts, strict=True)):
            out[i] = _slot_of(info.interval_minutes, value, zone, label, "start")
        return out

    def _check_end(
        self,
        infos: list[ChannelInfo],
        first: np.ndarray,
        length: int,
        end: datetime,
        zone: tzinfo,
        label: str,
    ) -> None:
        for info, slot in zip(infos, first.tolist(), strict=True):
            stop = _slot_of(info.interval_minutes, end, zone, "start", "end")
            expected = stop - slot
            if expected != length:
                raise InvalidValue(
                    "values",
                    f"wrong block length: channel {info.id} needs {expected} values of "
                    f"{info.interval_minutes} minutes up to {end.isoformat()}, got {length}",
                )

    def _ingest(
        self,
        tx: _Tx,
        blocks: _Blocks,
        factors: dict[int, Fraction],
        user: str,
        reason: str,
        comment: str | None,
    ) -> WriteReport:
        """Merge new raw values into stored blocks, then update the normalized layer."""
        now = self._now()
        slots = blocks.slots
        count = blocks.channel.size
        keys = blocks.keys
        rows = tx.run.fetch(
            "raw_blocks",
            {"d0": int(blocks.day_no.min()), "d1": int(blocks.day_no.max())},
            ids=np.unique(blocks.channel).tolist(),
        )
        exists = np.zeros(count, dtype=bool)
        fill = blocks.written.copy()
        conflict_slots = np.zeros_like(fill)
        raw_identical = 0
        updates: list[dict[str, Any]] = []
        conflict_rows: list[dict[str, Any]] = []
        if rows:
            found = _keys(np.array([r[0] for r in rows]), np.array([r[1] for r in rows]))
            where, hit = _match(keys, found)
            kept = [r for r, h in zip(rows, hit.tolist(), strict=True) if h]
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
                clash = both & ~same
                raw_identical = int(same.sum())
                filled = written & ~has
                fill[where] = filled
                conflict_slots[where] = clash
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
                if clash.any():
                    conflict_rows = self._conflict_rows(
                        tx, blocks, where, clash, stored, stored_status, now
                    )
        fresh = np.flatnonzero(~exists & blocks.written.any(axis=1))
        if fresh.size:
            value_blobs = codec.encode_values(blocks.values[fresh])
            status_blobs = codec.encode_flags(blocks.flags[fresh])
            tx.run.bulk_insert(
                "ts_raw_block",
                zip(
                    blocks.channel[fresh].tolist(),
                    blocks.day_no[fresh].tolist(),
                    [now] * fresh.size,
                    value_blobs,
                    status_blobs,
                    strict=True,
                ),
            )
        tx.run.execute_many("raw_update", updates)
        tx.run.execute_many("conflict_insert", conflict_rows)
        # normalized layer: new raw slots normalized, conflicts flagged
        touched = np.flatnonzero((fill | conflict_slots).any(axis=1))
        versions = 0
        if touched.size:
            sub = _subset(blocks, touched)
            sub_fill = fill[touched]
            sub_clash = conflict_slots[touched]
            normalized = _normalize(sub, factors)
            meter_flags = sub.flags & METER_STATUS_MASK
            current = self._current_norm(tx, sub)
            cur_vals, cur_flags = current.values, current.flags
            replaceable = np.isnan(cur_vals) | (
                ((cur_flags & Flag.ESTIMATED) != 0) & ((cur_flags & Flag.LOCKED) == 0)
            )
            take = sub_fill & replaceable
            merged = np.where(take, normalized, cur_vals)
            merged_flags = np.where(take, meter_flags, cur_flags).astype(np.uint32)
            merged_flags[sub_clash] |= np.uint32(Flag.CONFLICT)
            versions = self._store_norm(
                tx, sub, current, merged, merged_flags, now, user, reason, comment
            )
        return WriteReport(
            raw_new=int(fill.sum()),
            raw_identical=raw_identical,
            conflicts=len(conflict_rows),
            raw_blocks_inserted=int(fresh.size),
            raw_blocks_updated=len(updates),
            normalized_versions=versions,
            change_id=tx.change_id,
        )

    def _conflict_rows(
        self,
        tx: _Tx,
        blocks: _Blocks,
        where: np.ndarray,
        clash: np.ndarray,
        stored: np.ndarray,
        stored_status: np.ndarray,
        now: int,
    ) -> list[dict[str, Any]]:
        block_i, slot_i = np.nonzero(clash)
        rows_i = where[block_i]
        ticks = _slot_ticks(blocks.interval, blocks.day_no[rows_i], slot_i)
        channels = blocks.channel[rows_i]
        seen = {
            (int(r[0]), int(r[1]), float(r[4]), int(r[5]))
            for r in tx.run.fetch(
                "conflicts",
                {"t0": int(ticks.min()), "t1": int(ticks.max()) + 1},
                ids=np.unique(channels).tolist(),
            )
        }
        out = []
        for c, tick, b, s in zip(
            channels.tolist(), ticks.tolist(), rows_i.tolist(), slot_i.tolist(), strict=True
        ):
            value = float(blocks.values[b, s])
            status = int(blocks.flags[b, s])
            if (c, tick, value, status) in seen:
                continue
            seen.add((c, tick, value, status))
            out.append(
                {
                    "channel_id": c,
                    "ts": tick,
                    "stored_value": float(stored[np.flatnonzero(where == b)[0], s]),
                    "stored_status": int(stored_status[np.flatnonzero(where == b)[0], s]),
                    "value": value,
                    "status": status,
                    "received_at": now,
                }
            )
        return out

    def _current_norm(self, tx: _Tx, blocks: _Blocks) -> _Current:
        return self._norm_blocks(tx, blocks, "norm_current", {})

    def _norm_blocks(
        self, tx: _Tx, blocks: _Blocks, statement: str, params: dict[str, Any]
    ) -> _Current:
        count, slots = blocks.values.shape
        current = _Current(
            exists=np.zeros(count, dtype=bool),
            version=np.zeros(count, dtype=np.int64),
            recorded=np.zeros(count, dtype=np.int64),
            values=np.full((count, slots), np.nan),
            flags=np.zeros((count, slots), dtype=np.uint32),
        )
        if count == 0:
            return current
        rows = tx.run.fetch(
            statement,
            {"d0": int(blocks.day_no.min()), "d1": int(blocks.day_no.max()), **params},
            ids=np.unique(blocks.channel).tolist(),
        )
        if not rows:
            return current
        found = _keys(np.array([r[0] for r in rows]), np.array([r[1] for r in rows]))
        where, hit = _match(blocks.keys, found)
        kept = [r for r, h in zip(rows, hit.tolist(), strict=True) if h]
        if kept:
            current.exists[where] = True
            current.version[where] = [r[2] for r in kept]
            current.recorded[where] = [r[3] for r in kept]
            current.values[where] = codec.decode_values([r[5] for r in kept], slots)
            current.flags[where] = codec.decode_flags([r[6] for r in kept], slots)
        return current

    def _change(self, tx: _Tx, now: int, user: str, reason: str, comment: str | None) -> int:
        if tx.change_id is None:
            tx.change_id = int(
                tx.conn.execute(
                    insert(t.change)
                    .values(recorded_at=now, user_name=user, reason=reason, comment_text=comment)
                    .returning(t.change.c.id)
                ).scalar_one()
            )
        return tx.change_id

    def _store_norm(
        self,
        tx: _Tx,
        blocks: _Blocks,
        current: _Current,
        values: np.ndarray,
        flags: np.ndarray,
        now: int,
        user: str,
        reason: str,
        comment: str | None,
    ) -> int:
        """Write new versions of the blocks whose values or flags change; their number."""
        _check_who(user, reason)
        unchanged = _same(values, current.values, flags, current.flags)
        empty = np.isnan(values).all(axis=1) & (flags == 0).all(axis=1)
        write = np.flatnonzero(~unchanged & (current.exists | ~empty))
        if write.size == 0:
            return 0
        change_id = self._change(tx, now, user, reason, comment)
        recorded = np.maximum(current.recorded[write], now)
        version = current.version[write] + 1
        closing = write[current.exists[write]]
        tx.run.execute_many(
            "norm_close",
            [
                {
                    "k_channel": int(blocks.channel[i]),
                    "k_day": int(blocks.day_no[i]),
                    "k_version": int(current.version[i]),
                    "replaced_at": int(max(current.recorded[i], now)),
                }
                for i in closing.tolist()
            ],
        )
        tx.run.bulk_insert(
            "ts_norm_block",
            zip(
                blocks.channel[write].tolist(),
                blocks.day_no[write].tolist(),
                version.tolist(),
                [change_id] * write.size,
                recorded.tolist(),
                [None] * write.size,
                codec.encode_values(values[write]),
                codec.encode_flags(flags[write]),
                strict=True,
            ),
        )
        return int(write.size)

    # ------------------------------------------------------------------ normalized edits

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
    ) -> WriteReport:
        """Overwrite normalized values and/or flags (validation, estimation, manual substitute).

        ``values`` and ``flags`` are ``[channels, slots]`` arrays from ``start`` like in
        :meth:`write_intervals`; either may be ``None`` to keep what is stored. ``where`` (bool,
        same shape) selects the slots to change. Every changed block gets a new version recorded
        with ``user``, ``reason`` and ``comment``; raw values are untouched.
        """
        if values is None and flags is None:
            raise InvalidValue("values", "give values, flags or both")
        zone = resolve_tz(tz)
        check_label(label)
        ids = _ids(channel_ids)
        _check_who(user, reason)
        # without new values, a zero matrix of the flags' shape stands in (and is not used)
        given = values if values is not None else np.zeros(np.shape(flags))
        vals, flg, mask = _matrices(ids, given, flags, where, "flags")
        with self._transaction() as tx:
            infos = self._infos(tx, ids)
            _profile_only(infos)
            first = self._first_slots(infos, start, zone, label, ids.size)
            total = 0
            for interval, rows in _by_interval(infos):
                blocks = _cut(interval, ids[rows], first[rows], vals[rows], flg[rows], mask[rows])
                current = self._current_norm(tx, blocks)
                w = blocks.written
                merged = (
                    current.values if values is None else np.where(w, blocks.values, current.values)
                )
                merged_flags = (
                    current.flags if flags is None else np.where(w, blocks.flags, current.flags)
                )
                total += self._store_norm(
                    tx,
                    blocks,
                    current,
                    merged,
                    merged_flags.astype(np.uint32),
                    self._now(),
                    user,
                    reason,
                    comment,
                )
            return WriteReport(normalized_versions=total, change_id=tx.change_id)

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
        raw (slots without raw become empty). Only blocks that change get a new version.
        """
        ids = _ids(channel_ids)
        self.invalidate_channels(ids.tolist())
        raw = self.read_intervals(ids, start, end, tz=tz, label=label, layer="raw")
        normalized = np.empty_like(raw.values)
        for i, info in enumerate(self.channel_info(ids)):
            f = info.factor
            normalized[i] = raw.values[i] * float(f.numerator) / float(f.denominator)
        flags = raw.flags & np.uint32(METER_STATUS_MASK)
        assert raw.conflict is not None
        flags[raw.conflict] |= np.uint32(Flag.CONFLICT)
        return self._replace_range(
            ids,
            raw,
            normalized,
            flags,
            keep_edits=keep_edits,
            user=user,
            reason=reason,
            comment=comment,
        )

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
        ids = _ids(channel_ids)
        old = self.read_intervals(ids, start, end, tz=tz, label=label, as_of=as_of)
        return self._replace_range(
            ids,
            old,
            old.values,
            old.flags,
            keep_edits=False,
            user=user,
            reason=reason,
            comment=comment,
        )

    def _replace_range(
        self,
        ids: np.ndarray,
        frame: IntervalData,
        values: np.ndarray,
        flags: np.ndarray,
        *,
        keep_edits: bool,
        user: str,
        reason: str,
        comment: str | None,
    ) -> WriteReport:
        _check_who(user, reason)
        with self._transaction() as tx:
            infos = self._infos(tx, ids)
            first = np.full(ids.size, frame.first_slot, dtype=np.int64)
            everything = np.ones(values.shape, dtype=bool)
            total = 0
            now = self._now()
            for interval, rows in _by_interval(infos):
                blocks = _cut(
                    interval, ids[rows], first[rows], values[rows], flags[rows], everything[rows]
                )
                current = self._current_norm(tx, blocks)
                w = blocks.written
                if keep_edits:
                    w = w & ((current.flags & np.uint32(EDIT_FLAGS)) == 0)
                merged = np.where(w, blocks.values, current.values)
                merged_flags = np.where(w, blocks.flags, current.flags).astype(np.uint32)
                total += self._store_norm(
                    tx, blocks, current, merged, merged_flags, now, user, reason, comment
                )
            return WriteReport(normalized_versions=total, change_id=tx.change_id)

    # ------------------------------------------------------------------ interval reads

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
        ids = _ids(channel_ids)
        with self._transaction(write=False) as tx:
            infos = self._infos(tx, ids)
            _profile_only(infos)
            intervals = {info.interval_minutes for info in infos}
            if len(intervals) > 1:
                raise InvalidValue(
                    "channel_ids",
                    f"read channels of one interval per call, not {sorted(intervals)}",
                )
            interval = intervals.pop()
            g0 = _slot_of(interval, start, zone, label, "start")
            g1 = _slot_of(interval, end, zone, label, "end")
            if g1 < g0:
                raise InvalidValue("end", "must not be before start")
            statement, params, as_of_dt = self._as_of(tx, layer, as_of)
            values, flags = self._read_range(tx, ids, interval, g0, g1, statement, params)
            conflict = None
            if layer == "raw":
                conflict = self._conflict_mask(tx, ids, interval, g0, g1)
            units = tuple(
                info.normalized_unit if layer == "normalized" else info.unit for info in infos
            )
        if flags_all or flags_any or flags_none:
            keep = np.ones(flags.shape, dtype=bool)
            if flags_all:
                keep &= (flags & np.uint32(flags_all)) == np.uint32(flags_all)
            if flags_any:
                keep &= (flags & np.uint32(flags_any)) != 0
            if flags_none:
                keep &= (flags & np.uint32(flags_none)) == 0
            values[~keep] = np.nan
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
        if not isinstance(day, date) or isinstance(day, datetime):
            raise InvalidValue("day", f"must be a date, not {day!r}")
        start = datetime.combine(day, datetime.min.time(), tzinfo=zone)
        end = datetime.combine(day + timedelta(days=days), datetime.min.time(), tzinfo=zone)
        if options.get("label") == "end":
            raise InvalidValue("label", "local days are given by date; read them labelled by start")
        return self.read_intervals(channel_ids, start, end, tz=zone, **options)

    def _as_of(
        self, tx: _Tx, layer: str, as_of: datetime | None
    ) -> tuple[str, dict[str, Any], datetime | None]:
        if layer == "raw":
            return "raw_blocks", {}, None
        if as_of is None:
            return "norm_read", {}, None
        tick = to_tick(as_of, UTC, "as_of")
        if as_of.tzinfo is None:
            raise InvalidValue("as_of", "give an aware datetime")
        now = self._now()
        if tick > now:
            raise InvalidValue(
                "as_of",
                f"{as_of.isoformat()} is in the future "
                f"(now is {tick_to_datetime(now).isoformat()})",
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

    def _read_range(
        self,
        tx: _Tx,
        ids: np.ndarray,
        interval: int,
        g0: int,
        g1: int,
        statement: str,
        params: dict[str, Any],
    ) -> tuple[np.ndarray, np.ndarray]:
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

    def _conflict_mask(
        self, tx: _Tx, ids: np.ndarray, interval: int, g0: int, g1: int
    ) -> np.ndarray:
        mask = np.zeros((ids.size, g1 - g0), dtype=bool)
        t0, t1 = _slot_tick(interval, g0), _slot_tick(interval, g1)
        rows = tx.run.fetch("conflicts", {"t0": t0, "t1": t1}, ids=ids.tolist())
        if rows:
            order = np.argsort(ids)
            channel = np.array([r[0] for r in rows], dtype=np.int64)
            row = order[np.searchsorted(ids[order], channel)]
            slot = np.array([_tick_slot(interval, r[1]) for r in rows], dtype=np.int64) - g0
            mask[row, slot] = True
        return mask

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
        ids = _ids(channel_ids)
        t0, t1 = to_tick(start, zone, "start"), to_tick(end, zone, "end")
        with self._transaction(write=False) as tx:
            self._infos(tx, ids)
            rows = tx.run.fetch("conflicts", {"t0": t0, "t1": t1}, ids=ids.tolist())
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

    # ------------------------------------------------------------------ history

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
        with self._transaction(write=False) as tx:
            (info,) = self._infos(tx, _ids([channel_id]))
            _profile_only([info])
            g0 = _slot_of(info.interval_minutes, start, zone, "start", "start")
            g1 = _slot_of(info.interval_minutes, end, zone, "start", "end")
            rows = self._block_versions(tx, info, g0, max(g0, g1 - 1))
            changes = self._changes(tx, {r[6] for r in rows})
        out = []
        for r in sorted(rows, key=lambda r: (r[0], r[1])):
            ch = changes[r[6]]
            out.append(
                VersionInfo(
                    channel_id=info.id,
                    block_start=_block_start(info.interval_minutes, r[0], zone),
                    version=int(r[1]),
                    recorded_at=tick_to_datetime(r[2], zone),
                    replaced_at=None if r[3] is None else tick_to_datetime(r[3], zone),
                    user=ch[0],
                    reason=ch[1],
                    comment=ch[2],
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
        with self._transaction(write=False) as tx:
            (info,) = self._infos(tx, _ids([channel_id]))
            _profile_only([info])
            g = _slot_of(info.interval_minutes, at, zone, label, "at")
            rows = self._block_versions(tx, info, g, g)
            changes = self._changes(tx, {r[6] for r in rows})
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
            ch = changes[r[6]]
            out.append(
                ValueChange(
                    version=int(r[1]),
                    recorded_at=tick_to_datetime(r[2], zone),
                    user=ch[0],
                    reason=ch[1],
                    comment=ch[2],
                    old_value=old_v,
                    new_value=new_v,
                    old_flags=old_f,
                    new_flags=new_f,
                )
            )
            old_v, old_f = new_v, new_f
        return out

    def _block_versions(self, tx: _Tx, info: ChannelInfo, g0: int, g1: int) -> list[Any]:
        slots = slots_per_block(info.interval_minutes)
        block_days = DAILY_BLOCK_DAYS if info.interval_minutes == DAILY else 1
        return tx.run.fetch(
            "block_versions",
            {"channel": info.id, "d0": g0 // slots * block_days, "d1": g1 // slots * block_days},
        )

    def _changes(self, tx: _Tx, ids: set[int]) -> dict[int, tuple[str, str, str | None]]:
        out: dict[int, tuple[str, str, str | None]] = {}
        wanted = sorted(ids)
        for i in range(0, len(wanted), IDS_PER_STATEMENT):
            for r in tx.conn.execute(
                select(t.change).where(t.change.c.id.in_(wanted[i : i + IDS_PER_STATEMENT]))
            ):
                out[r.id] = (r.user_name, r.reason, r.comment_text)
        return out

    # ------------------------------------------------------------------ registers and events

    def write_registers(
        self,
        channel_ids: Sequence[int] | np.ndarray,
        times: Sequence[datetime] | np.ndarray,
        values: Sequence[float] | np.ndarray,
        status: Sequence[int] | np.ndarray | None = None,
        *,
        capture_times: Sequence[datetime | None] | np.ndarray | None = None,
        tz: str | tzinfo | None = None,
        user: str = "acquisition",
        reason: str = "ingest",
        comment: str | None = None,
    ) -> WriteReport:
        """Store register readings: parallel 1-D arrays, one element per reading.

        ``times`` are the reading times (``datetime64`` arrays are UTC). The raw value is kept as
        acquired with its status; its normalized value (channel formula) is version 1 of the
        reading's normalized history. A re-read with a different value becomes a conflict record
        (and a new normalized version flagged :attr:`Flag.CONFLICT`); an identical one is a no-op.
        """
        zone = resolve_tz(tz)
        ids = _ids(channel_ids, allow_duplicates=True)
        ticks = _tick_array(times, zone, "times", ids.size)
        vals = np.asarray(values, dtype=np.float64)
        if vals.shape != ids.shape:
            raise InvalidValue(
                "values", f"need {ids.size} values, one per channel id, got {vals.shape}"
            )
        _finite(vals, "values")
        stat = _status_array(status, ids.shape)
        captures = (
            None
            if capture_times is None
            else _tick_array(capture_times, zone, "capture_times", ids.size, allow_none=True)
        )
        if np.unique(np.stack([ids, ticks]), axis=1).shape[1] != ids.size:
            raise InvalidValue("times", "the same channel and time appears twice in one call")
        _check_who(user, reason)

        def attempt() -> WriteReport:
            now = self._now()
            with self._transaction() as tx:
                infos = self._infos(tx, ids)
                factors = {info.id: info.factor for info in infos}
                for info in infos:
                    if info.kind != "register":
                        raise InvalidValue(
                            "channel_ids",
                            f"channel {info.id} is a {info.kind} channel, not a register",
                        )
                span = {"t0": int(ticks.min()), "t1": int(ticks.max()) + 1}
                unique_ids = np.unique(ids).tolist()
                stored = {
                    (int(r[0]), int(r[1])): (float(r[2]), int(r[3]))
                    for r in tx.run.fetch("register_raw", span, ids=unique_ids)
                }
                inserts, versions, conflicts, flagged, identical = [], [], [], [], 0
                for i, (c, tick, v, s) in enumerate(
                    zip(ids.tolist(), ticks.tolist(), vals.tolist(), stat.tolist(), strict=True)
                ):
                    old = stored.get((c, tick))
                    if old is None:
                        f = factors[c]
                        normalized = v * float(f.numerator) / float(f.denominator)
                        capture = (
                            None if captures is None or captures[i] is None else int(captures[i])
                        )
                        inserts.append((c, tick, v, s, capture, now))
                        versions.append((c, tick, normalized, s & METER_STATUS_MASK))
                    elif old == (v, s):
                        identical += 1
                    else:
                        conflicts.append(
                            {
                                "channel_id": c,
                                "ts": tick,
                                "stored_value": old[0],
                                "stored_status": old[1],
                                "value": v,
                                "status": s,
                                "received_at": now,
                            }
                        )
                        flagged.append((c, tick))
                tx.run.bulk_insert("ts_register", inserts)
                tx.run.execute_many("conflict_insert", conflicts)
                if versions:
                    change_id = self._change(tx, now, user, reason, comment)
                    tx.run.bulk_insert(
                        "ts_register_norm",
                        [(c, tick, 1, change_id, now, None, n, f) for c, tick, n, f in versions],
                    )
                if flagged:
                    current = self._register_current(tx, unique_ids, span)
                    self._register_versions(
                        tx,
                        [
                            (c, tick, current[(c, tick)][2], current[(c, tick)][3] | Flag.CONFLICT)
                            for c, tick in flagged
                        ],
                        current,
                        now,
                        user,
                        reason,
                        comment,
                    )
            return WriteReport(
                raw_new=len(inserts),
                raw_identical=identical,
                conflicts=len(conflicts),
                change_id=tx.change_id,
            )

        return _retry(attempt)

    def _register_current(
        self, tx: _Tx, ids: list[int], span: dict[str, int]
    ) -> dict[tuple[int, int], tuple[int, int, float, int]]:
        """Current normalized versions: (channel, time) → (version, recorded, value, flags)."""
        return {
            (int(r[0]), int(r[1])): (int(r[2]), int(r[3]), float(r[4]), int(r[5]))
            for r in tx.run.fetch("register_norm_current", span, ids=ids)
        }

    def _register_versions(
        self,
        tx: _Tx,
        changes: list[tuple[int, int, float, int]],
        current: dict[tuple[int, int], tuple[int, int, float, int]],
        now: int,
        user: str,
        reason: str,
        comment: str | None,
    ) -> int:
        """New normalized versions of register values that change; their number."""
        changes = [
            (c, tick, v, f)
            for c, tick, v, f in changes
            if (current[(c, tick)][2], current[(c, tick)][3]) != (v, f)
        ]
        if not changes:
            return 0
        change_id = self._change(tx, now, user, reason, comment)
        closing, rows = [], []
        for c, tick, v, f in changes:
            version, recorded, _, _ = current[(c, tick)]
            at = max(recorded, now)
            closing.append({"k_channel": c, "k_ts": tick, "k_version": version, "replaced_at": at})
            rows.append((c, tick, version + 1, change_id, at, None, v, f))
        tx.run.execute_many("register_norm_close", closing)
        tx.run.bulk_insert("ts_register_norm", rows)
        return len(rows)

    def write_register_normalized(
        self,
        channel_ids: Sequence[int] | np.ndarray,
        times: Sequence[datetime] | np.ndarray,
        values: Sequence[float] | np.ndarray | None = None,
        flags: Sequence[int] | np.ndarray | None = None,
        *,
        tz: str | tzinfo | None = None,
        user: str,
        reason: str,
        comment: str | None = None,
    ) -> WriteReport:
        """Overwrite normalized register values and/or flags of stored readings (new versions).

        Parallel 1-D arrays; ``None`` keeps what is stored. A reading that was never stored is
        refused (:class:`InvalidValue` on ``times``).
        """
        if values is None and flags is None:
            raise InvalidValue("values", "give values, flags or both")
        zone = resolve_tz(tz)
        ids = _ids(channel_ids, allow_duplicates=True)
        ticks = _tick_array(times, zone, "times", ids.size)
        vals = None if values is None else np.asarray(values, dtype=np.float64)
        if vals is not None:
            if vals.shape != ids.shape:
                raise InvalidValue("values", f"need {ids.size} values, one per channel id")
            _finite(vals, "values")
        flg = None if flags is None else _status_array(flags, ids.shape, "flags")
        _check_who(user, reason)
        with self._transaction() as tx:
            self._infos(tx, ids)
            span = {"t0": int(ticks.min()), "t1": int(ticks.max()) + 1}
            current = self._register_current(tx, np.unique(ids).tolist(), span)
            changes = []
            for i, (c, tick) in enumerate(zip(ids.tolist(), ticks.tolist(), strict=True)):
                found = current.get((c, tick))
                if found is None:
                    raise InvalidValue(
                        "times",
                        f"channel {c} has no reading at {tick_to_datetime(tick, zone).isoformat()}",
                    )
                v = found[2] if vals is None else float(vals[i])
                f = found[3] if flg is None else int(flg[i])
                changes.append((c, tick, v, f))
            count = self._register_versions(
                tx, changes, current, self._now(), user, reason, comment
            )
            return WriteReport(normalized_versions=count, change_id=tx.change_id)

    def read_registers(
        self,
        channel_ids: Sequence[int] | np.ndarray,
        start: datetime,
        end: datetime,
        *,
        tz: str | tzinfo | None = None,
        as_of: datetime | None = None,
    ) -> RegisterData:
        """Register readings of ``channel_ids`` with reading times in ``[start, end)``.

        ``normalized`` and ``flags`` are the current version, or the one valid at ``as_of``
        (readings stored after ``as_of`` are left out then).
        """
        zone = resolve_tz(tz)
        ids = _ids(channel_ids)
        t0, t1 = to_tick(start, zone, "start"), to_tick(end, zone, "end")
        with self._transaction(write=False) as tx:
            infos = self._infos(tx, ids)
            params: dict[str, Any] = {"t0": t0, "t1": t1}
            statement = "registers"
            if as_of is not None:
                _, as_of_params, _ = self._as_of(tx, "normalized", as_of)
                params.update(as_of_params)
                statement = "registers_as_of"
            rows = tx.run.fetch(statement, params, ids=ids.tolist())
        cols = list(zip(*rows, strict=True)) if rows else [()] * 7
        return RegisterData(
            channel_ids=np.array(cols[0], dtype=np.int64),
            times=np.array(cols[1], dtype=np.int64).astype("datetime64[us]"),
            values=np.array(cols[2], dtype=np.float64),
            status=np.array(cols[3], dtype=np.int64),
            normalized=np.array(cols[4], dtype=np.float64),
            flags=np.array(cols[5], dtype=np.uint32),
            capture_times=np.array(
                [np.iinfo(np.int64).min if v is None else v for v in cols[6]], dtype=np.int64
            ).astype("datetime64[us]"),
            units={info.id: info.normalized_unit for info in infos},
        )

    def register_history(
        self, channel_id: int, at: datetime, *, tz: str | tzinfo | None = None
    ) -> list[ValueChange]:
        """Every change of the normalized register value of ``channel_id`` read at ``at``."""
        zone = resolve_tz(tz)
        tick = to_tick(at, zone, "at")
        with self._transaction(write=False) as tx:
            self._infos(tx, _ids([channel_id]))
            rows = tx.run.fetch("register_versions", {"channel": int(channel_id), "ts": tick})
            changes = self._changes(tx, {r[4] for r in rows})
        out: list[ValueChange] = []
        old_v: float | None = None
        old_f: int | None = None
        for version, recorded, value, flags, change_id in rows:
            user, reason, comment = changes[change_id]
            out.append(
                ValueChange(
                    version=int(version),
                    recorded_at=tick_to_datetime(recorded, zone),
                    user=user,
                    reason=reason,
                    comment=comment,
                    old_value=old_v,
                    new_value=float(value),
                    old_flags=old_f,
                    new_flags=int(flags),
                )
            )
            old_v, old_f = float(value), int(flags)
        return out

    def write_events(
        self,
        channel_ids: Sequence[int] | np.ndarray,
        times: Sequence[datetime] | np.ndarray,
        codes: Sequence[int] | np.ndarray,
        values: Sequence[float | None] | np.ndarray | None = None,
        *,
        tz: str | tzinfo | None = None,
    ) -> WriteReport:
        """Store meter events: parallel 1-D arrays (channel, time, event code, optional value).

        An event already stored (same channel, time and code) is not stored again.
        """
        zone = resolve_tz(tz)
        ids = _ids(channel_ids, allow_duplicates=True)
        ticks = _tick_array(times, zone, "times", ids.size)
        code_arr = np.asarray(codes)
        if code_arr.shape != ids.shape or not np.issubdtype(code_arr.dtype, np.integer):
            raise InvalidValue("codes", f"need {ids.size} integer event codes")
        if values is None:
            vals = np.full(ids.size, np.nan)
        else:
            vals = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
            if vals.shape != ids.shape:
                raise InvalidValue("values", f"need {ids.size} values or None")
            if np.isinf(vals).any():
                raise InvalidValue("values", "infinite values are not accepted")
        now = self._now()
        with self._transaction() as tx:
            for info in self._infos(tx, ids):
                if info.kind != "event":
                    raise InvalidValue(
                        "channel_ids",
                        f"channel {info.id} is a {info.kind} channel, not an event log",
                    )
            seen = {
                (int(r[0]), int(r[1]), int(r[2]))
                for r in tx.run.fetch(
                    "events",
                    {"t0": int(ticks.min()), "t1": int(ticks.max()) + 1},
                    ids=np.unique(ids).tolist(),
                )
            }
            rows = []
            for c, tick, code, v in zip(
                ids.tolist(), ticks.tolist(), code_arr.tolist(), vals.tolist(), strict=True
            ):
                if (c, tick, code) in seen:
                    continue
                seen.add((c, tick, code))
                rows.append(
                    {
                        "channel_id": c,
                        "ts": tick,
                        "code": code,
                        "value": None if np.isnan(v) else v,
                        "received_at": now,
                    }
                )
            if rows:
                tx.conn.execute(insert(t.event), rows)
        return WriteReport(raw_new=len(rows), raw_identical=ids.size - len(rows))

    def read_events(
        self,
        channel_ids: Sequence[int] | np.ndarray,
        start: datetime,
        end: datetime,
        *,
        tz: str | tzinfo | None = None,
    ) -> EventData:
        """Events of ``channel_ids`` in ``[start, end)``."""
        zone = resolve_tz(tz)
        ids = _ids(channel_ids)
        t0, t1 = to_tick(start, zone, "start"), to_tick(end, zone, "end")
        with self._transaction(write=False) as tx:
            self._infos(tx, ids)
            rows = tx.run.fetch("events", {"t0": t0, "t1": t1}, ids=ids.tolist())
        cols = list(zip(*rows, strict=True)) if rows else [()] * 4
        return EventData(
            channel_ids=np.array(cols[0], dtype=np.int64),
            times=np.array(cols[1], dtype=np.int64).astype("datetime64[us]"),
            codes=np.array(cols[2], dtype=np.int64),
            values=np.array([np.nan if v is None else v for v in cols[3]], dtype=np.float64),
        )

    # ------------------------------------------------------------------ retention

    def prune_versions(self, before: datetime, *, archive: bool = True) -> int:
        """Archive (or with ``archive=False`` drop) normalized versions replaced before ``before``.

        Current versions and raw data are always kept. As-of reads before ``before`` then read
        the archive, or are refused once versions were dropped. Returns the versions moved.
        """
        tick = to_tick(before, UTC, "before")
        if before.tzinfo is None:
            raise InvalidValue("before", "give an aware datetime")
        now = self._now()
        if tick > now:
            raise InvalidValue("before", "the horizon must not be in the future")
        with self._transaction() as tx:
            count = int(tx.run.fetch("prune_count", {"before": tick})[0][0])
            if archive:
                tx.run.execute("prune_archive", {"before": tick, "now": now})
            tx.run.execute("prune_delete", {"before": tick})
            row = tx.conn.execute(select(t.retention).where(t.retention.c.id == 1)).first()
            field = "archived_before" if archive else "dropped_before"
            if row is None:
                tx.conn.execute(insert(t.retention).values(id=1, **{field: tick}))
            elif getattr(row, field) is None or getattr(row, field) < tick:
                tx.conn.execute(
                    update(t.retention).where(t.retention.c.id == 1).values(**{field: tick})
                )
        return count


@dataclass
class _Current:
    exists: np.ndarray
    version: np.ndarray
    recorded: np.ndarray
    values: np.ndarray
    flags: np.ndarray


# ---------------------------------------------------------------------- helpers


#: How often a write is tried when a concurrent writer created the same block first.
WRITE_ATTEMPTS = 3


def _retry(attempt: Callable[[], WriteReport]) -> WriteReport:
    """Run a whole write transaction again when it lost a race for a new block (PostgreSQL)."""
    for _ in range(WRITE_ATTEMPTS - 1):
        try:
            return attempt()
        except _ConcurrentWrite:
            continue
    try:
        return attempt()
    except _ConcurrentWrite as error:
        raise Conflict(
            "channel_ids", "concurrent writers keep changing the same blocks; retry later"
        ) from error


class _ConcurrentWrite(Conflict):
    """A unique key violation: another transaction stored the same block first (retryable)."""

    def __init__(self, detail: str) -> None:
        super().__init__("channel_ids", f"a concurrent write stored the same data first: {detail}")


def _normalize(blocks: _Blocks, factors: dict[int, Fraction]) -> np.ndarray:
    """Raw block values times each channel's exact factor (``raw * num / den``)."""
    if all(f == 1 for f in factors.values()):
        return blocks.values.copy()
    channels = blocks.channel.tolist()
    num = np.array([float(factors[c].numerator) for c in channels])
    den = np.array([float(factors[c].denominator) for c in channels])
    out = blocks.values * num[:, None]
    out /= den[:, None]
    return out


def _formula_row(formula: Formula) -> dict[str, Any]:
    return {
        "name": formula.name,
        "target_unit": formula.target_unit,
        "source_unit": formula.source_unit,
        "apply_scaler": formula.apply_scaler,
        "ct_primary": None if formula.ct is None else float(formula.ct[0]),
        "ct_secondary": None if formula.ct is None else float(formula.ct[1]),
        "vt_primary": None if formula.vt is None else float(formula.vt[0]),
        "vt_secondary": None if formula.vt is None else float(formula.vt[1]),
        "pulse_constant": None if formula.pulse_constant is None else float(formula.pulse_constant),
        "pulse_unit": formula.pulse_unit,
        "demand_to_energy": formula.demand_to_energy,
    }


def _formula_from_row(r: Any) -> Formula:
    return Formula(
        name=r.name,
        target_unit=r.target_unit,
        source_unit=r.source_unit,
        apply_scaler=bool(r.apply_scaler),
        ct=None if r.ct_primary is None else (r.ct_primary, r.ct_secondary),
        vt=None if r.vt_primary is None else (r.vt_primary, r.vt_secondary),
        pulse_constant=r.pulse_constant,
        pulse_unit=r.pulse_unit,
        demand_to_energy=bool(r.demand_to_energy),
    )


def _check_who(user: str, reason: str) -> None:
    if not isinstance(user, str) or not user.strip():
        raise InvalidValue("user", "say who makes the change")
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidValue("reason", "say why the values change")


def _profile_only(infos: list[ChannelInfo]) -> None:
    for info in infos:
        if info.kind != "profile" or info.interval_minutes not in INTERVALS:
            raise InvalidValue(
                "channel_ids", f"channel {info.id} is a {info.kind} channel, not a profile"
            )


def _ids(channel_ids: Any, allow_duplicates: bool = False) -> np.ndarray:
    ids = np.asarray(channel_ids)
    if ids.ndim == 0:
        ids = ids.reshape(1)
    if ids.ndim != 1 or ids.size == 0:
        raise InvalidValue("channel_ids", "give a non-empty 1-D sequence of channel ids")
    if not np.issubdtype(ids.dtype, np.integer) or ids.dtype == np.bool_:
        raise InvalidValue("channel_ids", f"channel ids must be integers, not {ids.dtype}")
    ids = ids.astype(np.int64)
    if not allow_duplicates and np.unique(ids).size != ids.size:
        raise InvalidValue("channel_ids", "a channel appears twice in one call")
    return ids


def _matrices(
    ids: np.ndarray,
    values: Any,
    status: Any,
    present: Any,
    status_field: str = "status",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check the 2-D inputs of a write; NaN/inf where a value is written is refused."""
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
    if present is None:
        mask = np.ones(vals.shape, dtype=bool)
    else:
        mask = np.asarray(present)
        if mask.ndim == 1 and ids.size == 1:
            mask = mask.reshape(1, -1)
        if mask.shape != vals.shape or mask.dtype != np.bool_:
            raise InvalidValue("present", f"need a bool array of shape {vals.shape}")
    stat = _status_array(status, vals.shape, status_field)
    _finite(vals if present is None else vals[mask], "values")
    vals = np.where(mask, vals, np.nan) if present is not None else vals
    return vals, np.where(mask, stat, 0).astype(np.uint32), mask


def _status_array(status: Any, shape: tuple[int, ...], field: str = "status") -> np.ndarray:
    if status is None:
        return np.zeros(shape, dtype=np.uint32)
    stat = np.asarray(status)
    if stat.ndim == 1 and len(shape) == 2 and shape[0] == 1:
        stat = stat.reshape(1, -1)
    if stat.shape != shape:
        raise InvalidValue(field, f"need an array of shape {shape}, got {stat.shape}")
    if stat.size and (
        not np.issubdtype(stat.dtype, np.integer) or stat.min() < 0 or stat.max() > _UINT32_MAX
    ):
        raise InvalidValue(field, "status words must be unsigned integers of at most 32 bits")
    return stat.astype(np.uint32)


def _finite(values: np.ndarray, field: str) -> None:
    if not np.isfinite(values).all():
        bad = "NaN" if np.isnan(values).any() else "infinite"
        raise InvalidValue(field, f"{bad} values are not accepted: mark missing slots with present")


def _slot_of(interval: int, value: Any, zone: tzinfo, label: str, field: str) -> int:
    """Global slot number of the interval labelled ``value`` (start or end) on the grid."""
    if interval == DAILY:
        if isinstance(value, np.datetime64):
            value = tick_to_datetime(int(value.astype("datetime64[us]").astype(np.int64)))
        number = _daily_number(value, zone, field)
        return number - 1 if label == "end" else number
    tick = to_tick(value, zone, field)
    step = interval_us(interval)
    if tick % step:
        raise InvalidValue(
            field,
            f"{tick_to_datetime(tick, zone).isoformat()} is not on the {interval}-minute grid",
        )
    slot = tick // step
    return slot - 1 if label == "end" else slot


def _daily_number(value: Any, zone: tzinfo, field: str) -> int:
    if not isinstance(value, datetime):
        raise InvalidValue(field, f"must be a datetime, not {type(value).__name__}")
    local = value.replace(tzinfo=zone) if value.tzinfo is None else value.astimezone(zone)
    number = date_number(local.date())
    if to_tick(value, zone, field) != local_midnight_tick(local.date(), zone):
        raise InvalidValue(
            field, f"{value.isoformat()} is not on the daily grid (local midnight in {zone})"
        )
    return number


def _slot_tick(interval: int, slot: int) -> int:
    """Internal tick of global slot ``slot``: UTC start, or UTC midnight of a daily value's date."""
    if interval == DAILY:
        return slot * US_PER_DAY
    return slot * interval_us(interval)


def _tick_slot(interval: int, tick: int) -> int:
    return tick // (US_PER_DAY if interval == DAILY else interval_us(interval))


def _slot_ticks(interval: int, day_no: np.ndarray, slot: np.ndarray) -> np.ndarray:
    if interval == DAILY:
        return (day_no + slot) * US_PER_DAY
    return day_no * US_PER_DAY + slot * interval_us(interval)


def _block_start(interval: int, day_no: int, zone: tzinfo) -> datetime:
    if interval == DAILY:
        return tick_to_datetime(local_midnight_tick(number_to_date(day_no), zone), zone)
    return tick_to_datetime(day_no * US_PER_DAY, zone)


def _by_interval(infos: list[ChannelInfo]) -> list[tuple[int, np.ndarray]]:
    intervals = np.array([info.interval_minutes for info in infos])
    return [(int(m), np.flatnonzero(intervals == m)) for m in np.unique(intervals)]


def _cut(
    interval: int,
    ids: np.ndarray,
    first: np.ndarray,
    values: np.ndarray,
    flags: np.ndarray,
    written: np.ndarray,
) -> _Blocks:
    """Cut rows of values starting at global slots ``first`` into whole stored blocks."""
    slots = slots_per_block(interval)
    block_days = DAILY_BLOCK_DAYS if interval == DAILY else 1
    rows, length = values.shape
    if length == 0:
        empty = np.empty(0, dtype=np.int64)
        return _Blocks(
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
    row_of = np.repeat(np.arange(rows), nb)
    base = np.cumsum(nb) - nb
    block = b_first[row_of] + (np.arange(total) - base[row_of])
    if (first % slots == 0).all() and length % slots == 0:
        out_v = values.reshape(total, slots)
        out_f = flags.reshape(total, slots)
        out_w = written.reshape(total, slots)
    else:
        dest = ((base * slots + first - b_first * slots)[:, None] + np.arange(length)).ravel()
        out_v = np.full(total * slots, np.nan)
        out_f = np.zeros(total * slots, dtype=np.uint32)
        out_w = np.zeros(total * slots, dtype=bool)
        out_v[dest] = values.ravel()
        out_f[dest] = flags.ravel()
        out_w[dest] = written.ravel()
        out_v, out_f, out_w = (a.reshape(total, slots) for a in (out_v, out_f, out_w))
    return _Blocks(
        interval=interval,
        channel=ids[row_of],
        day_no=block * block_days,
        values=out_v,
        flags=out_f,
        written=out_w,
    )


def _subset(blocks: _Blocks, rows: np.ndarray) -> _Blocks:
    return _Blocks(
        blocks.interval,
        blocks.channel[rows],
        blocks.day_no[rows],
        blocks.values[rows],
        blocks.flags[rows],
        blocks.written[rows],
    )


def _tick_array(
    times: Any, zone: tzinfo, field: str, count: int, allow_none: bool = False
) -> np.ndarray:
    if isinstance(times, np.ndarray) and np.issubdtype(times.dtype, np.datetime64):
        ticks = times.astype("datetime64[us]").astype(np.int64)
        if np.isnat(times).any() and not allow_none:
            raise InvalidValue(field, "NaT is not a time")
    else:
        items = list(times)
        ticks = np.array(
            [
                np.iinfo(np.int64).min if (v is None and allow_none) else to_tick(v, zone, field)
                for v in items
            ],
            dtype=np.int64,
        )
    if ticks.shape != (count,):
        raise InvalidValue(field, f"need {count} times, one per channel id, got {ticks.shape}")
    if allow_none:
        return np.array(
            [None if v == np.iinfo(np.int64).min else v for v in ticks.tolist()], dtype=object
        )
    return ticks


def _add(a: WriteReport, b: WriteReport) -> WriteReport:
    return WriteReport(
        raw_new=a.raw_new + b.raw_new,
        raw_identical=a.raw_identical + b.raw_identical,
        conflicts=a.conflicts + b.conflicts,
        raw_blocks_inserted=a.raw_blocks_inserted + b.raw_blocks_inserted,
        raw_blocks_updated=a.raw_blocks_updated + b.raw_blocks_updated,
        normalized_versions=a.normalized_versions + b.normalized_versions,
        change_id=b.change_id if b.change_id is not None else a.change_id,
    )
