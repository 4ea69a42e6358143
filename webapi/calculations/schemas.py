"""Schemas of calculations and of their runs."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from meterhub.webapi.crud.fields import Id, id_field, text
from meterhub.webapi.extensions import Schema


def _inputs(**kwargs: Any) -> ma.fields.Dict:
    return ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.Length(min=1, max=100)),
        values=ma.fields.Integer(validate=Id),
        validate=ma.validate.Length(max=100),
        metadata={"description": "input name in the formula → channel id"},
        **kwargs,
    )


class CalculationSchema(Schema):
    """A calculated channel: the formula, its inputs and the channel it computes."""

    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String()
    target_channel_id = ma.fields.Integer()
    formula = ma.fields.String()
    inputs = ma.fields.Method(
        "_inputs",
        dump_only=True,
        metadata={"type": "object", "additionalProperties": {"type": "integer"}},
    )
    tz = ma.fields.String()
    version = ma.fields.Integer(dump_only=True, metadata={"description": "counted up per save"})
    enabled = ma.fields.Boolean()
    description = ma.fields.String(allow_none=True)
    schedule = ma.fields.String(
        allow_none=True, metadata={"description": "RFC 5545 RRULE in zone tz; none: no schedule"}
    )
    lookback_days = ma.fields.Integer(
        metadata={"description": "days before each occurrence a scheduled run recomputes"}
    )
    schedule_served_at = ma.fields.AwareDateTime(
        dump_only=True, allow_none=True, metadata={"description": "last occurrence served"}
    )

    def _inputs(self, definition: Any) -> dict[str, int]:
        return {item.alias: item.channel_id for item in definition.inputs}


class CalculationCreateSchema(Schema):
    """A new calculation; the formula is checked (line, column and reason when refused)."""

    name = text(100, required=True)
    target_channel_id = id_field(required=True)
    formula = text(20_000, required=True)
    inputs = _inputs(required=True)
    tz = text(64, load_default="UTC")
    description = text(2000, allow_none=True, load_default=None)
    schedule = text(200, allow_none=True, load_default=None)
    lookback_days = ma.fields.Integer(load_default=1, validate=ma.validate.Range(1, 400))


class CalculationUpdateSchema(Schema):
    """Changes of a calculation: a change of the formula, inputs, target or zone is a new
    version, checked as a new calculation is."""

    target_channel_id = id_field()
    formula = text(20_000)
    inputs = _inputs()
    tz = text(64)
    description = text(2000, allow_none=True)
    schedule = text(200, allow_none=True)
    lookback_days = ma.fields.Integer(validate=ma.validate.Range(1, 400))
    enabled = ma.fields.Boolean()


class CalculationRunRequestSchema(Schema):
    """Compute over ``[start, end)`` (widened to whole periods of the result)."""

    start = ma.fields.AwareDateTime(required=True)
    end = ma.fields.AwareDateTime(required=True)


class CalculationRunSchema(Schema):
    """What a run wrote."""

    name = ma.fields.String(dump_only=True)
    target_channel_id = ma.fields.Integer(dump_only=True)
    start = ma.fields.AwareDateTime(dump_only=True)
    end = ma.fields.AwareDateTime(dump_only=True)
    values = ma.fields.Integer(dump_only=True, metadata={"description": "values written"})
    versions = ma.fields.Integer(dump_only=True, metadata={"description": "new block versions"})
