"""Schemas of the quick search."""

from __future__ import annotations

import marshmallow as ma

from meterhub.webapi.extensions import Schema


class SearchArguments(Schema):
    """What to look for."""

    q = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    limit = ma.fields.Integer(
        load_default=20,
        validate=ma.validate.Range(min=1, max=200),
        metadata={"description": "hits per object type"},
    )


class HitSchema(Schema):
    """One object found."""

    object_type = ma.fields.String(required=True)
    id = ma.fields.Integer(required=True)
    label = ma.fields.String(required=True, metadata={"description": "what to show"})
    matched = ma.fields.String(required=True, metadata={"description": "the column that matched"})


class SearchResultSchema(Schema):
    """The hits, by object type."""

    hits = ma.fields.List(ma.fields.Nested(HitSchema), required=True)
