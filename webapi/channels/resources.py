"""``/api/v1/channels``."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from meterhub.access import AccessContext
from meterhub.inventory import metering as ops
from meterhub.model.metering import Channel, VirtualMeter
from meterhub.webapi.channels.schemas import ChannelCreateSchema, ChannelSchema, ChannelUpdateSchema
from meterhub.webapi.crud import Resource, reference, register_resource
from meterhub.webapi.extensions import Blueprint

blp = Blueprint("channels", __name__, url_prefix="/api/v1/channels", description="Channels")


def create(session: Session, access: AccessContext, data: dict[str, Any]) -> Channel:
    """Add a channel to a visible virtual meter."""
    meter = reference(
        session,
        access,
        VirtualMeter,
        "virtual_meter",
        data.pop("virtual_meter_id"),
        "virtual_meter_id",
    )
    return ops.add_channel(session, virtual_meter=meter, **data)


def update(
    session: Session, access: AccessContext, channel: Channel, data: dict[str, Any]
) -> Channel:
    """Rename, change unit or scaler, enable or disable."""
    enabled = data.pop("enabled", None)
    ops.change_channel(session, channel, **data)
    if enabled is not None:
        (ops.enable if enabled else ops.disable)(session, channel)
    return channel


RESOURCE = Resource(
    name="channels",
    object_type="channel",
    model=Channel,
    schema=ChannelSchema,
    title="channels",
    create_schema=ChannelCreateSchema,
    update_schema=ChannelUpdateSchema,
    create=create,
    update=update,
    delete=lambda session, access, channel: ops.delete_channel(session, channel),
    search=(Channel.name, Channel.obis),
)
register_resource(blp, RESOURCE)
