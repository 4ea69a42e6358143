"""Schemas of validation profiles and of a run's request."""

from __future__ import annotations

import marshmallow as ma

from meterhub.webapi.crud.fields import id_field, id_list, json_object, text
from meterhub.webapi.extensions import Schema


class StepSchema(Schema):
    """One step: a check or estimation method (plugin or customer script) with parameters."""

    kind = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(["check", "estimate", "script_check", "script_estimate"]),
    )
    name = text(100, required=True)
    parameters = json_object(load_default=dict)


def _steps(**kwargs: object) -> ma.fields.List:
    return ma.fields.List(
        ma.fields.Nested(StepSchema),
        validate=ma.validate.Length(max=100),
        **kwargs,  # type: ignore[arg-type]
    )


class ValidationProfileSchema(Schema):
    """A validation profile: its steps in order and when it runs."""

    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String()
    description = ma.fields.String(allow_none=True)
    calendar_id = ma.fields.Integer(
        allow_none=True, metadata={"description": "day calendar of the like-day methods"}
    )
    at_ingest = ma.fields.Boolean()
    schedule = ma.fields.String(allow_none=True, metadata={"description": "RFC 5545 RRULE"})
    lookback_days = ma.fields.Integer()
    enabled = ma.fields.Boolean()
    steps = _steps()


class ValidationProfileCreateSchema(Schema):
    """A new profile; every step is checked against the installed plugins and scripts."""

    name = text(100, required=True)
    steps = _steps(required=True)
    description = text(2000, allow_none=True, load_default=None)
    calendar_id = id_field(allow_none=True, load_default=None)
    at_ingest = ma.fields.Boolean(load_default=False)
    schedule = text(200, allow_none=True, load_default=None)
    lookback_days = ma.fields.Integer(load_default=3, validate=ma.validate.Range(1, 400))


class ValidationProfileUpdateSchema(Schema):
    """Changes of a profile; ``steps`` replaces every step."""

    name = text(100)
    steps = _steps()
    description = text(2000, allow_none=True)
    calendar_id = id_field(allow_none=True)
    at_ingest = ma.fields.Boolean()
    schedule = text(200, allow_none=True)
    lookback_days = ma.fields.Integer(validate=ma.validate.Range(1, 400))
    enabled = ma.fields.Boolean()


class VeeRunRequestSchema(Schema):
    """Run a profile over ``[start, end)`` on its channels, or on ``channels``."""

    start = ma.fields.AwareDateTime(required=True)
    end = ma.fields.AwareDateTime(required=True)
    channels = id_list(
        load_default=None,
        allow_none=True,
        metadata={"description": "channel ids (default: the channels the profile is assigned to)"},
    )
