"""``/api/v1/groups``: meter groups."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterhub.access import AccessContext
from meterhub.inventory import groups as ops
from meterhub.model.groups import MeterGroup, MeterGroupMember
from meterhub.model.metering import VirtualMeter
from meterhub.webapi.crud import Resource, reference, register_resource
from meterhub.webapi.extensions import Blueprint
from meterhub.webapi.groups.schemas import GroupCreateSchema, GroupSchema, GroupUpdateSchema
from meterhub.webapi.security import optional_access, request_session

blp = Blueprint("groups", __name__, url_prefix="/api/v1/groups", description="Meter groups")


def visible_members(group: MeterGroup) -> list[int]:
    """The ids of the group's virtual meters the current user may see."""
    access = optional_access()
    session = request_session()
    statement = (
        select(VirtualMeter.id)
        .join(MeterGroupMember, MeterGroupMember.virtual_meter_id == VirtualMeter.id)
        .where(MeterGroupMember.group_id == group.id)
        .order_by(VirtualMeter.id)
    )
    if access is not None:
        statement = access.scope.restrict(statement, "virtual_meter")
    return list(session.scalars(statement))


def _set_members(
    session: Session, access: AccessContext, group: MeterGroup, ids: list[int]
) -> None:
    wanted = [
        reference(session, access, VirtualMeter, "virtual_meter", vid, f"members[{i}]")
        for i, vid in enumerate(ids)
    ]
    keep = {meter.id for meter in wanted}
    current = [
        meter
        for meter in session.scalars(
            access.scope.restrict(
                select(VirtualMeter)
                .join(MeterGroupMember, MeterGroupMember.virtual_meter_id == VirtualMeter.id)
                .where(MeterGroupMember.group_id == group.id),
                "virtual_meter",
            )
        )
        if meter.id not in keep
    ]
    ops.remove_members(session, group, current)
    ops.add_members(session, group, wanted)


def create(session: Session, access: AccessContext, data: dict[str, Any]) -> MeterGroup:
    """Create a group with the given (visible) virtual meters."""
    group = ops.create_group(session, name=data["name"])
    _set_members(session, access, group, data["members"])
    return group


def update(
    session: Session, access: AccessContext, group: MeterGroup, data: dict[str, Any]
) -> MeterGroup:
    """Rename the group or replace its (visible) members."""
    if "name" in data:
        ops.rename_group(session, group, data["name"])
    if "members" in data:
        _set_members(session, access, group, data["members"])
    return group


def delete(session: Session, access: AccessContext, group: MeterGroup) -> None:
    """Delete the group (the virtual meters stay)."""
    ops.delete_group(session, group)


RESOURCE = Resource(
    name="groups",
    object_type="group",
    model=MeterGroup,
    schema=GroupSchema,
    title="meter groups",
    create_schema=GroupCreateSchema,
    update_schema=GroupUpdateSchema,
    create=create,
    update=update,
    delete=delete,
    search=(MeterGroup.name,),
    default_sort="name",
)
register_resource(blp, RESOURCE)
