"""Schemas of elements."""

from __future__ import annotations

import marshmallow as ma

from meterhub.webapi.crud.fields import id_field, id_list, json_object, text
from meterhub.webapi.extensions import Schema


class ElementSchema(Schema):
    """An element of the business tree."""

    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String()
    path = ma.fields.String(dump_only=True, metadata={"description": "names from the root down"})
    parent_id = ma.fields.Integer(allow_none=True)
    template_id = ma.fields.Integer()
    enabled = ma.fields.Boolean()
    valid_from = ma.fields.AwareDateTime()
    valid_to = ma.fields.AwareDateTime(allow_none=True)
    attributes = ma.fields.Method(
        "_attributes", dump_only=True, metadata={"description": "attribute values as text"}
    )
    segments = ma.fields.Method(
        "_segments", dump_only=True, metadata={"description": "ids of the segments assigned"}
    )
    created_at = ma.fields.AwareDateTime(dump_only=True)
    changed_at = ma.fields.AwareDateTime(dump_only=True)

    def _attributes(self, element: object) -> dict[str, str]:
        rows = getattr(element, "attribute_values", [])
        return {row.template_attribute.name: row.value for row in rows}

    def _segments(self, element: object) -> list[int]:
        return sorted(link.segment_id for link in getattr(element, "segment_links", []))


class ElementCreateSchema(Schema):
    """A new element."""

    name = text(200, required=True)
    template_id = id_field(required=True)
    parent_id = id_field(allow_none=True, load_default=None)
    attributes = json_object(load_default=dict)
    valid_from = ma.fields.AwareDateTime(allow_none=True, load_default=None)
    valid_to = ma.fields.AwareDateTime(allow_none=True, load_default=None)
    segments = id_list(load_default=list)


class ElementUpdateSchema(Schema):
    """Changes of an element; fields left out stay."""

    name = text(200)
    parent_id = id_field(allow_none=True, metadata={"description": "move under this element"})
    attributes = json_object(metadata={"description": "values to set; null removes one"})
    valid_from = ma.fields.AwareDateTime()
    valid_to = ma.fields.AwareDateTime(allow_none=True)
    enabled = ma.fields.Boolean()
    segments = id_list(metadata={"description": "the segments assigned (replaces the list)"})
