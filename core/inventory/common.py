"""Helpers shared by the operations: names, validity periods, flushing, license limits.

Every operation validates its input with these helpers *before* it changes anything, so an
error leaves the session as it was; :func:`flush` is the last step and turns a violated
database constraint (the safety net behind the checks, e.g. a concurrent insert) into a
:class:`~meterhub.errors.Conflict`.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import Any, TypeVar

from sqlalchemy import Select, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meterhub.errors import Conflict, InvalidValue, NotFound
from meterhub.licensing import development_license

T = TypeVar("T")

#: Longest name of an element, template or segment.
MAX_NAME_LENGTH = 200

#: Items per ``IN (...)`` list (Oracle refuses more than 1000).
IN_CHUNK = 500


class Unset(Enum):
    """Type of :data:`UNSET`."""

    UNSET = "UNSET"


#: Default of optional keyword arguments meaning "leave unchanged" where ``None`` is a value.
UNSET = Unset.UNSET


def check_name(
    value: Any,
    *,
    field: str = "name",
    max_length: int = MAX_NAME_LENGTH,
    forbidden: str = "",
) -> str:
    """Return ``value`` stripped of surrounding whitespace, or raise :class:`InvalidValue`.

    A name is a non-empty string of at most ``max_length`` characters with no control
    characters and none of the characters in ``forbidden`` (``"/"`` for element names, which
    make up paths).
    """
    if not isinstance(value, str):
        raise InvalidValue(field, f"must be text, got {type(value).__name__}")
    name = value.strip()
    if not name:
        raise InvalidValue(field, "must not be empty")
    if len(name) > max_length:
        raise InvalidValue(field, f"must have at most {max_length} characters, has {len(name)}")
    for char in name:
        if unicodedata.category(char).startswith("C"):
            raise InvalidValue(field, f"must not contain the control character {char!r}")
        if char in forbidden:
            raise InvalidValue(field, f"must not contain {char!r}")
    return name


def optional_text(value: Any, *, field: str, max_length: int | None = None) -> str | None:
    """Return ``value`` stripped, or ``None`` for ``None`` and blank text (Oracle stores ``''``
    as NULL, so blank and missing are the same everywhere)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidValue(field, f"must be text, got {type(value).__name__}")
    text = value.strip()
    if max_length is not None and len(text) > max_length:
        raise InvalidValue(field, f"must have at most {max_length} characters, has {len(text)}")
    return text or None


