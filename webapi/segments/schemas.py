"""Schemas of data segments."""

from __future__ import annotations

import marshmallow as ma

from meterhub.webapi.crud.fields import text
from meterhub.webapi.extensions import Schema


class SegmentSchema(Schema):
    """A data segment."""

    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String()
    description = ma.fields.String(allow_none=True)


class SegmentCreateSchema(Schema):
    """A new segment (assign elements to it with the elements' ``segments``)."""

    name = text(200, required=True)
    description = text(2000, allow_none=True, load_default=None)


class SegmentUpdateSchema(Schema):
    """Changes of a segment."""

    name = text(200)
    description = text(2000, allow_none=True)
