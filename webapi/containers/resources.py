"""``/api/v1/containers``."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from meterhub.access import AccessContext
from meterhub.inventory import metering as ops
from meterhub.model.metering import Container, MeteringPoint
from meterhub.webapi.containers.schemas import (
    ContainerCreateSchema,
    ContainerSchema,
    ContainerUpdateSchema,
)
from meterhub.webapi.crud import Resource, reference, register_resource
from meterhub.webapi.extensions import Blueprint

blp = Blueprint("containers", __name__, url_prefix="/api/v1/containers", description="Containers")


def create(session: Session, access: AccessContext, data: dict[str, Any]) -> Container:
    """Create a container on a visible metering point."""
    point = reference(
        session,
        access,
        MeteringPoint,
        "metering_point",
        data["metering_point_id"],
        "metering_point_id",
    )
    return ops.create_container(session, metering_point=point, name=data["name"])


RESOURCE = Resource(
    name="containers",
    object_type="container",
    model=Container,
    schema=ContainerSchema,
    title="containers",
    create_schema=ContainerCreateSchema,
    update_schema=ContainerUpdateSchema,
    create=create,
    update=lambda session, access, container, data: ops.change_container(
        session, container, **data
    ),
    delete=lambda session, access, container: ops.delete_container(session, container),
    search=(Container.name,),
    default_sort="name",
)
register_resource(blp, RESOURCE)
