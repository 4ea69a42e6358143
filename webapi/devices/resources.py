"""``/api/v1/communication-devices``."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from meterhub.access import AccessContext
from meterhub.inventory import devices as ops
from meterhub.inventory import metering as metering_ops
from meterhub.model.devices import CommunicationDevice
from meterhub.webapi.crud import Resource, register_resource
from meterhub.webapi.devices.schemas import DeviceCreateSchema, DeviceSchema, DeviceUpdateSchema
from meterhub.webapi.extensions import Blueprint

blp = Blueprint(
    "communication_devices",
    __name__,
    url_prefix="/api/v1/communication-devices",
    description="Communication devices: modems, IP endpoints, serial ports",
)


def update(
    session: Session, access: AccessContext, device: CommunicationDevice, data: dict[str, Any]
) -> CommunicationDevice:
    """Change the device's addresses or settings, enable or disable it."""
    enabled = data.pop("enabled", None)
    ops.change_device(session, device, **data)
    if enabled is not None:
        (metering_ops.enable if enabled else metering_ops.disable)(session, device)
    return device


RESOURCE = Resource(
    name="communication-devices",
    object_type="communication_device",
    model=CommunicationDevice,
    schema=DeviceSchema,
    title="communication devices",
    create_schema=DeviceCreateSchema,
    update_schema=DeviceUpdateSchema,
    create=lambda session, access, data: ops.create_device(session, **data),
    update=update,
    delete=lambda session, access, device: ops.delete_device(session, device),
    search=(
        CommunicationDevice.name,
        CommunicationDevice.host,
        CommunicationDevice.phone_number,
    ),
    default_sort="name",
)
register_resource(blp, RESOURCE)
