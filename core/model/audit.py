"""The audit log: one row per changed attribute of every created, changed or deleted object.

Importing this module registers :func:`record_changes` once, on every
:class:`~sqlalchemy.orm.Session`, for the ``after_flush`` event. It audits every object of a
table on :data:`Base.metadata` except ``audit_log`` itself, with no code in the model classes:

* a new object writes one ``create`` row per attribute that has a value, a deleted object one
  ``delete`` row per attribute that had a value, a changed object one row per attribute whose
  value changed (``change``; ``enable``/``disable`` for a column named ``enabled``; or the
  action a column names in ``info={"audit_action": "move"}``). An object with no such attribute
  still gets one row with ``attribute`` empty, so no creation or deletion goes unrecorded.
* the user is ``session.info["user"]`` (set by :func:`meterhub.db.transaction`), else
  ``"system"``.
* values are text: ISO 8601 for times (UTC), ``true``/``false``, JSON for lists and dicts.
* a column marked ``info={"secret": True}``, or whose name contains ``password`` or ``secret``,
  is never written in clear: ``"(changed)"`` stands for any value it had or has.
* a column marked ``info={"audit": False}`` (bookkeeping such as ``changed_at``) is skipped, as
  is a surrogate primary key (the row's ``object_id`` already names it).
* a class with ``audit_skip = True`` (bookkeeping such as login sessions, which write their own
  ``login``/``logout`` events) is not audited row by row.
* a row that is part of another object (an attribute value, a link to a segment) can subclass
  :class:`AuditedPart`: it is then recorded as one attribute of its owner, e.g. object
  ``element`` 7, attribute ``attributes.tariff``.

Rows are inserted through the flush's own connection, so they commit or roll back with the
change they describe. Bulk statements (``session.execute(update(...))``) bypass the ORM and are
not audited: operations change objects through the ORM.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Identity,
    Index,
    Integer,
    String,
    Table,
    Text,
    event,
    inspect,
    select,
)
from sqlalchemy.orm import Mapped, Session, UOWTransaction, mapped_column

from meterhub.model.base import Base
from meterhub.model.types import UTCDateTime, utcnow

#: What a secret value is recorded as, before and after a change.
MASKED = "(changed)"

#: The user recorded when the session names none.
DEFAULT_USER = "system"

#: Longest user name recorded (longer ones are cut).
USER_LENGTH = 200


class AuditLog(Base):
    """One audited change of one attribute of one object."""

    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), Identity(), primary_key=True
    )
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    #: The table of the object (``element``, ``template``, ``app_user``, ...).
    object_type: Mapped[str] = mapped_column(String(100))
    #: The object's primary key as text (``"3"``; ``"3,5"`` for a composite key).
    object_id: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(20))
    changed_by: Mapped[str] = mapped_column(String(USER_LENGTH))
    attribute: Mapped[str | None] = mapped_column(String(200))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:
        return (
            f"<AuditLog {self.action} {self.object_type}:{self.object_id} {self.attribute}"
            f" {self.old_value!r} -> {self.new_value!r} by {self.changed_by}>"
        )


class AuditedPart:
    """Mixin for a row that belongs to another object and is audited as one of its attributes.

    The owner is the object the change is shown on; creating or deleting the part is a
    ``change`` of the owner (or part of its ``create``/``delete`` when the owner is created or
    deleted in the same flush). A change of the column named by :attr:`audit_value_column` is
    recorded with its old and new value.
    """

    #: The relationship to the owner.
    audit_owner_relationship: str = ""

    #: The column whose changes are recorded as changes of the owner's attribute.
    audit_value_column: str | None = None

    def audit_owner(self) -> Any:
        """The object this row belongs to, also after it was taken out of the owner's
        collection (which clears the relationship before the flush)."""
        return previous_value(self, self.audit_owner_relationship)

    def audit_attribute(self) -> str:
        """The attribute of the owner this row stands for (``attributes.tariff``)."""
        raise NotImplementedError

    def audit_value(self) -> str | None:
        """The value this row stands for, as recorded text."""
        raise NotImplementedError


def previous_value(obj: Any, key: str) -> Any:
    """The value of attribute ``key`` of ``obj`` now, or if it was cleared in this flush, before."""
    value = getattr(obj, key)
    if value is not None:
        return value
    history = inspect(obj).attrs[key].history
    return history.deleted[0] if history.deleted else None


def audit_text(value: Any) -> str | None:
    """The text an attribute value is recorded as; ``None`` and ``""`` are no value."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, Enum):
        return audit_text(value.value)
    if isinstance(value, bytes | bytearray | memoryview):
        return f"({len(value)} bytes)"
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    text = str(value)
    return text or None


def _is_secret(key: str, column: Any) -> bool:
    if column.info.get("secret"):
        return True
    lowered = key.lower()
    return "password" in lowered or "secret" in lowered


def _audited_columns(mapper: Any) -> list[tuple[str, Any]]:
    columns = []
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        if column.info.get("audit") is False:
            continue
        if getattr(column, "primary_key", False) and not getattr(column, "foreign_keys", None):
            continue
        columns.append((prop.key, column))
    return columns


