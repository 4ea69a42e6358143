"""The store's SQL: SQLAlchemy Core statements compiled once per dialect, run on the driver.

Statements are written once with SQLAlchemy Core, so the same text compiles for SQLite,
PostgreSQL and Oracle (tests compile every one of them for Oracle). The store runs the compiled
text directly on the DBAPI cursor: no Row object per block, and the bulk paths use each driver's
fast path:

- SQLite: ``executemany`` on the ``sqlite3`` connection.
- PostgreSQL: binary ``COPY ... FROM STDIN`` through psycopg 3.
- Oracle: ``executemany`` with array binds on the oracledb connection (``setinputsizes`` marks
  the blob columns ``DB_TYPE_LONG_RAW`` so blocks bind as bytes, not LOB locators).

A list of channel ids is rendered as literal integers (they are validated ``int64``), at most
1,000 per statement (Oracle's limit for an ``IN`` list).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import (
    ClauseElement,
    Dialect,
    Executable,
    and_,
    bindparam,
    column,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    table,
    union_all,
    update,
)

from meterhub.timeseries import tables as t

#: The channel table of the domain model, as far as the store reads and locks it.
channel = table(
    "channel",
    column("id"),
    column("virtual_meter_id"),
    column("kind"),
    column("interval_minutes"),
    column("unit"),
    column("scaler"),
)

#: Most channel ids in one ``IN`` list.
IDS_PER_STATEMENT = 1000


_IDS_TOKEN = "__[POSTCOMPILE_ids]"
_PG_ANY = "= ANY(CAST(%(_ids)s AS BIGINT[]))"
_PG_NOT_ANY = "<> ALL(CAST(%(_ids)s AS BIGINT[]))"

_ids: Any = bindparam("ids", expanding=True)


def _norm_columns(table: Any) -> list[Any]:
    c = table.c
    return [
        c.channel_id,
        c.day_no,
        c.version,
        c.recorded_at,
        c.replaced_at,
        c.value_data,
        c.flag_data,
    ]


def _as_of(table: Any) -> Any:
    c = table.c
    return and_(
        c.recorded_at <= bindparam("as_of"),
        or_(c.replaced_at.is_(None), c.replaced_at > bindparam("as_of")),
    )


def _in_days(table: Any) -> Any:
    c = table.c
    return and_(c.channel_id.in_(_ids), c.day_no.between(bindparam("d0"), bindparam("d1")))


def _registers(current: bool) -> Executable:
    """Register readings joined with their current (or as-of) normalized version."""
    r, rn = t.register, t.register_norm
    version = rn.c.replaced_at.is_(None) if current else _as_of(rn)
    return (
        select(
            r.c.channel_id,
            r.c.ts,
            r.c.value,
            r.c.status,
            rn.c.normalized,
            rn.c.flags,
            r.c.capture_ts,
        )
        .join(rn, and_(rn.c.channel_id == r.c.channel_id, rn.c.ts == r.c.ts, version))
        .where(
            r.c.channel_id.in_(_ids),
            r.c.ts >= bindparam("t0"),
            r.c.ts < bindparam("t1"),
        )
        .order_by(r.c.channel_id, r.c.ts)
    )


def _build() -> dict[str, Executable]:
    r, n, a, cf, rn = t.raw_block, t.norm_block, t.norm_archive, t.conflict, t.register_norm
    statements: dict[str, Executable] = {
        # writers of a channel take its row lock, in id order (PostgreSQL, Oracle)
        "lock_channels": select(channel.c.id)
        .where(channel.c.id.in_(_ids))
        .order_by(channel.c.id)
        .with_for_update(key_share=True),
        "change_insert": insert(t.change)
        .values(
            recorded_at=bindparam("recorded_at"),
            user_name=bindparam("user_name"),
            reason=bindparam("reason"),
            comment_text=bindparam("comment_text"),
        )
        .returning(t.change.c.id),
        "raw_blocks": select(r.c.channel_id, r.c.day_no, r.c.value_data, r.c.status_data)
        .where(_in_days(r))
        .order_by(r.c.channel_id, r.c.day_no),
        "raw_update": update(r)
        .where(r.c.channel_id == bindparam("k_channel"), r.c.day_no == bindparam("k_day"))
        .values(
            received_at=bindparam("received_at"),
            value_data=bindparam("value_data"),
            status_data=bindparam("status_data"),
        ),
        "norm_current": select(*_norm_columns(n))
        .where(_in_days(n), n.c.replaced_at.is_(None))
        .order_by(n.c.channel_id, n.c.day_no),
        "norm_read": select(n.c.channel_id, n.c.day_no, n.c.value_data, n.c.flag_data)
        .where(_in_days(n), n.c.replaced_at.is_(None))
        .order_by(n.c.channel_id, n.c.day_no),
        "norm_as_of_read": select(n.c.channel_id, n.c.day_no, n.c.value_data, n.c.flag_data)
        .where(_in_days(n), _as_of(n))
        .order_by(n.c.channel_id, n.c.day_no),
        "norm_as_of_archive_read": union_all(
            select(n.c.channel_id, n.c.day_no, n.c.value_data, n.c.flag_data).where(
                _in_days(n), _as_of(n)
            ),
            select(a.c.channel_id, a.c.day_no, a.c.value_data, a.c.flag_data).where(
                _in_days(a), _as_of(a)
            ),
        ),
        "norm_close": update(n)
        .where(
            n.c.channel_id == bindparam("k_channel"),
            n.c.day_no == bindparam("k_day"),
            n.c.version == bindparam("k_version"),
        )
        .values(replaced_at=bindparam("replaced_at")),
        "conflicts": select(
            cf.c.channel_id,
            cf.c.ts,
            cf.c.stored_value,
            cf.c.stored_status,
            cf.c.value,
            cf.c.status,
            cf.c.received_at,
        )
        .where(cf.c.channel_id.in_(_ids), cf.c.ts >= bindparam("t0"), cf.c.ts < bindparam("t1"))
        .order_by(cf.c.channel_id, cf.c.ts, cf.c.id),
        "conflict_insert": insert(cf).values(
            {c.name: bindparam(c.name) for c in cf.columns if c.name != "id"}
        ),
        "register_raw": select(
            t.register.c.channel_id, t.register.c.ts, t.register.c.value, t.register.c.status
        ).where(
            t.register.c.channel_id.in_(_ids),
            t.register.c.ts >= bindparam("t0"),
            t.register.c.ts < bindparam("t1"),
        ),
        "registers": _registers(current=True),
        "registers_as_of": _registers(current=False),
        "register_norm_current": select(
            rn.c.channel_id, rn.c.ts, rn.c.version, rn.c.recorded_at, rn.c.normalized, rn.c.flags
        ).where(
            rn.c.channel_id.in_(_ids),
            rn.c.ts >= bindparam("t0"),
            rn.c.ts < bindparam("t1"),
            rn.c.replaced_at.is_(None),
        ),
        "register_norm_close": update(rn)
        .where(
            rn.c.channel_id == bindparam("k_channel"),
            rn.c.ts == bindparam("k_ts"),
            rn.c.version == bindparam("k_version"),
        )
        .values(replaced_at=bindparam("replaced_at")),
        "register_versions": select(
            rn.c.version,
            rn.c.recorded_at,
            rn.c.normalized,
            rn.c.flags,
            rn.c.change_id,
        )
        .where(rn.c.channel_id == bindparam("channel"), rn.c.ts == bindparam("ts"))
        .order_by(rn.c.version),
        "events": select(t.event.c.channel_id, t.event.c.ts, t.event.c.code, t.event.c.value)
        .where(
            t.event.c.channel_id.in_(_ids),
            t.event.c.ts >= bindparam("t0"),
            t.event.c.ts < bindparam("t1"),
        )
        .order_by(t.event.c.channel_id, t.event.c.ts, t.event.c.code),
        "block_versions": union_all(
            select(
                n.c.day_no,
                n.c.version,
                n.c.recorded_at,
                n.c.replaced_at,
                n.c.value_data,
                n.c.flag_data,
                n.c.change_id,
                literal_column("0").label("archived"),
            ).where(
                n.c.channel_id == bindparam("channel"),
                n.c.day_no.between(bindparam("d0"), bindparam("d1")),
            ),
            select(
                a.c.day_no,
                a.c.version,
                a.c.recorded_at,
                a.c.replaced_at,
                a.c.value_data,
                a.c.flag_data,
                a.c.change_id,
                literal_column("1").label("archived"),
            ).where(
                a.c.channel_id == bindparam("channel"),
                a.c.day_no.between(bindparam("d0"), bindparam("d1")),
            ),
        ),
        "prune_archive": insert(a).from_select(
            [*(col.name for col in _norm_columns(a)), "change_id", "archived_at"],
            select(*_norm_columns(n), n.c.change_id, bindparam("now")).where(
                n.c.replaced_at.is_not(None), n.c.replaced_at <= bindparam("before")
            ),
        ),
        "prune_delete": delete(n).where(
            n.c.replaced_at.is_not(None), n.c.replaced_at <= bindparam("before")
        ),
        "prune_count": select(func.count()).where(
            n.c.replaced_at.is_not(None), n.c.replaced_at <= bindparam("before")
        ),
    }
    return statements


#: Every statement of the store by name (compiled lazily per dialect).
STATEMENTS: dict[str, Executable] = _build()

#: Columns of the tables the bulk path inserts into, in insert order.
BULK_COLUMNS: dict[str, tuple[str, ...]] = {
    "ts_raw_block": ("channel_id", "day_no", "received_at", "value_data", "status_data"),
    "ts_norm_block": (
        "channel_id",
        "day_no",
        "version",
        "change_id",
        "recorded_at",
        "replaced_at",
        "value_data",
        "flag_data",
    ),
    "ts_register": ("channel_id", "ts", "value", "status", "capture_ts", "received_at"),
    "ts_conflict": (
        "channel_id",
        "ts",
        "stored_value",
        "stored_status",
        "value",
        "status",
        "received_at",
    ),
    "ts_event": ("channel_id", "ts", "code", "value", "received_at"),
    "ts_register_norm": (
        "channel_id",
        "ts",
        "version",
        "change_id",
        "recorded_at",
        "replaced_at",
        "normalized",
        "flags",
    ),
}

_PG_TYPES = {
    "ts_raw_block": ["int4", "int4", "int8", "bytea", "bytea"],
    "ts_norm_block": ["int4", "int4", "int4", "int4", "int8", "int8", "bytea", "bytea"],
    "ts_register": ["int4", "int8", "float8", "int8", "int8", "int8"],
    "ts_conflict": ["int4", "int8", "float8", "int8", "float8", "int8", "int8"],
    "ts_event": ["int4", "int8", "int4", "float8", "int8"],
    "ts_register_norm": ["int4", "int8", "int4", "int4", "int8", "int8", "float8", "int8"],
}


def _pg_oids(table: str) -> list[int]:
    """The type OIDs of :data:`_PG_TYPES` (``set_types`` with OIDs skips a look-up by name)."""
    found = _PG_OIDS.get(table)
    if found is None:
        from psycopg.postgres import types

        found = _PG_OIDS[table] = [types[name].oid for name in _PG_TYPES[table]]
    return found


_PG_OIDS: dict[str, list[int]] = {}


class Compiled:
    """One statement compiled for one dialect: its text and how to order parameters.

    On SQLite the channel ids of an ``IN`` list are bound as parameters (one placeholder
    each), so a statement with the same number of ids has the same text and ``sqlite3`` reuses
    its prepared statement. On PostgreSQL they are one ``BIGINT[]`` parameter
    (``= ANY(...)``): one text for any number of ids, which psycopg prepares once, where a
    text of a thousand placeholders would be converted anew on every execution. Oracle gets
    them as literal integers.
    """

    def __init__(self, statement: Executable, dialect: Dialect) -> None:
        compiled: Any = cast(ClauseElement, statement).compile(dialect=dialect)
        self.text = compiled.string
        self.positional = dialect.positional
        self.order = list(compiled.positiontup or []) if self.positional else []
        self.names = [name for name in self.order if name != "ids"]
        self.bind_ids = dialect.name in ("sqlite", "postgresql")
        self._texts: dict[int, str] = {}
        # PostgreSQL: the ids as one array parameter, so the text never changes with their
        # number (psycopg converts a long text with many parameters anew on every execution)
        self.array_ids = dialect.name == "postgresql" and _IDS_TOKEN in self.text
        if self.array_ids:
            self.text = self.text.replace(f"NOT IN ({_IDS_TOKEN})", _PG_NOT_ANY).replace(
                f"IN ({_IDS_TOKEN})", _PG_ANY
            )
            if _IDS_TOKEN in self.text:
                raise ValueError(f"ids used other than in an IN list: {self.text}")

    def render(self, ids: Sequence[int] | None, params: dict[str, Any]) -> tuple[str, Any]:
        """The SQL text for ``ids`` (Python ints) and the parameters in the driver's form."""
        if ids is None:
            if self.positional:
                return self.text, tuple(params[name] for name in self.names)
            return self.text, params
        if self.array_ids:
            named = dict(params)
            named["_ids"] = [int(i) for i in ids]
            return self.text, named
        if not self.bind_ids:
            text = self.text.replace(_IDS_TOKEN, ",".join(str(int(i)) for i in ids))
            if self.positional:
                return text, tuple(params[name] for name in self.names)
            return text, params
        count = len(ids)
        found = self._texts.get(count)
        if found is None:
            if self.positional:
                marks = ", ".join("?" * count)
            else:
                marks = ", ".join(f"%(_id{i})s" for i in range(count))
            found = self._texts[count] = self.text.replace(_IDS_TOKEN, marks)
        text = found
        if self.positional:
            bound: list[Any] = []
            for name in self.order:
                if name == "ids":
                    bound.extend(ids)
                else:
                    bound.append(params[name])
            return text, tuple(bound)
        named = dict(params)
        named.update(zip(_id_names(count), ids, strict=True))
        return text, named


