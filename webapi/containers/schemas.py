"""Schemas of containers."""

from __future__ import annotations

import marshmallow as ma

from meterhub.webapi.crud.fields import id_field, text
from meterhub.webapi.extensions import Schema


class ContainerSchema(Schema):
    """A container of processed data of a metering point."""

    id = ma.fields.Integer(dump_only=True)
    metering_point_id = ma.fields.Integer()
    name = ma.fields.String()


class ContainerCreateSchema(Schema):
    """A new container."""

    metering_point_id = id_field(required=True)
    name = text(100, required=True)


class ContainerUpdateSchema(Schema):
    """Changes of a container."""

    name = text(100)