def check_instant(value: Any, *, field: str) -> datetime:
    """Return ``value`` as an aware UTC datetime; naive or non-datetime input is refused."""
    if not isinstance(value, datetime):
        raise InvalidValue(field, f"must be a date and time, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidValue(field, f"{value.isoformat()} has no time zone; give an aware time")
    return value.astimezone(UTC)


def format_instant(value: datetime | None, *, open_text: str = "open") -> str:
    """An instant for a message: ISO 8601 in UTC with ``Z``, or ``open_text`` for ``None``."""
    if value is None:
        return open_text
    text = value.astimezone(UTC).replace(tzinfo=None).isoformat()
    return f"{text}Z"


def format_period(valid_from: datetime | None, valid_to: datetime | None) -> str:
    """A validity period for a message: ``[2024-01-01T00:00:00Z, open)``."""
    return f"[{format_instant(valid_from, open_text='open')}, {format_instant(valid_to)})"


def check_period(
    valid_from: Any,
    valid_to: Any,
    *,
    from_field: str = "valid_from",
    to_field: str = "valid_to",
) -> tuple[datetime, datetime | None]:
    """Return the period ``[valid_from, valid_to)`` checked: aware times, ``valid_to`` after
    ``valid_from`` (``valid_to`` ``None`` is an open end)."""
    start = check_instant(valid_from, field=from_field)
    if valid_to is None:
        return start, None
    end = check_instant(valid_to, field=to_field)
    if end <= start:
        raise InvalidValue(
            to_field,
            f"{format_instant(end)} must be after {from_field} {format_instant(start)}",
        )
    return start, end


def period_within(
    inner_from: datetime,
    inner_to: datetime | None,
    outer_from: datetime,
    outer_to: datetime | None,
) -> bool:
    """Whether ``[inner_from, inner_to)`` lies within ``[outer_from, outer_to)``."""
    if inner_from < outer_from:
        return False
    if outer_to is None:
        return True
    return inner_to is not None and inner_to <= outer_to


def periods_overlap(
    a_from: datetime,
    a_to: datetime | None,
    b_from: datetime,
    b_to: datetime | None,
) -> bool:
    """Whether the half-open periods ``[a_from, a_to)`` and ``[b_from, b_to)`` share an instant."""
    return (a_to is None or b_from < a_to) and (b_to is None or a_from < b_to)


def _lock_key(name: str) -> int:
    """A stable signed 64-bit key for PostgreSQL's advisory lock of limit ``name``."""
    digest = hashlib.sha256(f"meterhub license limit {name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_license_limit(session: Session, name: str, table: str) -> None:
    """Make the transactions that check limit ``name`` run one after the other.

    The lock lasts until the session's transaction ends, so a second transaction counts only
    after the first committed (or rolled back) what it created. PostgreSQL: an advisory
    transaction lock per limit (under the default READ COMMITTED, the count after it sees the
    other transaction's rows). SQLite: the database write lock (``BEGIN IMMEDIATE``) unless the
    transaction already writes and so holds it. Other databases (Oracle): ``LOCK TABLE`` on
    ``table`` in exclusive mode.
    """
    connection = session.connection()
    dialect = connection.dialect.name
    if dialect == "sqlite":
        dbapi = connection.connection.driver_connection
        if not dbapi.in_transaction:  # type: ignore[union-attr]
            connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif dialect == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(name)})
    else:
        connection.exec_driver_sql(f"LOCK TABLE {table} IN EXCLUSIVE MODE")


def check_license_limit(
    session: Session,
    name: str,
    counted: Select[Any],
    *,
    table: str,
    adding: int = 1,
) -> None:
    """Refuse to add ``adding`` objects beyond the license's limit ``name``.

    The license is the session's (``session.info["license"]``, which the runtime's session
    factory sets); a session without one is held to the development license's limits. When the
    limit is set, :func:`lock_license_limit` serializes the check with every other transaction
    checking it, then ``counted`` (a ``SELECT count(...)`` of the objects already there) runs,
    so two sessions adding the last allowed object at once cannot both succeed: the second
    waits for the first to end and then sees its object. Raises
    :class:`~meterhub.errors.LicenseLimitExceeded` when the count plus ``adding`` exceeds the
    limit; the caller adds nothing in that case.
    """
    license = session.info.get("license") or development_license()
    if license.limit(name) is None:
        return
    lock_license_limit(session, name, table)
    existing = int(session.scalar(counted) or 0)
    license.check_limit(name, existing + adding)


def flush(session: Session, *, field: str = "name", reason: str | None = None) -> None:
    """Flush ``session``; a violated database constraint becomes :class:`Conflict`.

    ``field`` and ``reason`` describe the likely collision (the checks before the flush catch
    the usual ones, so this is mostly a concurrent change); the database's own message is
    appended. The session's transaction is unusable afterwards and must be rolled back, which
    :func:`meterhub.db.transaction` does.
    """
    try:
        session.flush()
    except IntegrityError as exc:
        detail = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        message = reason or "the change collides with existing data"
        raise Conflict(field, f"{message} (database: {detail})") from exc


def chunks(values: Iterable[T], size: int = IN_CHUNK) -> Iterator[list[T]]:
    """``values`` in lists of at most ``size`` items, for ``IN`` lists on every backend."""
    batch: list[T] = []
    for value in values:
        batch.append(value)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def quoted_list(names: Sequence[str]) -> str:
    """``'a', 'b', 'c'`` for a message, or ``(none)``."""
    return ", ".join(repr(name) for name in names) if names else "(none)"


