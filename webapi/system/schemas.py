"""Schemas of the system information resource."""

from __future__ import annotations

from marshmallow import fields

from meterhub.webapi.extensions import Schema


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
    """Version, and for a logged-in user the database, license and plugins."""

    version = fields.String(required=True)
    database = fields.String(metadata={"description": "shown to a logged-in user"})
    license = fields.Nested(LicenseSchema, metadata={"description": "shown to a logged-in user"})
    plugins = fields.List(
        fields.Nested(PluginSchema), metadata={"description": "shown to a logged-in user"}
    )
