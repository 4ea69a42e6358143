"""Schemas of VEE runs."""

from __future__ import annotations

import marshmallow as ma

from meterhub.webapi.extensions import Schema


class VeeRunSchema(Schema):
    """One run of a validation profile: when, over what period, what it found."""

    id = ma.fields.Integer(dump_only=True)
    profile_id = ma.fields.Integer(dump_only=True, allow_none=True)
    trigger_kind = ma.fields.String(
        dump_only=True, metadata={"description": "ingest, schedule, demand, event"}
    )
    status = ma.fields.String(
        dump_only=True,
        metadata={"description": "running, succeeded, partial, failed, interrupted"},
    )
    user_name = ma.fields.String(dump_only=True)
    started_at = ma.fields.AwareDateTime(dump_only=True)
    finished_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    period_start = ma.fields.AwareDateTime(dump_only=True)
    period_end = ma.fields.AwareDateTime(dump_only=True)
    channels_total = ma.fields.Integer(dump_only=True)
    channels_done = ma.fields.Integer(dump_only=True)
    channels_failed = ma.fields.Integer(dump_only=True)
    values_checked = ma.fields.Integer(dump_only=True)
    values_suspect = ma.fields.Integer(dump_only=True)
    values_estimated = ma.fields.Integer(dump_only=True)
    summary = ma.fields.Dict(
        dump_only=True, metadata={"description": "findings per step, failed channels"}
    )
