"""Communication statistics: sessions counted per hour at four levels, and the query of them.

**Written** by the writer (:mod:`meterhub.acquisition.writer`) inside the batch's transaction:
:func:`record_statistics` folds the batch's sessions into counters per (UTC hour of the
session's start, level, object, outcome) in memory and adds them to the rows of
``acq_statistic`` (:class:`meterhub.model.statistics.CommunicationStatistic`) with one upsert
per row — ``INSERT … ON CONFLICT DO UPDATE`` on SQLite (the driver's ``executemany``) and
PostgreSQL (one statement for the batch, the rows as arrays through ``unnest``), a locked
read-modify-write elsewhere. Rows go in key order, so writers of several processes lock them
in the same order. A batch of 500 sessions of 500 meters on one hour adds one summary row and
one row per virtual meter, device and path. The per-object rows of hours older than the setting
``statistics_retention_days`` are deleted by the engine's hourly upkeep
(:func:`prune_statistics`); the summary stays.

**Read** with :func:`communication_statistics`: hours as stored, or days summed from the hours
(UTC days, or the days of a zone whose offset is whole hours). Levels: ``summary``,
``virtual_meter``, ``device``, ``path`` (``virtual-meter`` is accepted too).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    bindparam,
    delete,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from meterhub.acquisition.bulk import execute_many
from meterhub.acquisition.observers import SessionRecord
from meterhub.acquisition.results import SessionResult
from meterhub.acquisition.tables import table_of
from meterhub.errors import InvalidValue
from meterhub.inventory.common import chunks
from meterhub.model.devices import CommunicationDevice, CommunicationPath
from meterhub.model.metering import MeteringPoint, VirtualMeter
from meterhub.model.meters import Meter
from meterhub.model.statistics import STATISTIC_SCOPES, SUCCEEDED, CommunicationStatistic

__all__ = [
    "BUCKETS",
    "LEVELS",
    "StatisticRow",
    "communication_statistics",
    "object_names",
    "prune_statistics",
    "record_statistics",
    "statistic_rows",
]

STATISTICS = table_of(CommunicationStatistic)

#: The levels, as :func:`communication_statistics` takes them.
LEVELS: tuple[str, ...] = STATISTIC_SCOPES

#: The bucket sizes of :func:`communication_statistics`.
BUCKETS: tuple[str, ...] = ("hour", "day")

_KEY = ("bucket", "scope", "scope_id", "outcome")
_COUNTERS = ("sessions", "seconds", "bytes_sent", "bytes_received", "backup", "failovers")

#: (hour, scope, scope id, outcome) -> the counters in the order of ``_COUNTERS``.
Counters = dict[tuple[datetime, str, int, str], list[float]]


def _upsert(insert_of: Any) -> Any:
    statement = insert_of(STATISTICS).values(
        {name: bindparam(name) for name in (*_KEY, *_COUNTERS)}
    )
    return statement.on_conflict_do_update(
        index_elements=[STATISTICS.c[name] for name in _KEY],
        set_={name: STATISTICS.c[name] + statement.excluded[name] for name in _COUNTERS},
    )


#: PostgreSQL: every row in one statement, the columns as arrays (one round trip, one plan;
#: a batch's keys are unique, as ``ON CONFLICT DO UPDATE`` requires of one statement).
_PG_UPSERT = text(
    "INSERT INTO acq_statistic (bucket, scope, scope_id, outcome, "
    + ", ".join(_COUNTERS)
    + ") SELECT * FROM unnest(CAST(:bucket AS timestamp[]), CAST(:scope AS varchar[]), "
    "CAST(:scope_id AS integer[]), CAST(:outcome AS varchar[]), CAST(:sessions AS integer[]), "
    "CAST(:seconds AS float8[]), CAST(:bytes_sent AS bigint[]), "
    "CAST(:bytes_received AS bigint[]), CAST(:backup AS integer[]), "
    "CAST(:failovers AS integer[])) "
    "ON CONFLICT (bucket, scope, scope_id, outcome) DO UPDATE SET "
    + ", ".join(f"{name} = acq_statistic.{name} + excluded.{name}" for name in _COUNTERS)
)

#: The upsert of the dialects that have ``ON CONFLICT``: on SQLite one statement a row (the
#: driver's ``executemany`` runs it in C), on PostgreSQL :data:`_PG_UPSERT`. Other dialects
#: read, modify and write.
_UPSERT: dict[str, Any] = {"sqlite": _upsert(sqlite_insert), "postgresql": _PG_UPSERT}

_ADD = (
    update(STATISTICS)
    .where(*(STATISTICS.c[name] == bindparam(f"k_{name}") for name in _KEY))
    .values({name: STATISTICS.c[name] + bindparam(name) for name in _COUNTERS})
)


def _hour(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def statistic_rows(batch: Sequence[SessionResult], records: Sequence[SessionRecord]) -> Counters:
    """The counters of ``batch``'s sessions (``records``: their records, in the same order)."""
    counters: Counters = {}
    hours: dict[datetime, datetime] = {}
    position = 0
    for result in batch:
        for index, draft in enumerate(result.sessions):
            record = records[position]
            position += 1
            started = draft.started
            hour = hours.get(started)
            if hour is None:
                hour = hours[started] = _hour(started)
            outcome = SUCCEEDED if draft.outcome == SUCCEEDED else (draft.error_class or "internal")
            priority = record.path_priority
            # a session after the first of its result: the path before it lost the link
            values = (
                1,
                max(0.0, (draft.finished - started).total_seconds()),
                draft.bytes_sent,
                draft.bytes_received,
                1 if priority is not None and priority > 1 else 0,
                1 if index > 0 else 0,
            )
            keys = [(hour, "summary", 0, outcome)]
            if record.virtual_meter_id is not None:
                keys.append((hour, "virtual_meter", record.virtual_meter_id, outcome))
            if record.device_id is not None:
                keys.append((hour, "device", record.device_id, outcome))
            if record.path_id is not None:
                keys.append((hour, "path", record.path_id, outcome))
            for key in keys:
                slot = counters.get(key)
                if slot is None:
                    counters[key] = list(values)
                else:
                    for number, value in enumerate(values):
                        slot[number] += value
    return counters


