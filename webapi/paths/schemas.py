"""Schemas of communication paths."""

from __future__ import annotations

import marshmallow as ma

from meterhub.webapi.crud.fields import id_field, json_object, text
from meterhub.webapi.extensions import Schema

_PRIORITY = ma.validate.Range(min=-(2**31), max=2**31 - 1)


class PathSchema(Schema):
    """One way to reach a meter; priority 1 is the main path."""

    id = ma.fields.Integer(dump_only=True)
    meter_id = ma.fields.Integer()
    device_id = ma.fields.Integer()
    priority = ma.fields.Integer()
    address = ma.fields.String(allow_none=True)
    settings = ma.fields.Dict()


class PathCreateSchema(Schema):
    """A new path."""

    meter_id = id_field(required=True)
    device_id = id_field(required=True)
    priority = ma.fields.Integer(required=True, validate=_PRIORITY)
    address = text(64, allow_none=True, load_default=None)
    settings = json_object(load_default=dict)


class PathUpdateSchema(Schema):
    """Changes of a path."""

    priority = ma.fields.Integer(validate=_PRIORITY)
    address = text(64, allow_none=True)
    settings = json_object()
