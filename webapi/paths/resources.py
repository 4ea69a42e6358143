"""``/api/v1/communication-paths``."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from meterhub.access import AccessContext
from meterhub.inventory import devices as ops
from meterhub.model.devices import CommunicationDevice, CommunicationPath
from meterhub.model.meters import Meter
from meterhub.webapi.crud import Resource, reference, register_resource
from meterhub.webapi.extensions import Blueprint
from meterhub.webapi.paths.schemas import PathCreateSchema, PathSchema, PathUpdateSchema

blp = Blueprint(
    "communication_paths",
    __name__,
    url_prefix="/api/v1/communication-paths",
    description="Communication paths of meters (main, backup)",
)


def create(session: Session, access: AccessContext, data: dict[str, Any]) -> CommunicationPath:
    """Reach a visible meter through a visible device."""
    meter = reference(session, access, Meter, "meter", data["meter_id"], "meter_id")
    device = reference(
        session, access, CommunicationDevice, "communication_device", data["device_id"], "device_id"
    )
    return ops.add_path(
        session, meter, device, data["priority"], data["address"], settings=data["settings"]
    )


RESOURCE = Resource(
    name="communication-paths",
    object_type="communication_path",
    model=CommunicationPath,
    schema=PathSchema,
    title="communication paths",
    create_schema=PathCreateSchema,
    update_schema=PathUpdateSchema,
    create=create,
    update=lambda session, access, path, data: ops.change_path(session, path, **data),
    delete=lambda session, access, path: ops.remove_path(session, path),
    search=(CommunicationPath.address,),
    exclude_filters=(),
)
register_resource(blp, RESOURCE)
