"""Schemas of channels."""

from __future__ import annotations

import marshmallow as ma

from meterhub.model.metering import CHANNEL_KINDS, PROFILE_INTERVALS
from meterhub.webapi.crud.fields import id_field, text
from meterhub.webapi.extensions import Schema


class ChannelSchema(Schema):
    """A channel of a virtual meter."""

    id = ma.fields.Integer(dump_only=True)
    virtual_meter_id = ma.fields.Integer()
    obis = ma.fields.String()
    name = ma.fields.String()
    unit = ma.fields.String(allow_none=True)
    scaler = ma.fields.Integer()
    interval_minutes = ma.fields.Integer()
    kind = ma.fields.String()
    enabled = ma.fields.Boolean()


class ChannelCreateSchema(Schema):
    """A new channel."""

    virtual_meter_id = id_field(required=True)
    obis = text(32, required=True)
    kind = ma.fields.String(load_default="profile", validate=ma.validate.OneOf(CHANNEL_KINDS))
    interval_minutes = ma.fields.Integer(
        allow_none=True, load_default=None, validate=ma.validate.OneOf(PROFILE_INTERVALS)
    )
    unit = text(16, allow_none=True, load_default=None)
    scaler = ma.fields.Integer(load_default=0, validate=ma.validate.Range(-128, 127))
    name = text(100, allow_none=True, load_default=None)


class ChannelUpdateSchema(Schema):
    """Changes of a channel (OBIS code, kind and interval stay)."""

    name = text(100)
    unit = text(16, allow_none=True)
    scaler = ma.fields.Integer(validate=ma.validate.Range(-128, 127))
    enabled = ma.fields.Boolean()
