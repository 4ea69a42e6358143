"""Schemas of templates and their attributes."""

from __future__ import annotations

import marshmallow as ma

from meterhub.model.templates import VALUE_TYPES
from meterhub.webapi.crud.fields import text
from meterhub.webapi.extensions import Schema


class AttributeSchema(Schema):
    """A typed attribute of a template."""

    name = ma.fields.String()
    value_type = ma.fields.String()
    required = ma.fields.Boolean()
    default_value = ma.fields.String(allow_none=True)
    choices = ma.fields.List(ma.fields.String(), allow_none=True)
    unit = ma.fields.String(allow_none=True)
    description = ma.fields.String(allow_none=True)


class TemplateSchema(Schema):
    """A template with its attributes."""

    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String()
    kind = ma.fields.String(allow_none=True)
    description = ma.fields.String(allow_none=True)
    attributes = ma.fields.List(ma.fields.Nested(AttributeSchema), dump_only=True)


class TemplateCreateSchema(Schema):
    """A new template (add attributes with POST .../attributes)."""

    name = text(200, required=True)
    kind = text(100, allow_none=True, load_default=None)
    description = text(2000, allow_none=True, load_default=None)


class TemplateUpdateSchema(Schema):
    """Changes of a template."""

    name = text(200)
    kind = text(100, allow_none=True)
    description = text(2000, allow_none=True)


_CHOICES = ma.fields.List(
    ma.fields.String(validate=ma.validate.Length(max=1000)),
    allow_none=True,
    validate=ma.validate.Length(max=1000),
)


class AttributeCreateSchema(Schema):
    """A new attribute; with a default, every instance gets that value."""

    name = text(100, required=True)
    value_type = ma.fields.String(required=True, validate=ma.validate.OneOf(VALUE_TYPES))
    required = ma.fields.Boolean(load_default=False)
    default = ma.fields.Raw(allow_none=True, load_default=None)
    choices = _CHOICES
    unit = text(50, allow_none=True, load_default=None)
    description = text(2000, allow_none=True, load_default=None)


class AttributeUpdateSchema(Schema):
    """Changes of an attribute; instance values are converted (or the change refused)."""

    new_name = text(100)
    value_type = ma.fields.String(validate=ma.validate.OneOf(VALUE_TYPES))
    required = ma.fields.Boolean()
    default = ma.fields.Raw(allow_none=True)
    choices = _CHOICES
    unit = text(50, allow_none=True)
    description = text(2000, allow_none=True)
