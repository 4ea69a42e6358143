"""Schemas of meters, their credentials and assignments."""

from __future__ import annotations

import marshmallow as ma

from meterhub.webapi.crud.fields import id_field, json_object, text
from meterhub.webapi.extensions import Schema


class MeterSchema(Schema):
    """A physical meter; its credentials are never returned, only whether it has some."""

    id = ma.fields.Integer(dump_only=True)
    manufacturer = ma.fields.String()
    serial_number = ma.fields.String()
    model = ma.fields.String(allow_none=True)
    driver = ma.fields.String()
    driver_settings = ma.fields.Dict()
    enabled = ma.fields.Boolean()
    has_credentials = ma.fields.Method("_has_credentials", dump_only=True)

    def _has_credentials(self, meter: object) -> bool:
        return getattr(meter, "credentials_encrypted", None) is not None


class MeterCreateSchema(Schema):
    """A new meter (credentials are set separately, PUT .../credentials)."""

    manufacturer = text(64, required=True)
    serial_number = text(64, required=True)
    driver = text(64, required=True)
    model = text(64, allow_none=True, load_default=None)
    driver_settings = json_object(load_default=dict)
    enabled = ma.fields.Boolean(load_default=True)


class MeterUpdateSchema(Schema):
    """Changes of a meter."""

    model = text(64, allow_none=True)
    driver_settings = json_object()
    enabled = ma.fields.Boolean()


class CredentialsSchema(Schema):
    """New secrets of a meter, replacing the old ones (empty: remove them)."""

    credentials = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.Length(min=1, max=64)),
        values=ma.fields.String(validate=ma.validate.Length(min=1, max=1000)),
        required=True,
    )


class AssignmentSchema(Schema):
    """Which virtual meter a meter served, when."""

    id = ma.fields.Integer(dump_only=True)
    meter_id = ma.fields.Integer(dump_only=True)
    virtual_meter_id = ma.fields.Integer(dump_only=True)
    valid_from = ma.fields.AwareDateTime(dump_only=True)
    valid_to = ma.fields.AwareDateTime(dump_only=True, allow_none=True)


class AssignSchema(Schema):
    """Let the meter serve a virtual meter from a time on (a meter exchange)."""

    virtual_meter_id = id_field(required=True)
    valid_from = ma.fields.AwareDateTime(required=True)
