"""Schemas of login, logout and the own profile."""

from __future__ import annotations

import marshmallow as ma

from meterhub.webapi.extensions import Schema
from meterhub.webapi.users.schemas import ProfileFields, UserSchema


class LoginSchema(Schema):
    """User name and password."""

    username = ma.fields.String(required=True, validate=ma.validate.Length(max=200))
    password = ma.fields.String(
        required=True, load_only=True, validate=ma.validate.Length(max=1024)
    )


class MeSchema(Schema):
    """The logged-in user, what they may do, and how they are logged in."""

    user = ma.fields.Nested(UserSchema, required=True)
    permissions = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={"description": "object type -> the actions allowed"},
    )
    functions = ma.fields.List(ma.fields.String())
    via = ma.fields.String(metadata={"description": "session, token or system"})
    password_change_only = ma.fields.Boolean()
    all_segments = ma.fields.Boolean()


class LoginResultSchema(MeSchema):
    """A successful login."""

    csrf_token = ma.fields.String(
        metadata={"description": "send it in X-CSRF-Token with every request that changes data"}
    )
    expires_at = ma.fields.AwareDateTime()
    password_expired = ma.fields.Boolean()
    password_warning_days = ma.fields.Integer(
        allow_none=True, metadata={"description": "days until the password expires, if soon"}
    )


class ProfileUpdateSchema(ProfileFields):
    """Changes of the own profile."""


class PasswordChangeSchema(Schema):
    """The current and a new password."""

    current_password = ma.fields.String(
        required=True, load_only=True, validate=ma.validate.Length(max=1024)
    )
    new_password = ma.fields.String(
        required=True, load_only=True, validate=ma.validate.Length(max=1024)
    )