def record_statistics(
    connection: Connection, batch: Sequence[SessionResult], records: Sequence[SessionRecord]
) -> int:
    """Add the sessions of ``batch`` to the statistics (inside the caller's transaction);
    returns the number of rows written."""
    counters = statistic_rows(batch, records)
    if not counters:
        return 0
    rows = [
        {
            "bucket": bucket, "scope": scope, "scope_id": scope_id, "outcome": outcome,
            "sessions": int(values[0]), "seconds": float(values[1]),
            "bytes_sent": int(values[2]), "bytes_received": int(values[3]),
            "backup": int(values[4]), "failovers": int(values[5]),
        }
        for (bucket, scope, scope_id, outcome), values in sorted(counters.items())
    ]  # fmt: skip
    upsert = _UPSERT.get(connection.dialect.name)
    if upsert is None:
        _read_modify_write(connection, rows)
    elif upsert is _PG_UPSERT:
        for part in chunks(rows, 5000):
            columns: dict[str, list[Any]] = {name: [] for name in (*_KEY, *_COUNTERS)}
            for row in part:
                for name, values in columns.items():
                    values.append(row[name])
            columns["bucket"] = [b.astimezone(UTC).replace(tzinfo=None) for b in columns["bucket"]]
            connection.execute(upsert, columns)
    else:
        # a batch has few distinct hours: each goes through the column's processor once
        execute_many(connection, upsert, rows, repeated=("bucket",))
    return len(rows)


