"""Schemas of customer scripts, their versions and trials on sample data."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from meterhub.sandbox.trial import MAX_SAMPLE_SLOTS
from meterhub.webapi.crud.fields import json_object, text
from meterhub.webapi.extensions import Schema

#: The longest script source accepted.
MAX_SOURCE = 200_000


class ScriptSchema(Schema):
    """A script: its current version with the source."""

    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String(dump_only=True)
    purpose = ma.fields.String(
        dump_only=True, metadata={"description": "check, estimate, calculate"}
    )
    version = ma.fields.Integer(dump_only=True, metadata={"description": "the current version"})
    description = ma.fields.String(dump_only=True, allow_none=True)
    source = ma.fields.Method(
        "_source", dump_only=True, metadata={"type": "string", "description": "current version"}
    )

    def _source(self, script: Any) -> str:
        current = [v for v in script.versions if v.version == script.version]
        return current[0].source if current else ""


class ScriptVersionSchema(Schema):
    """One saved version of a script."""

    version = ma.fields.Integer(dump_only=True)
    source = ma.fields.String(dump_only=True)
    saved_at = ma.fields.AwareDateTime(dump_only=True)
    saved_by = ma.fields.String(dump_only=True)
    note = ma.fields.String(dump_only=True, allow_none=True)


class ScriptCreateSchema(Schema):
    """A new script: its first version (refused unless it compiles under the sandbox's rules)."""

    name = text(100, required=True)
    purpose = ma.fields.String(
        required=True, validate=ma.validate.OneOf(["check", "estimate", "calculate"])
    )
    source = text(MAX_SOURCE, required=True)
    description = text(2000, allow_none=True, load_default=None)
    note = text(2000, allow_none=True, load_default=None)


class ScriptVersionCreateSchema(Schema):
    """The next version of a script (``PATCH``): refused unless it compiles."""

    source = text(MAX_SOURCE, required=True)
    note = text(2000, allow_none=True, load_default=None)


def _series(**kwargs: Any) -> ma.fields.List:
    return ma.fields.List(
        ma.fields.Float(allow_none=True, allow_nan=False),
        validate=ma.validate.Length(max=MAX_SAMPLE_SLOTS),
        **kwargs,
    )


class SampleSchema(Schema):
    """Sample data, as ``meterhub script test`` reads from a JSON file."""

    start = ma.fields.AwareDateTime(required=True, metadata={"description": "the first slot"})
    interval = ma.fields.Integer(load_default=15, validate=ma.validate.Range(1, 1440))
    values = _series(load_default=list, metadata={"description": "null: a missing value"})
    flags = _series(load_default=None, allow_none=True)
    history = _series(load_default=list, metadata={"description": "values before start"})
    inputs = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.Length(min=1, max=100)),
        values=_series(),
        validate=ma.validate.Length(max=50),
        load_default=dict,
        metadata={"description": "named series of a calculation script"},
    )
    parameters = json_object(load_default=dict)
    channel = json_object(load_default=dict)


class ScriptTestSchema(Schema):
    """Try a version of the script (default: the current one) on sample data."""

    sample = ma.fields.Nested(SampleSchema, required=True)
    version = ma.fields.Integer(
        load_default=None, allow_none=True, validate=ma.validate.Range(1, 2**31 - 1)
    )
    country = text(2, load_default=None, allow_none=True, metadata={"description": "ISO 3166-1"})
    tz = text(64, load_default="UTC")


class TrialSchema(Schema):
    """What the script found: per slot its result, which slots are suspect or estimated."""

    ok = ma.fields.Boolean(dump_only=True)
    error = ma.fields.String(dump_only=True, allow_none=True)
    line = ma.fields.Integer(dump_only=True, allow_none=True)
    version = ma.fields.Integer(dump_only=True)
    times = ma.fields.List(ma.fields.String(), dump_only=True)
    values = ma.fields.List(ma.fields.Float(allow_none=True), dump_only=True)
    result = ma.fields.List(ma.fields.Float(allow_none=True), dump_only=True, allow_none=True)
    suspect = ma.fields.List(ma.fields.Integer(), dump_only=True)
    estimated = ma.fields.List(ma.fields.Integer(), dump_only=True)
    reasons = ma.fields.List(ma.fields.String(), dump_only=True)
    notes = ma.fields.List(ma.fields.String(), dump_only=True)
    printed = ma.fields.String(dump_only=True)
    seconds = ma.fields.Float(dump_only=True)
