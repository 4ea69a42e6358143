"""Schemas of system parameters."""

from __future__ import annotations

import marshmallow as ma

from meterhub.webapi.extensions import Schema


class ParameterSchema(Schema):
    """A system parameter: its value and its definition."""

    name = ma.fields.String()
    value = ma.fields.Raw(metadata={"description": "a whole number or one of the choices"})
    default = ma.fields.Raw()
    kind = ma.fields.String(metadata={"description": "integer or choice"})
    description = ma.fields.String()
    minimum = ma.fields.Integer(allow_none=True)
    maximum = ma.fields.Integer(allow_none=True)
    choices = ma.fields.List(ma.fields.String())


class ParameterUpdateSchema(Schema):
    """A new value."""

    value = ma.fields.Raw(required=True, allow_none=False)
