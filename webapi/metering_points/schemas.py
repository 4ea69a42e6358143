"""Schemas of metering points."""

from __future__ import annotations

import marshmallow as ma

from meterhub.model.metering import MEDIA
from meterhub.webapi.crud.fields import id_field, text
from meterhub.webapi.extensions import Schema


class MeteringPointSchema(Schema):
    """A metering point."""

    id = ma.fields.Integer(dump_only=True)
    element_id = ma.fields.Integer()
    name = ma.fields.String()
    eic = ma.fields.String(allow_none=True)
    ean = ma.fields.String(allow_none=True)
    metering_code = ma.fields.String(allow_none=True)
    medium = ma.fields.String()
    enabled = ma.fields.Boolean()


class MeteringPointCreateSchema(Schema):
    """A new metering point."""

    element_id = id_field(required=True)
    name = text(100, required=True)
    eic = text(16, allow_none=True, load_default=None)
    ean = text(18, allow_none=True, load_default=None)
    metering_code = text(64, allow_none=True, load_default=None)
    medium = ma.fields.String(load_default="electricity", validate=ma.validate.OneOf(MEDIA))


class MeteringPointUpdateSchema(Schema):
    """Changes of a metering point."""

    name = text(100)
    eic = text(16, allow_none=True)
    ean = text(18, allow_none=True)
    metering_code = text(64, allow_none=True)
    medium = ma.fields.String(validate=ma.validate.OneOf(MEDIA))
    enabled = ma.fields.Boolean()
