"""Schemas of communication devices."""

from __future__ import annotations

import marshmallow as ma

from meterhub.model.devices import DEVICE_KINDS
from meterhub.webapi.crud.fields import json_object, text
from meterhub.webapi.extensions import Schema


class DeviceSchema(Schema):
    """A modem, IP endpoint or serial port."""

    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String()
    kind = ma.fields.String()
    phone_number = ma.fields.String(allow_none=True)
    host = ma.fields.String(allow_none=True)
    port = ma.fields.Integer(allow_none=True)
    serial_port = ma.fields.String(allow_none=True)
    baud_rate = ma.fields.Integer(allow_none=True)
    settings = ma.fields.Dict()
    enabled = ma.fields.Boolean()


_PORT = ma.validate.Range(min=-(2**31), max=2**31 - 1)


class DeviceCreateSchema(Schema):
    """A new device; the fields of its kind are required (the others must be left out)."""

    name = text(100, required=True)
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(DEVICE_KINDS))
    phone_number = text(32, allow_none=True, load_default=None)
    host = text(255, allow_none=True, load_default=None)
    port = ma.fields.Integer(allow_none=True, load_default=None, validate=_PORT)
    serial_port = text(100, allow_none=True, load_default=None)
    baud_rate = ma.fields.Integer(allow_none=True, load_default=None, validate=_PORT)
    settings = json_object(load_default=dict)


class DeviceUpdateSchema(Schema):
    """Changes of a device (the kind stays)."""

    name = text(100)
    phone_number = text(32, allow_none=True)
    host = text(255, allow_none=True)
    port = ma.fields.Integer(allow_none=True, validate=_PORT)
    serial_port = text(100, allow_none=True)
    baud_rate = ma.fields.Integer(allow_none=True, validate=_PORT)
    settings = json_object()
    enabled = ma.fields.Boolean()
