"""Schemas of roles."""

from __future__ import annotations

import marshmallow as ma

from meterhub.access.catalog import ACTIONS
from meterhub.webapi.crud.fields import text
from meterhub.webapi.extensions import Schema

_ACTIONS = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(ACTIONS)))


def _permissions(**kwargs: object) -> ma.fields.Dict:
    return ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.Length(max=50)),
        values=_ACTIONS,
        metadata={
            "description": (
                "object type -> actions (view, create, edit, delete); delete needs edit, create "
                "and view; create and edit need view"
            )
        },
        **kwargs,  # type: ignore[arg-type]
    )


def _names(**kwargs: object) -> ma.fields.List:
    return ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(max=200)),
        validate=ma.validate.Length(max=100),
        **kwargs,  # type: ignore[arg-type]
    )


class RoleSchema(Schema):
    """A role: permissions per object type, functions, directory groups."""

    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String()
    description = ma.fields.String(allow_none=True)
    permissions = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.List(ma.fields.String()))
    functions = ma.fields.List(ma.fields.String())
    directory_groups = ma.fields.List(ma.fields.String())


class RoleCreateSchema(Schema):
    """A new role."""

    name = text(100, required=True)
    description = text(2000, allow_none=True, load_default=None)
    permissions = _permissions(load_default=dict)
    functions = _names(load_default=list)
    directory_groups = _names(load_default=list)


class RoleUpdateSchema(Schema):
    """Changes of a role; permissions and functions replace the old sets."""

    name = text(100)
    description = text(2000, allow_none=True)
    permissions = _permissions()
    functions = _names()
    directory_groups = _names()
