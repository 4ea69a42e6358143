"""Objects named by id in a request body, looked up within the user's data segments."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterhub.access import AccessContext
from meterhub.errors import InvalidValue

T = TypeVar("T")


def reference(
    session: Session,
    access: AccessContext,
    model: type[T],
    object_type: str,
    object_id: Any,
    field: str,
) -> T:
    """The object of ``model`` with ``object_id`` that the user may see, else
    :class:`InvalidValue` naming ``field`` (an object out of the user's segments is reported
    exactly like one that does not exist)."""
    if isinstance(object_id, bool) or not isinstance(object_id, int):
        raise InvalidValue(field, f"must be the id of a {object_type}, not {object_id!r}")
    statement = select(model).where(model.id == object_id)  # type: ignore[attr-defined]
    found = session.scalar(access.scope.restrict(statement, object_type))
    if found is None:
        raise InvalidValue(field, f"there is no {object_type} with id {object_id}")
    return found


def serialize_writes(session: Session) -> None:
    """Make this request's transaction the only writer until it ends, where the database needs
    it for a read-check-write (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL locks the rows read
    ``FOR UPDATE`` instead)."""
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        dbapi = connection.connection.driver_connection
        if not dbapi.in_transaction:  # type: ignore[union-attr]
            connection.exec_driver_sql("BEGIN IMMEDIATE")
