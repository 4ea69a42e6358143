"""Many rows through one compiled statement, on the driver's ``executemany``.

SQLAlchemy Core's ``executemany`` builds and processes every row's parameters through its
generic machinery, a few microseconds a row (``PITFALLS.md``: 3.8× the driver's own bulk
path). The writer updates a task row per task in every batch, so it compiles its statements
once per dialect, applies the columns' own bind processors (the same conversions Core applies:
``UTCDateTime``, ``JSONText``, the dialect's date format) and hands plain tuples or dicts to the
DBAPI cursor. Only statements whose every parameter is a named ``bindparam`` are accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.sql import ClauseElement

__all__ = ["execute_many"]

_COMPILED: dict[tuple[int, str], tuple[str, list[str] | None, dict[str, Callable[[Any], Any]]]] = {}


def _compiled(
    statement: ClauseElement, connection: Connection
) -> tuple[str, list[str] | None, dict[str, Callable[[Any], Any]]]:
    dialect = connection.dialect
    key = (id(statement), dialect.name)
    found = _COMPILED.get(key)
    if found is None:
        compiled: Any = statement.compile(dialect=dialect)
        defaults = {k: v for k, v in compiled.params.items() if v is not None}
        if defaults:
            raise ValueError(f"execute_many takes bindparams only, not values: {sorted(defaults)}")
        positions = list(compiled.positiontup) if compiled.positiontup is not None else None
        processors = {k: p for k, p in compiled._bind_processors.items() if callable(p)}
        found = _COMPILED[key] = (str(compiled), positions, processors)
    return found


def _memo(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    done: dict[Any, Any] = {}

    def processed(value: Any) -> Any:
        found = done.get(value, done)
        if found is done:
            found = done[value] = process(value)
        return found

    return processed


def execute_many(
    connection: Connection,
    statement: ClauseElement,
    rows: Sequence[dict[str, Any]],
    *,
    repeated: Collection[str] = (),
) -> None:
    """Run ``statement`` (module level, built once: it is cached by identity) for ``rows``.

    ``repeated`` names parameters with few distinct (hashable) values: each distinct value goes
    through its bind processor once.
    """
    if not rows:
        return
    sql, positions, processors = _compiled(statement, connection)
    names = positions if positions is not None else list(rows[0])
    steps: list[tuple[str, Callable[[Any], Any] | None]] = []
    for name in names:
        step = processors.get(name)
        if step is not None and name in repeated:
            step = _memo(step)
        steps.append((name, step))
    # column by column: one comprehension per parameter instead of one per value
    columns: list[list[Any]] = []
    for name, step in steps:
        column = [row[name] for row in rows]
        if step is not None:
            column = [None if value is None else step(value) for value in column]
        columns.append(column)
    params: list[Any] = (
        list(zip(*columns, strict=True))
        if positions is not None
        else [dict(zip(names, value, strict=True)) for value in zip(*columns, strict=True)]
    )
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(sql, params)
    finally:
        cursor.close()
