"""Schemas of API tokens."""

from __future__ import annotations

import marshmallow as ma

from meterhub.webapi.crud.fields import id_list, text
from meterhub.webapi.extensions import Schema


class TokenSchema(Schema):
    """An API token (never the token itself, only its first characters)."""

    id = ma.fields.Integer(dump_only=True)
    user_id = ma.fields.Integer()
    name = ma.fields.String()
    prefix = ma.fields.String(metadata={"description": "the token's first characters"})
    created_at = ma.fields.AwareDateTime()
    expires_at = ma.fields.AwareDateTime()
    last_used_at = ma.fields.AwareDateTime(allow_none=True)
    revoked_at = ma.fields.AwareDateTime(allow_none=True)
    roles = ma.fields.Method(
        "_roles",
        dump_only=True,
        metadata={
            "type": "array",
            "items": {"type": "integer"},
            "description": "the roles the token is limited to (empty: all the user's roles)",
        },
    )

    def _roles(self, token: object) -> list[int]:
        return sorted(link.role_id for link in getattr(token, "role_links", []))


class NewTokenSchema(TokenSchema):
    """A token just created: the only time the token itself is shown."""

    token = ma.fields.String(
        attribute="plain", metadata={"description": "the bearer token; shown this once"}
    )


class TokenCreateSchema(Schema):
    """A new token for the acting user."""

    name = text(100, required=True)
    expires_at = ma.fields.AwareDateTime(
        allow_none=True, load_default=None, metadata={"description": "default: token.max_days"}
    )
    roles = id_list(load_default=list, metadata={"description": "limit to these of your roles"})