def _id_names(count: int) -> list[str]:
    found = _ID_NAMES.get(count)
    if found is None:
        found = _ID_NAMES[count] = [f"_id{i}" for i in range(count)]
    return found


_ID_NAMES: dict[int, list[str]] = {}


class Runner:
    """Runs the store's statements on one DBAPI connection of a given dialect."""

    def __init__(self, dbapi_connection: Any, dialect: Dialect, cache: dict[str, Compiled]) -> None:
        self.connection = dbapi_connection
        self.dialect = dialect
        self.name = dialect.name
        self.cache = cache

    def compiled(self, name: str) -> Compiled:
        """The statement ``name`` compiled for this dialect (cached per store)."""
        found = self.cache.get(name)
        if found is None:
            found = self.cache[name] = Compiled(STATEMENTS[name], self.dialect)
        return found

    def fetch(
        self, name: str, params: dict[str, Any], ids: Sequence[int] | None = None
    ) -> list[Any]:
        """All rows of statement ``name``; ``ids`` are split into statements of 1,000."""
        compiled = self.compiled(name)
        cursor = self.connection.cursor()
        if self.name == "oracle":
            cursor.outputtypehandler = _oracle_output_handler
        try:
            if ids is None:
                cursor.execute(*compiled.render(None, params))
                return list(cursor.fetchall())
            rows: list[Any] = []
            for chunk in _chunks(ids, IDS_PER_STATEMENT):
                cursor.execute(*compiled.render(chunk, params))
                rows.extend(cursor.fetchall())
            return rows
        finally:
            cursor.close()

    def execute(self, name: str, params: dict[str, Any]) -> int:
        """Run statement ``name`` once; the number of rows it touched."""
        cursor = self.connection.cursor()
        try:
            cursor.execute(*self.compiled(name).render(None, params))
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def execute_many(self, name: str, rows: Sequence[dict[str, Any]]) -> None:
        """Run statement ``name`` for every parameter set of ``rows`` (one driver call)."""
        if not rows:
            return
        compiled = self.compiled(name)
        text = compiled.text
        if compiled.positional:
            params: Sequence[Any] = [tuple(r[n] for n in compiled.names) for r in rows]
        else:
            params = rows
        cursor = self.connection.cursor()
        try:
            if self.name == "oracle":
                _oracle_input_sizes(cursor, rows[0])
            cursor.executemany(text, params)
        finally:
            cursor.close()

    def insert_change(self, conn: Any, params: dict[str, Any]) -> int:
        """Insert one ``ts_change`` row; its id. ``conn`` is the SQLAlchemy connection (Oracle
        returns ids through SQLAlchemy's ``RETURNING ... INTO`` handling)."""
        if self.name == "oracle":
            return int(conn.execute(STATEMENTS["change_insert"], params).scalar_one())
        cursor = self.connection.cursor()
        try:
            cursor.execute(*self.compiled("change_insert").render(None, params))
            return int(cursor.fetchone()[0])
        finally:
            cursor.close()

    def bulk_insert(self, table: str, rows: Iterable[tuple[Any, ...]]) -> None:
        """Insert tuples in :data:`BULK_COLUMNS` order with the driver's fastest path."""
        columns = BULK_COLUMNS[table]
        rows = rows if isinstance(rows, list) else list(rows)
        if not rows:
            return
        if self.name == "postgresql":
            cursor = self.connection.cursor()
            try:
                copy_sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
                with cursor.copy(copy_sql) as copy:
                    copy.set_types(_pg_oids(table))
                    for row in rows:
                        copy.write_row(row)
            finally:
                cursor.close()
            return
        text = bulk_insert_sql(table, self.dialect.paramstyle)
        cursor = self.connection.cursor()
        try:
            if self.name == "oracle":
                _oracle_input_sizes(
                    cursor, dict(zip(columns, rows[0], strict=True)), positional=True
                )
            cursor.executemany(text, rows)
        finally:
            cursor.close()


