"""Register values (billing values, daily readings, instantaneous values): one row per reading,
raw kept as acquired, normalized values versioned per reading."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from meterhub.errors import InvalidValue
from meterhub.timeseries import inputs
from meterhub.timeseries.channels import of_kind
from meterhub.timeseries.flags import METER_STATUS_MASK, Flag
from meterhub.timeseries.history import as_of_statement, changes
from meterhub.timeseries.normalization import normalize
from meterhub.timeseries.results import RegisterData, ValueChange, WriteReport
from meterhub.timeseries.timegrid import resolve_tz, tick_to_datetime, ticks_of, to_tick

if TYPE_CHECKING:
    from meterhub.timeseries.transaction import Transaction

T = TypeVar("T")

#: (channel, time) → (version, recorded, value, flags) of current normalized register versions.
CurrentRegisters = dict[tuple[int, int], tuple[int, int, float, int]]

_NO_TIME = np.iinfo(np.int64).min


class Registers:
    """Writes and reads of register values (a part of the store's facade and of a unit of
    work)."""

    def _run(self, work: Callable[[Transaction], T], write: bool = True) -> T:
        raise NotImplementedError

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

        ``times`` are the reading times: aware datetimes are instants, naive ones and
        ``datetime64`` values wall-clock time in ``tz`` (UTC by default). The raw value is kept
        as acquired with its status; its normalized value (channel formula) is version 1 of
        the reading's normalized history. A re-read with a different value becomes a conflict
        record (and a new normalized version flagged :attr:`Flag.CONFLICT`); an identical one is
        a no-op.
        """
        zone = resolve_tz(tz)
        ids = inputs.channel_ids(channel_ids, allow_duplicates=True)
        ticks = tick_array(times, zone, "times", ids.size)
        vals = np.asarray(values, dtype=np.float64)
        if vals.shape != ids.shape:
            raise InvalidValue(
                "values", f"need {ids.size} values, one per channel id, got {vals.shape}"
            )
        inputs.finite(vals, "values")
        stat = inputs.status_array(status, ids.shape)
        captures = (
            None
            if capture_times is None
            else tick_array(capture_times, zone, "capture_times", ids.size, allow_none=True)
        )
        if np.unique(np.stack([ids, ticks]), axis=1).shape[1] != ids.size:
            raise InvalidValue("times", "the same channel and time appears twice in one call")
        inputs.who(user, reason)

        def work(tx: Transaction) -> WriteReport:
            return _ingest(tx, ids, ticks, vals, stat, captures, user, reason, comment)

        return self._run(work)

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
        ids = inputs.channel_ids(channel_ids, allow_duplicates=True)
        ticks = tick_array(times, zone, "times", ids.size)
        vals = None if values is None else np.asarray(values, dtype=np.float64)
        if vals is not None:
            if vals.shape != ids.shape:
                raise InvalidValue("values", f"need {ids.size} values, one per channel id")
            inputs.finite(vals, "values")
        flg = None if flags is None else inputs.status_array(flags, ids.shape, "flags")
        inputs.who(user, reason)

        def work(tx: Transaction) -> WriteReport:
            tx.infos(ids)
            tx.lock(ids)
            span = {"t0": int(ticks.min()), "t1": int(ticks.max()) + 1}
            cur = _current(tx, sorted(set(ids.tolist())), span)
            edits = []
            for i, (c, tick) in enumerate(zip(ids.tolist(), ticks.tolist(), strict=True)):
                found = cur.get((c, tick))
                if found is None:
                    raise InvalidValue(
                        "times",
                        f"channel {c} has no reading at {tick_to_datetime(tick, zone).isoformat()}",
                    )
                v = found[2] if vals is None else float(vals[i])
                f = found[3] if flg is None else int(flg[i])
                edits.append((c, tick, v, f))
            count, change_id = _new_versions(tx, edits, cur, tx.now(), user, reason, comment)
            return WriteReport(normalized_versions=count, change_id=change_id)

        return self._run(work)

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
        ids = inputs.channel_ids(channel_ids)
        t0, t1 = to_tick(start, zone, "start"), to_tick(end, zone, "end")

        def work(tx: Transaction) -> tuple[Any, list[Any]]:
            infos = tx.infos(ids)
            params: dict[str, Any] = {"t0": t0, "t1": t1}
            statement = "registers"
            if as_of is not None:
                _, as_of_params, _ = as_of_statement(tx, "normalized", as_of)
                params.update(as_of_params)
                statement = "registers_as_of"
            return infos, tx.run.fetch(statement, params, ids=ids.tolist())

        infos, rows = self._run(work, write=False)
        cols = list(zip(*rows, strict=True)) if rows else [()] * 7
        return RegisterData(
            channel_ids=np.array(cols[0], dtype=np.int64),
            times=np.array(cols[1], dtype=np.int64).astype("datetime64[us]"),
            values=np.array(cols[2], dtype=np.float64),
            status=np.array(cols[3], dtype=np.int64),
            normalized=np.array(cols[4], dtype=np.float64),
            flags=np.array(cols[5], dtype=np.uint32),
            capture_times=np.array(
                [_NO_TIME if v is None else v for v in cols[6]], dtype=np.int64
            ).astype("datetime64[us]"),
            units={info.id: info.normalized_unit for info in infos},
        )

    def register_history(
        self, channel_id: int, at: datetime, *, tz: str | tzinfo | None = None
    ) -> list[ValueChange]:
        """Every change of the normalized register value of ``channel_id`` read at ``at``."""
        zone = resolve_tz(tz)
        tick = to_tick(at, zone, "at")
        ids = inputs.channel_ids([channel_id])

        def work(tx: Transaction) -> tuple[list[Any], dict[int, Any]]:
            tx.infos(ids)
            rows = tx.run.fetch("register_versions", {"channel": int(ids[0]), "ts": tick})
            return rows, changes(tx, {r[4] for r in rows})

        rows, found = self._run(work, write=False)
        out: list[ValueChange] = []
        old_v: float | None = None
        old_f: int | None = None
        for version, recorded, value, flags, change_id in rows:
            user, reason, comment = found[change_id]
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