def references_to(
    session: Session, obj: Any, *, ignore: Iterable[str] = ()
) -> list[tuple[str, int]]:
    """``(table, count)`` of the rows of other tables that refer to ``obj`` by a foreign key.

    Tables named in ``ignore`` (rows the deletion removes itself) are left out.
    """
    from sqlalchemy import func, select

    from meterhub.model.base import Base

    table = obj.__table__
    skipped = set(ignore)
    found: list[tuple[str, int]] = []
    for other in Base.metadata.sorted_tables:
        if other.name in skipped:
            continue
        for key in other.foreign_keys:
            if key.column.table is not table:
                continue
            value = getattr(obj, key.column.key)
            statement = select(func.count()).select_from(other).where(key.parent == value)
            count = int(session.scalar(statement) or 0)
            if count:
                found.append((other.name, count))
    return found


def delete_unreferenced(
    session: Session, obj: Any, what: str, *, field: str, ignore: Iterable[str] = ()
) -> None:
    """Delete ``obj`` unless rows of other tables still refer to it (:class:`Conflict` naming
    the tables and counts; remove those first)."""
    references = references_to(session, obj, ignore=ignore)
    if references:
        where = ", ".join(f"{count} {table} row(s)" for table, count in references)
        raise Conflict(field, f"{what} is still referenced by {where}; remove those first")
    session.delete(obj)
    flush(session, field=field, reason=f"{what} is still referenced")


# -- helpers of the operations on metering, meters and devices ------------------------------


def clean_int(
    value: object, field: str, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """``value`` checked to be an integer (not a bool) within ``minimum``..``maximum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValue(field, f"must be a whole number, not {value!r}")
    if minimum is not None and value < minimum:
        raise InvalidValue(field, f"must be at least {minimum}, not {value}")
    if maximum is not None and value > maximum:
        raise InvalidValue(field, f"must be at most {maximum}, not {value}")
    return value


def clean_settings(value: object, field: str) -> dict[str, Any]:
    """``value`` checked to be a JSON object (a dict with text keys and JSON values)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidValue(field, f"must be a mapping of names to values, not {value!r}")

    def check(item: object, where: str) -> None:
        if item is None or isinstance(item, bool | int | float | str):
            return
        if isinstance(item, list | tuple):
            for index, element in enumerate(item):
                check(element, f"{where}[{index}]")
            return
        if isinstance(item, dict):
            for key, element in item.items():
                if not isinstance(key, str):
                    raise InvalidValue(where, f"keys must be text, not {key!r}")
                check(element, f"{where}.{key}")
            return
        raise InvalidValue(where, f"{type(item).__name__} cannot be stored as JSON")

    check(value, field)
    return dict(value)


def in_session(session: Session, obj: T | None, field: str, kind: type[T]) -> T:
    """``obj`` as an instance of this session, checked to be a stored ``kind``.

    A pending object of the session is flushed (to get its id); a detached object is loaded
    again by its primary key, and one that no longer exists raises
    :class:`~meterhub.errors.NotFound`.
    """
    if obj is None:
        raise InvalidValue(field, "is required")
    if not isinstance(obj, kind):
        raise InvalidValue(field, f"must be a {kind.__name__}, not {type(obj).__name__}")
    state = inspect(obj)
    if state.session is session:
        if state.pending:
            session.flush()  # Give the caller's new object its id, to refer to it.
        return obj
    if state.identity is None:
        raise InvalidValue(field, f"this {kind.__name__} is not stored yet; add it first")
    if state.session is not None:
        raise InvalidValue(field, f"this {kind.__name__} belongs to another open session")
    loaded = session.get(kind, state.identity)
    if loaded is None:
        raise NotFound(f"{kind.__name__} {state.identity[0]} no longer exists")
    return loaded
