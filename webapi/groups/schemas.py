"""Schemas of meter groups."""

from __future__ import annotations

import marshmallow as ma

from meterhub.webapi.crud.fields import id_list, text
from meterhub.webapi.extensions import Schema


class GroupSchema(Schema):
    """A named set of virtual meters (only the members the user may see are listed)."""

    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String()
    members = ma.fields.Method(
        "_members",
        dump_only=True,
        metadata={
            "description": "virtual meter ids",
            "type": "array",
            "items": {"type": "integer"},
        },
    )

    def _members(self, group: object) -> list[int]:
        from meterhub.webapi.groups.resources import visible_members

        return visible_members(group)  # type: ignore[arg-type]


class GroupCreateSchema(Schema):
    """A new group."""

    name = text(100, required=True)
    members = id_list(load_default=list)


class GroupUpdateSchema(Schema):
    """Changes of a group; ``members`` replaces the visible members."""

    name = text(100)
    members = id_list()
