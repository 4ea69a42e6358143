"""Schemas of the communication statistics."""

from __future__ import annotations

from datetime import UTC, datetime

import marshmallow as ma

from meterhub.webapi.crud.fields import id_field
from meterhub.webapi.extensions import Schema

#: Times the query takes (older or later ones cannot be turned into buckets).
_TIMES = ma.validate.Range(
    min=datetime(1970, 1, 1, tzinfo=UTC), max=datetime(9000, 1, 1, tzinfo=UTC)
)


class StatisticsQuerySchema(Schema):
    """Which statistics to read: a level, optionally one object of it, a period, buckets."""

    level = ma.fields.String(
        load_default="summary",
        validate=ma.validate.Length(max=32),
        metadata={
            "enum": ["summary", "virtual-meter", "device", "path"],
            "description": "summary (the whole fleet; needs the function all_segments), or per "
            "virtual meter, communication device or communication path (virtual_meter is "
            "accepted too)",
        },
    )
    key = id_field(
        metadata={"description": "only this virtual meter, device or path (ignored for summary)"}
    )
    since = ma.fields.AwareDateTime(
        validate=_TIMES,
        metadata={
            "description": "buckets from this time (rounded down to its bucket); default: "
            "24 hours ago for hours, 7 days ago for days"
        },
    )
    until = ma.fields.AwareDateTime(
        validate=_TIMES,
        metadata={"description": "buckets that start before this time; default: now"},
    )
    bucket = ma.fields.String(
        load_default="hour",
        validate=ma.validate.Length(max=16),
        metadata={"enum": ["hour", "day"], "description": "hours as stored, or days summed"},
    )
    zone = ma.fields.String(
        load_default="UTC",
        validate=ma.validate.Length(max=64),
        metadata={"description": "IANA time zone of the days (bucket day)"},
    )


class StatisticRowSchema(Schema):
    """The sessions of one bucket and object."""

    bucket = ma.fields.String(
        required=True, metadata={"description": "the bucket's start, ISO 8601 with its offset"}
    )
    level = ma.fields.String(
        required=True, metadata={"description": "summary, virtual_meter, device, path"}
    )
    key = ma.fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "the virtual meter, device or path id (null for summary)"},
    )
    name = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": "point / virtual meter, device name, or meter serial with main or "
            "backup N (null for summary and for objects deleted since)"
        },
    )
    attempts = ma.fields.Integer(required=True, metadata={"description": "sessions"})
    successes = ma.fields.Integer(required=True)
    failed = ma.fields.Integer(required=True, metadata={"description": "failures, any class"})
    failures = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        required=True,
        metadata={"description": "failed sessions by error class (link, timeout, auth, ...)"},
    )
    seconds = ma.fields.Float(
        required=True, metadata={"description": "total duration of the sessions"}
    )
    mean_seconds = ma.fields.Float(
        required=True, allow_none=True, metadata={"description": "mean duration of a session"}
    )
    bytes_sent = ma.fields.Integer(required=True)
    bytes_received = ma.fields.Integer(required=True)
    backup = ma.fields.Integer(
        required=True, metadata={"description": "sessions over a backup path (priority 2+)"}
    )
    failovers = ma.fields.Integer(
        required=True,
        metadata={"description": "sessions opened because the path before lost the link"},
    )


class StatisticsSchema(Schema):
    """Statistics of one level over a period, oldest bucket first, then by key."""

    level = ma.fields.String(required=True)
    bucket = ma.fields.String(required=True)
    zone = ma.fields.String(required=True)
    since = ma.fields.AwareDateTime(required=True)
    until = ma.fields.AwareDateTime(required=True)
    rows = ma.fields.List(ma.fields.Nested(StatisticRowSchema), required=True)
