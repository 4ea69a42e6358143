"""``/api/v1/metering-points``."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from meterhub.access import AccessContext
from meterhub.inventory import metering as ops
from meterhub.model.elements import Element
from meterhub.model.metering import MeteringPoint
from meterhub.webapi.crud import Resource, reference, register_resource
from meterhub.webapi.extensions import Blueprint
from meterhub.webapi.metering_points.schemas import (
    MeteringPointCreateSchema,
    MeteringPointSchema,
    MeteringPointUpdateSchema,
)

blp = Blueprint(
    "metering_points",
    __name__,
    url_prefix="/api/v1/metering-points",
    description="Metering points (EIC, EAN, metering code)",
)


def create(session: Session, access: AccessContext, data: dict[str, Any]) -> MeteringPoint:
    """Create a metering point on a visible element."""
    element = reference(session, access, Element, "element", data.pop("element_id"), "element_id")
    return ops.create_metering_point(session, element=element, **data)


def update(
    session: Session, access: AccessContext, point: MeteringPoint, data: dict[str, Any]
) -> MeteringPoint:
    """Change names, identifiers, medium, enabled."""
    enabled = data.pop("enabled", None)
    ops.change_metering_point(session, point, **data)
    if enabled is not None:
        (ops.enable if enabled else ops.disable)(session, point)
    return point


RESOURCE = Resource(
    name="metering-points",
    object_type="metering_point",
    model=MeteringPoint,
    schema=MeteringPointSchema,
    title="metering points",
    create_schema=MeteringPointCreateSchema,
    update_schema=MeteringPointUpdateSchema,
    create=create,
    update=update,
    delete=lambda session, access, point: ops.delete_metering_point(session, point),
    search=(
        MeteringPoint.name,
        MeteringPoint.eic,
        MeteringPoint.ean,
        MeteringPoint.metering_code,
    ),
    default_sort="name",
)
register_resource(blp, RESOURCE)
