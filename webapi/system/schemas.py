"""Schemas of the system information resource."""

from __future__ import annotations

from marshmallow import Schema, fields


class LicenseSchema(Schema):
    """The license in force."""

    customer = fields.String(required=True)
    license_id = fields.String(required=True)
    development = fields.Boolean(required=True)
    expires = fields.Date(allow_none=True)
    limits = fields.Dict(keys=fields.String(), values=fields.Integer())
    features = fields.List(fields.String())


class PluginSchema(Schema):
    """One discovered plugin and what became of it."""

    group = fields.String(required=True)
    name = fields.String(required=True)
    distribution = fields.String(allow_none=True)
    version = fields.String(allow_none=True)
    feature = fields.String(allow_none=True)
    status = fields.String(required=True)
    reason = fields.String(allow_none=True)


class SystemInfoSchema(Schema):
    """Version, license and plugins of this MeterHub."""

    version = fields.String(required=True)
    database = fields.String(required=True)
    license = fields.Nested(LicenseSchema, required=True)
    plugins = fields.List(fields.Nested(PluginSchema), required=True)
