"""Schemas of users."""

from __future__ import annotations

import marshmallow as ma

from meterhub.model.users import USER_SOURCES
from meterhub.webapi.crud.fields import id_list, text
from meterhub.webapi.extensions import Schema


class UserSchema(Schema):
    """A named user (never the password or its hash)."""

    id = ma.fields.Integer(dump_only=True)
    username = ma.fields.String()
    display_name = ma.fields.String(allow_none=True)
    email = ma.fields.String(allow_none=True)
    language = ma.fields.String()
    time_zone = ma.fields.String()
    source = ma.fields.String()
    enabled = ma.fields.Boolean()
    locked = ma.fields.Method("_locked", dump_only=True, metadata={"type": "boolean"})
    locked_at = ma.fields.AwareDateTime(allow_none=True)
    last_login_at = ma.fields.AwareDateTime(allow_none=True)
    password_changed_at = ma.fields.AwareDateTime(allow_none=True)
    created_at = ma.fields.AwareDateTime()
    roles = ma.fields.Method(
        "_roles", dump_only=True, metadata={"type": "array", "items": {"type": "integer"}}
    )
    segments = ma.fields.Method(
        "_segments", dump_only=True, metadata={"type": "array", "items": {"type": "integer"}}
    )

    def _locked(self, user: object) -> bool:
        return getattr(user, "locked_at", None) is not None

    def _roles(self, user: object) -> list[int]:
        return sorted(link.role_id for link in getattr(user, "role_links", []))

    def _segments(self, user: object) -> list[int]:
        return sorted(link.segment_id for link in getattr(user, "segment_links", []))


class ProfileFields(Schema):
    """What a user may change of their own profile."""

    display_name = text(200, allow_none=True)
    email = text(254, allow_none=True)
    language = text(35)
    time_zone = text(64)


class UserCreateSchema(ProfileFields):
    """A new user."""

    username = text(100, required=True)
    password = ma.fields.String(
        load_only=True,
        allow_none=True,
        load_default=None,
        validate=ma.validate.Length(max=1024),
        metadata={"description": "the first password (none for a directory user)"},
    )
    source = ma.fields.String(load_default="local", validate=ma.validate.OneOf(USER_SOURCES))
    roles = id_list(load_default=list)
    segments = id_list(load_default=list)


class UserUpdateSchema(ProfileFields):
    """Changes of a user."""

    enabled = ma.fields.Boolean()
    roles = id_list(metadata={"description": "the user's roles (replaces the list)"})
    segments = id_list(metadata={"description": "the segments granted (replaces the list)"})


class PasswordResetSchema(Schema):
    """A new password set by an administrator."""

    password = ma.fields.String(
        required=True, load_only=True, validate=ma.validate.Length(max=1024)
    )
