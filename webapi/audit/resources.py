"""``/api/v1/audit-log``: who changed what when (read only)."""

from __future__ import annotations

from meterhub.model.audit import AuditLog
from meterhub.webapi.audit.schemas import AuditSchema
from meterhub.webapi.crud import Resource, register_resource
from meterhub.webapi.extensions import Blueprint

blp = Blueprint("audit_log", __name__, url_prefix="/api/v1/audit-log", description="The audit log")

RESOURCE = Resource(
    name="audit-log",
    object_type="audit_log",
    model=AuditLog,
    schema=AuditSchema,
    title="audit log entries",
    search=(AuditLog.changed_by, AuditLog.attribute, AuditLog.new_value, AuditLog.old_value),
    default_sort="-id",
)
register_resource(blp, RESOURCE)
