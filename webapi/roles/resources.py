"""``/api/v1/roles``: roles with permissions per object type and functions."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, selectinload

from meterhub.access import AccessContext
from meterhub.inventory import roles as ops
from meterhub.model.roles import Role
from meterhub.webapi.crud import Resource, register_resource
from meterhub.webapi.extensions import Blueprint
from meterhub.webapi.roles.schemas import RoleCreateSchema, RoleSchema, RoleUpdateSchema

blp = Blueprint("roles", __name__, url_prefix="/api/v1/roles", description="Roles")


def create(session: Session, access: AccessContext, data: dict[str, Any]) -> Role:
    """Create a role granting no more than the acting user holds."""
    access.require_covers("the role", data["permissions"], data["functions"])
    return ops.create_role(session, data.pop("name"), **data)


def update(session: Session, access: AccessContext, role: Role, data: dict[str, Any]) -> Role:
    """Rename, describe, or replace permissions, functions, directory groups."""
    access.require_covers("the role", data.get("permissions", {}), data.get("functions", ()))
    return ops.change_role(session, role, **data)


RESOURCE = Resource(
    name="roles",
    object_type="role",
    model=Role,
    schema=RoleSchema,
    title="roles",
    create_schema=RoleCreateSchema,
    update_schema=RoleUpdateSchema,
    create=create,
    update=update,
    delete=lambda session, access, role: ops.delete_role(session, role),
    search=(Role.name,),
    exclude_filters=("directory_groups",),
    default_sort="name",
    load_options=(selectinload(Role.permission_rows), selectinload(Role.function_rows)),
)
register_resource(blp, RESOURCE)
