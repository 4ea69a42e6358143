"""``/api/v1/virtual-meters``."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from meterhub.access import AccessContext
from meterhub.inventory import metering as ops
from meterhub.model.metering import MeteringPoint, VirtualMeter
from meterhub.webapi.crud import Resource, reference, register_resource
from meterhub.webapi.extensions import Blueprint
from meterhub.webapi.virtual_meters.schemas import (
    VirtualMeterCreateSchema,
    VirtualMeterSchema,
    VirtualMeterUpdateSchema,
)

blp = Blueprint(
    "virtual_meters", __name__, url_prefix="/api/v1/virtual-meters", description="Virtual meters"
)


def create(session: Session, access: AccessContext, data: dict[str, Any]) -> VirtualMeter:
    """Create a virtual meter on a visible metering point (counted by the license)."""
    point = reference(
        session,
        access,
        MeteringPoint,
        "metering_point",
        data["metering_point_id"],
        "metering_point_id",
    )
    return ops.create_virtual_meter(
        session, metering_point=point, name=data["name"], enabled=data["enabled"]
    )


def update(
    session: Session, access: AccessContext, meter: VirtualMeter, data: dict[str, Any]
) -> VirtualMeter:
    """Rename, enable or disable."""
    if "name" in data:
        ops.change_virtual_meter(session, meter, name=data["name"])
    if "enabled" in data:
        (ops.enable if data["enabled"] else ops.disable)(session, meter)
    return meter


RESOURCE = Resource(
    name="virtual-meters",
    object_type="virtual_meter",
    model=VirtualMeter,
    schema=VirtualMeterSchema,
    title="virtual meters",
    create_schema=VirtualMeterCreateSchema,
    update_schema=VirtualMeterUpdateSchema,
    create=create,
    update=update,
    delete=lambda session, access, meter: ops.delete_virtual_meter(session, meter),
    search=(VirtualMeter.name,),
    default_sort="name",
)
register_resource(blp, RESOURCE)