def _read_modify_write(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """The upsert where the dialect has none: lock the rows that exist, add to them, insert
    the others."""
    existing: set[tuple[Any, ...]] = set()
    wanted = {tuple(row[name] for name in _KEY) for row in rows}
    groups: dict[tuple[datetime, str], list[int]] = {}
    for bucket, scope, scope_id, _ in wanted:
        groups.setdefault((bucket, scope), []).append(scope_id)
    for (bucket, scope), scope_ids in sorted(groups.items()):
        for part in chunks(sorted(set(scope_ids))):
            found = connection.execute(
                select(*(STATISTICS.c[name] for name in _KEY))
                .where(
                    STATISTICS.c.bucket == bucket,
                    STATISTICS.c.scope == scope,
                    STATISTICS.c.scope_id.in_(part),
                )
                .with_for_update()
            )
            existing.update(tuple(row) for row in found)
    updates = []
    inserts = []
    for row in rows:
        key = tuple(row[name] for name in _KEY)
        if key in existing:
            updates.append(
                {f"k_{name}": row[name] for name in _KEY} | {c: row[c] for c in _COUNTERS}
            )
        else:
            inserts.append(row)
    if updates:
        connection.execute(_ADD, updates)
    if inserts:
        connection.execute(insert(STATISTICS), inserts)


def prune_statistics(engine: Engine, horizon: datetime) -> int:
    """Delete the virtual meter, device and path rows of hours before ``horizon`` (the
    summary stays); returns the number of rows deleted."""
    with engine.begin() as connection:
        result = connection.execute(
            delete(STATISTICS).where(STATISTICS.c.bucket < horizon, STATISTICS.c.scope != "summary")
        )
    return int(result.rowcount or 0)


# -- the query ---------------------------------------------------------------------------------


@dataclass
class StatisticRow:
    """The sessions of one bucket and object: attempts, successes, failures by error class,
    durations, bytes, backup-path use.

    ``key`` is the virtual meter, device or path id (``None`` at the ``summary`` level).
    ``seconds`` is the total duration of the sessions.
    """

    bucket: datetime
    level: str
    key: int | None
    attempts: int = 0
    successes: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    bytes_sent: int = 0
    bytes_received: int = 0
    backup: int = 0
    failovers: int = 0

    @property
    def failed(self) -> int:
        """Sessions that failed, whatever the error class."""
        return sum(self.failures.values())

    @property
    def mean_seconds(self) -> float | None:
        """The mean duration of a session (``None`` without sessions)."""
        return self.seconds / self.attempts if self.attempts else None

    def as_dict(self) -> dict[str, Any]:
        """Plain data (for JSON)."""
        return {
            "bucket": self.bucket.isoformat(),
            "level": self.level,
            "key": self.key,
            "attempts": self.attempts,
            "successes": self.successes,
            "failures": dict(sorted(self.failures.items())),
            "seconds": round(self.seconds, 6),
            "bytes_sent": self.bytes_sent,
            "bytes_received": self.bytes_received,
            "backup": self.backup,
            "failovers": self.failovers,
        }


def _level(level: str) -> str:
    name = level.replace("-", "_")
    if name not in STATISTIC_SCOPES:
        raise InvalidValue(
            "level", f"unknown level {level!r}; known: {', '.join(STATISTIC_SCOPES)}"
        )
    return name


def _zone(zone: str | tzinfo) -> tzinfo:
    if isinstance(zone, tzinfo):
        return zone
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidValue("zone", f"{zone!r} is not a known time zone") from exc


def _aware(name: str, value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise InvalidValue(name, f"{value.isoformat()} has no time zone; give an aware time")
    return value


def communication_statistics(
    session: Session | Connection,
    level: str,
    key: int | Iterable[int] | None = None,
    *,
    since: datetime,
    until: datetime | None = None,
    bucket: str = "hour",
    zone: str | tzinfo = "UTC",
    where: ColumnElement[bool] | None = None,
) -> list[StatisticRow]:
    """Sessions per bucket and object of ``level``, oldest bucket first, then by key.

    ``key``: one object (or several) of the level; all of them when ``None`` (ignored at the
    ``summary`` level). ``since``/``until`` (aware times): the buckets that start in
    ``[since, until)``, ``since`` rounded down to its bucket; ``until`` defaults to now.
    ``bucket``: ``hour`` (as stored) or ``day`` (the sum of the day's hours, the day of
    ``zone``, a zone whose offsets are whole hours). ``where``: a further condition on
    ``acq_statistic`` (the access layer's ``statistic`` condition, limiting the rows to a
    user's data segments).
    """
    scope = _level(level)
    if bucket not in BUCKETS:
        raise InvalidValue("bucket", f"unknown bucket {bucket!r}; known: {', '.join(BUCKETS)}")
    _aware("since", since)
    _aware("until", until)
    place = _zone(zone)
    until = until or datetime.now(UTC)
    if bucket == "day":
        local = since.astimezone(place)
        start = datetime(local.year, local.month, local.day, tzinfo=place).astimezone(UTC)
    else:
        start = _hour(since)
    if until <= start:
        raise InvalidValue("until", "must be later than since")
    columns = [STATISTICS.c[name] for name in ("bucket", "scope_id", "outcome", *_COUNTERS)]
    query = select(*columns).where(
        STATISTICS.c.scope == scope, STATISTICS.c.bucket >= start, STATISTICS.c.bucket < until
    )
    if scope != "summary" and key is not None:
        keys = [int(key)] if isinstance(key, int) else sorted({int(k) for k in key})
        query = query.where(or_(*(STATISTICS.c.scope_id.in_(part) for part in chunks(keys))))
    if where is not None:
        query = query.where(where)
    found: dict[tuple[datetime, int], StatisticRow] = {}
    for row in session.execute(query.order_by(STATISTICS.c.bucket, STATISTICS.c.scope_id)):
        hour = row.bucket if row.bucket.tzinfo else row.bucket.replace(tzinfo=UTC)
        if bucket == "day":
            local = hour.astimezone(place)
            hour = datetime(local.year, local.month, local.day, tzinfo=place)
        object_id = None if scope == "summary" else int(row.scope_id)
        target = found.get((hour, object_id or 0))
        if target is None:
            target = found[(hour, object_id or 0)] = StatisticRow(hour, scope, object_id)
        sessions = int(row.sessions)
        target.attempts += sessions
        if row.outcome == SUCCEEDED:
            target.successes += sessions
        else:
            target.failures[row.outcome] = target.failures.get(row.outcome, 0) + sessions
        target.seconds += float(row.seconds)
        target.bytes_sent += int(row.bytes_sent)
        target.bytes_received += int(row.bytes_received)
        target.backup += int(row.backup)
        target.failovers += int(row.failovers)
    return [found[k] for k in sorted(found, key=lambda k: (k[0].astimezone(UTC), k[1]))]


def object_names(session: Session | Connection, level: str, keys: Iterable[int]) -> dict[int, str]:
    """What to call the objects ``keys`` of ``level``: ``point / virtual meter`` names, device
    names, ``serial main`` or ``serial backup N`` for paths (none at the ``summary`` level, none
    for objects deleted since)."""
    scope = _level(level)
    wanted = sorted({int(key) for key in keys})
    names: dict[int, str] = {}
    for part in chunks(wanted):
        if scope == "virtual_meter":
            meters = session.execute(
                select(VirtualMeter.id, MeteringPoint.name, VirtualMeter.name)
                .join(MeteringPoint, MeteringPoint.id == VirtualMeter.metering_point_id)
                .where(VirtualMeter.id.in_(part))
            )
            names.update({int(i): f"{point} / {name}" for i, point, name in meters})
        elif scope == "device":
            devices = session.execute(
                select(CommunicationDevice.id, CommunicationDevice.name).where(
                    CommunicationDevice.id.in_(part)
                )
            )
            names.update({int(i): str(name) for i, name in devices})
        elif scope == "path":
            paths = session.execute(
                select(CommunicationPath.id, Meter.serial_number, CommunicationPath.priority)
                .join(Meter, Meter.id == CommunicationPath.meter_id)
                .where(CommunicationPath.id.in_(part))
            )
            names.update(
                {
                    int(i): f"{serial} {'main' if priority == 1 else f'backup {priority - 1}'}"
                    for i, serial, priority in paths
                }
            )
    return names
