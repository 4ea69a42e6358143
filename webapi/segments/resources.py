"""``/api/v1/segments``: data segments."""

from __future__ import annotations

from meterhub.inventory import segments as ops
from meterhub.model.segments import DataSegment
from meterhub.webapi.crud import Resource, register_resource
from meterhub.webapi.extensions import Blueprint
from meterhub.webapi.segments.schemas import (
    SegmentCreateSchema,
    SegmentSchema,
    SegmentUpdateSchema,
)

blp = Blueprint("segments", __name__, url_prefix="/api/v1/segments", description="Data segments")

RESOURCE = Resource(
    name="segments",
    object_type="segment",
    model=DataSegment,
    schema=SegmentSchema,
    title="data segments",
    create_schema=SegmentCreateSchema,
    update_schema=SegmentUpdateSchema,
    create=lambda session, access, data: ops.create_segment(session, data.pop("name"), **data),
    update=lambda session, access, segment, data: ops.change_segment(session, segment, **data),
    delete=lambda session, access, segment: ops.delete_segment(session, segment),
    search=(DataSegment.name,),
    default_sort="name",
)
register_resource(blp, RESOURCE)
