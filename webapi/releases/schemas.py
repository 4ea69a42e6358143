"""Schemas of billing releases."""

from __future__ import annotations

import marshmallow as ma

from meterhub.webapi.crud.fields import id_field, text
from meterhub.webapi.extensions import Schema


class ReleaseSchema(Schema):
    """A channel's period released for billing (revoked when a released value changed)."""

    id = ma.fields.Integer(dump_only=True)
    channel_id = ma.fields.Integer(dump_only=True)
    period_start = ma.fields.AwareDateTime(dump_only=True)
    period_end = ma.fields.AwareDateTime(dump_only=True)
    released_at = ma.fields.AwareDateTime(dump_only=True)
    released_by = ma.fields.String(dump_only=True)
    note = ma.fields.String(dump_only=True, allow_none=True)
    active = ma.fields.Boolean(dump_only=True)
    revoked_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    revoked_by = ma.fields.String(dump_only=True, allow_none=True)
    revoke_reason = ma.fields.String(dump_only=True, allow_none=True)


class ReleaseCreateSchema(Schema):
    """Release ``[start, end)`` of a channel: every interval validated, plausible, present."""

    channel_id = id_field(required=True)
    start = ma.fields.AwareDateTime(required=True)
    end = ma.fields.AwareDateTime(required=True)
    note = text(2000, allow_none=True, load_default=None)