def tick_array(
    times: Any, zone: tzinfo, field: str, count: int, allow_none: bool = False
) -> np.ndarray:
    """``int64`` instants of ``count`` times (``datetime64`` or datetimes; ``None`` allowed
    with ``allow_none``, then an object array holding ``None`` for missing ones)."""
    if isinstance(times, np.ndarray) and np.issubdtype(times.dtype, np.datetime64):
        missing = np.isnat(times)
        if missing.any() and not allow_none:
            raise InvalidValue(field, "NaT is not a time")
        ticks = np.full(times.shape, _NO_TIME, dtype=np.int64)
        ticks[~missing] = ticks_of(times[~missing], zone, field)
    else:
        ticks = np.array(
            [
                _NO_TIME if (v is None and allow_none) else to_tick(v, zone, field)
                for v in list(times)
            ],
            dtype=np.int64,
        )
    if ticks.shape != (count,):
        raise InvalidValue(field, f"need {count} times, one per channel id, got {ticks.shape}")
    if allow_none:
        return np.array([None if v == _NO_TIME else v for v in ticks.tolist()], dtype=object)
    return ticks


def _ingest(
    tx: Transaction,
    ids: np.ndarray,
    ticks: np.ndarray,
    vals: np.ndarray,
    stat: np.ndarray,
    captures: np.ndarray | None,
    user: str,
    reason: str,
    comment: str | None,
) -> WriteReport:
    now = tx.now()
    infos = tx.infos(ids)
    of_kind(infos, "register", "a register")
    # normalized before anything is written, so an overflow refuses the whole call
    normalized = normalize(vals, [info.factor for info in infos], ids).tolist()
    tx.lock(ids)
    span = {"t0": int(ticks.min()), "t1": int(ticks.max()) + 1}
    unique_ids = sorted(set(ids.tolist()))
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
            capture = None if captures is None or captures[i] is None else int(captures[i])
            inserts.append((c, tick, v, s, capture, now))
            versions.append((c, tick, normalized[i], s & METER_STATUS_MASK))
        elif old == (v, s):
            identical += 1
        else:
            conflicts.append((c, tick, old[0], old[1], v, s, now))
            flagged.append((c, tick))
    tx.run.bulk_insert("ts_register", inserts)
    tx.run.bulk_insert("ts_conflict", conflicts)
    change_id = None
    if versions:
        change_id = tx.change(now, user, reason, comment)
        tx.run.bulk_insert(
            "ts_register_norm",
            [(c, tick, 1, change_id, now, None, n, f) for c, tick, n, f in versions],
        )
    if flagged:
        cur = _current(tx, unique_ids, span)
        _, flagged_change = _new_versions(
            tx,
            [
                (c, tick, cur[(c, tick)][2], cur[(c, tick)][3] | Flag.CONFLICT)
                for c, tick in flagged
            ],
            cur,
            now,
            user,
            reason,
            comment,
        )
        change_id = change_id if flagged_change is None else flagged_change
    return WriteReport(
        raw_new=len(inserts),
        raw_identical=identical,
        conflicts=len(conflicts),
        change_id=change_id,
    )


def _current(tx: Transaction, ids: list[int], span: dict[str, int]) -> CurrentRegisters:
    return {
        (int(r[0]), int(r[1])): (int(r[2]), int(r[3]), float(r[4]), int(r[5]))
        for r in tx.run.fetch("register_norm_current", span, ids=ids)
    }


def _new_versions(
    tx: Transaction,
    edits: list[tuple[int, int, float, int]],
    cur: CurrentRegisters,
    now: int,
    user: str,
    reason: str,
    comment: str | None,
) -> tuple[int, int | None]:
    """New normalized versions of the register values that change; their number and change."""
    edits = [
        (c, tick, v, f)
        for c, tick, v, f in edits
        if (cur[(c, tick)][2], cur[(c, tick)][3]) != (v, f)
    ]
    if not edits:
        return 0, None
    change_id = tx.change(now, user, reason, comment)
    closing, rows = [], []
    for c, tick, v, f in edits:
        version, recorded, _, _ = cur[(c, tick)]
        at = max(recorded, now)
        closing.append({"k_channel": c, "k_ts": tick, "k_version": version, "replaced_at": at})
        rows.append((c, tick, version + 1, change_id, at, None, v, f))
    tx.run.execute_many("register_norm_close", closing)
    tx.run.bulk_insert("ts_register_norm", rows)
    return len(rows), change_id