def _object_ref(obj: Any) -> tuple[str, str]:
    state = inspect(obj)
    key = state.identity or state.mapper.primary_key_from_instance(obj)
    object_id = ",".join("?" if part is None else str(part) for part in key)
    return state.mapper.local_table.name, object_id


def _value(key: str, column: Any, value: Any) -> str | None:
    text = audit_text(value)
    if text is not None and _is_secret(key, column):
        return MASKED
    return text


def _change_action(key: str, column: Any, new: Any) -> str:
    action = column.info.get("audit_action")
    if action:
        return str(action)
    if key == "enabled" and isinstance(new, bool):
        return "enable" if new else "disable"
    return "change"


def _is_audited(obj: Any) -> bool:
    return (
        isinstance(obj, Base)
        and not isinstance(obj, AuditLog)
        and not getattr(type(obj), "audit_skip", False)
    )


def _rows_for_object(obj: Any, action: str) -> list[dict[str, Any]]:
    state = inspect(obj)
    object_type, object_id = _object_ref(obj)
    rows: list[dict[str, Any]] = []
    for key, column in _audited_columns(state.mapper):
        if action == "change":
            history = state.attrs[key].history
            if not history.has_changes():
                continue
            old_raw = history.deleted[0] if history.deleted else None
            new_raw = history.added[0] if history.added else None
            old, new = _value(key, column, old_raw), _value(key, column, new_raw)
            if old == new and not (old == MASKED and old_raw != new_raw):
                continue
            rows.append(_row(object_type, object_id, _change_action(key, column, new_raw), key))
        else:
            value = _value(key, column, state.dict.get(key))
            if value is None:
                continue
            old, new = (None, value) if action == "create" else (value, None)
            rows.append(_row(object_type, object_id, action, key))
        rows[-1].update(old_value=old, new_value=new)
    if not rows and action != "change":
        rows.append(_row(object_type, object_id, action, None))
    return rows


def _rows_for_part(
    part: AuditedPart, action: str, created: set[int], deleted: set[int]
) -> list[dict[str, Any]]:
    owner = part.audit_owner()
    if owner is None:
        return []
    object_type, object_id = _object_ref(owner)
    attribute = part.audit_attribute()
    if action == "create":
        owner_action = "create" if id(owner) in created else "change"
        row = _row(object_type, object_id, owner_action, attribute)
        row.update(old_value=None, new_value=part.audit_value())
        return [row]
    if action == "delete":
        owner_action = "delete" if id(owner) in deleted else "change"
        row = _row(object_type, object_id, owner_action, attribute)
        row.update(old_value=part.audit_value(), new_value=None)
        return [row]
    if part.audit_value_column is None:
        return []
    history = inspect(part).attrs[part.audit_value_column].history
    if not history.has_changes():
        return []
    old = audit_text(history.deleted[0] if history.deleted else None)
    new = audit_text(history.added[0] if history.added else None)
    if old == new:
        return []
    row = _row(object_type, object_id, "change", attribute)
    row.update(old_value=old, new_value=new)
    return [row]


def _row(object_type: str, object_id: str, action: str, attribute: str | None) -> dict[str, Any]:
    return {
        "object_type": object_type,
        "object_id": object_id,
        "action": action,
        "attribute": attribute,
    }


def record_changes(session: Session, flush_context: UOWTransaction) -> None:
    """``after_flush`` listener: write the audit rows of everything this flush changed.

    Deleted objects come from the flush itself, which also knows the orphans that a
    ``delete-orphan`` cascade removed (``session.deleted`` lists only explicit deletions).
    """
    created = list(session.new)
    deleted = [
        state.obj()
        for state, (is_delete, list_only) in flush_context.states.items()
        if is_delete and not list_only and state.obj() is not None
    ]
    created_ids = {id(obj) for obj in created}
    deleted_ids = {id(obj) for obj in deleted}
    changed = [obj for obj in session.dirty if id(obj) not in deleted_ids]
    rows: list[dict[str, Any]] = []
    for action, objects in (("create", created), ("change", changed), ("delete", deleted)):
        for obj in objects:
            if not _is_audited(obj):
                continue
            if isinstance(obj, AuditedPart):
                rows.extend(_rows_for_part(obj, action, created_ids, deleted_ids))
            else:
                rows.extend(_rows_for_object(obj, action))
    if not rows:
        return
    now = utcnow()
    user = str(session.info.get("user") or DEFAULT_USER)[:USER_LENGTH]
    for row in rows:
        row["recorded_at"] = now
        row["changed_by"] = user
    session.connection().execute(cast(Table, AuditLog.__table__).insert(), rows)


def audit_trail(session: Session, object_type: str, object_id: Any) -> list[AuditLog]:
    """The audit rows of one object, oldest first."""
    statement = (
        select(AuditLog)
        .where(AuditLog.object_type == object_type, AuditLog.object_id == str(object_id))
        .order_by(AuditLog.id)
    )
    return list(session.scalars(statement))


if not event.contains(Session, "after_flush", record_changes):
    event.listen(Session, "after_flush", record_changes)
