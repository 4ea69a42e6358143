"""Audit log rows for what is not a change of a table row: logins, logouts, lockouts, token use,
meter data edits.

They go into the same ``audit_log`` table as the attribute changes (:mod:`meterhub.model.audit`)
within the caller's transaction, with the acting user in ``changed_by``.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table
from sqlalchemy.orm import Session

from meterhub.model.audit import USER_LENGTH, AuditLog
from meterhub.model.types import utcnow

#: The actions written here (besides create/change/delete/... of the attribute changes).
EVENT_ACTIONS: tuple[str, ...] = (
    "login",
    "login_failed",
    "login_refused",
    "lockout",
    "unlock",
    "logout",
    "password_reset",
    "token_revoked",
    "credentials_set",
    "values_edited",
    "recalculated",
    "restored",
)


def record_event(
    session: Session,
    *,
    action: str,
    object_type: str,
    object_id: object,
    user: str,
    attribute: str | None = None,
    old_value: str | None = None,
    new_value: str | None = None,
) -> None:
    """Write one audit row for ``action`` on the object, by ``user``, in the session's
    transaction (it commits or rolls back with it)."""
    row = {
        "recorded_at": utcnow(),
        "object_type": object_type,
        "object_id": str(object_id),
        "action": action,
        "changed_by": (user or "anonymous")[:USER_LENGTH],
        "attribute": attribute,
        "old_value": old_value,
        "new_value": new_value,
    }
    session.connection().execute(cast(Table, AuditLog.__table__).insert(), [row])