def bulk_insert_sql(table: str, paramstyle: str) -> str:
    """The ``INSERT`` text :meth:`Runner.bulk_insert` uses with ``executemany`` (for tests)."""
    columns = BULK_COLUMNS[table]
    if paramstyle == "qmark":
        placeholders = ", ".join("?" for _ in columns)
    elif paramstyle in ("format", "pyformat"):
        placeholders = ", ".join("%s" for _ in columns)
    else:
        placeholders = ", ".join(f":{i + 1}" for i in range(len(columns)))
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"


def _chunks(ids: Sequence[int], size: int) -> Iterable[Sequence[int]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def _oracle_input_sizes(cursor: Any, sample: dict[str, Any], positional: bool = False) -> None:
    import oracledb

    sizes = {k: oracledb.DB_TYPE_LONG_RAW for k in sample if k.endswith("_data")}
    if positional:
        cursor.setinputsizes(*[sizes.get(k) for k in sample])
    else:
        cursor.setinputsizes(**sizes)


def _oracle_output_handler(cursor: Any, metadata: Any) -> Any:
    import oracledb

    if metadata.type_code is oracledb.DB_TYPE_BLOB:
        return cursor.var(oracledb.DB_TYPE_LONG_RAW, arraysize=cursor.arraysize)
    return None
