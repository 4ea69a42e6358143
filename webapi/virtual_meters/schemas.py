"""Schemas of virtual meters."""

from __future__ import annotations

import marshmallow as ma

from meterhub.webapi.crud.fields import id_field, text
from meterhub.webapi.extensions import Schema


class VirtualMeterSchema(Schema):
    """A virtual meter (what the license counts)."""

    id = ma.fields.Integer(dump_only=True)
    metering_point_id = ma.fields.Integer()
    name = ma.fields.String()
    enabled = ma.fields.Boolean()


class VirtualMeterCreateSchema(Schema):
    """A new virtual meter."""

    metering_point_id = id_field(required=True)
    name = text(100, required=True)
    enabled = ma.fields.Boolean(load_default=True)


class VirtualMeterUpdateSchema(Schema):
    """Changes of a virtual meter."""

    name = text(100)
    enabled = ma.fields.Boolean()
