"""Schemas of the audit log."""

from __future__ import annotations

import marshmallow as ma

from meterhub.webapi.extensions import Schema


class AuditSchema(Schema):
    """One audited change or event."""

    id = ma.fields.Integer()
    recorded_at = ma.fields.AwareDateTime()
    object_type = ma.fields.String()
    object_id = ma.fields.String()
    action = ma.fields.String()
    changed_by = ma.fields.String()
    attribute = ma.fields.String(allow_none=True)
    old_value = ma.fields.String(allow_none=True)
    new_value = ma.fields.String(allow_none=True)
