"""Schemas of the meter data endpoints."""

from __future__ import annotations

import marshmallow as ma

from meterhub.webapi.crud.fields import Id
from meterhub.webapi.extensions import Schema

FORMATS = ("json", "csv", "parquet")
_FLAG = ma.validate.Range(min=0, max=2**32 - 1)
_CHANNELS = ma.fields.List(
    ma.fields.Integer(validate=Id), required=True, validate=ma.validate.Length(min=1, max=1000)
)


class ChannelsField(ma.fields.List):
    """A comma-separated list of channel ids in a query string (``channels=1,2,3``)."""

    def _deserialize(
        self, value: object, attr: str | None, data: object, **kwargs: object
    ) -> list[int]:
        items = [value] if isinstance(value, str) else value
        if isinstance(items, list | tuple):
            value = [
                part.strip()
                for item in items
                for part in (item.split(",") if isinstance(item, str) else [item])
                if not isinstance(part, str) or part.strip()
            ]
        return super()._deserialize(value, attr, data, **kwargs)  # type: ignore[arg-type]


def _channels() -> ChannelsField:
    return ChannelsField(
        ma.fields.Integer(validate=Id),
        required=True,
        validate=ma.validate.Length(min=1, max=1000),
        metadata={"description": "channel ids, comma separated (one interval for all)"},
    )


class _Range(Schema):
    start = ma.fields.DateTime(
        required=True,
        metadata={"description": "ISO 8601; without an offset it is wall-clock time in tz"},
    )
    end = ma.fields.DateTime(required=True)
    tz = ma.fields.String(
        load_default="UTC",
        validate=ma.validate.Length(max=64),
        metadata={"description": "IANA time zone of times without an offset and of the answer"},
    )


class IntervalQuerySchema(_Range):
    """Which interval data to read, and how."""

    channels = _channels()
    label = ma.fields.String(load_default="start", validate=ma.validate.OneOf(("start", "end")))
    layer = ma.fields.String(
        load_default="normalized", validate=ma.validate.OneOf(("raw", "normalized"))
    )
    as_of = ma.fields.AwareDateTime(
        metadata={"description": "the normalized values as they were at this instant"}
    )
    flags_all = ma.fields.Integer(load_default=0, validate=_FLAG)
    flags_any = ma.fields.Integer(load_default=0, validate=_FLAG)
    flags_none = ma.fields.Integer(load_default=0, validate=_FLAG)
    format = ma.fields.String(load_default="json", validate=ma.validate.OneOf(FORMATS))


class SeriesSchema(Schema):
    """One channel's values and flags, slot by slot."""

    id = ma.fields.Integer(required=True)
    unit = ma.fields.String(allow_none=True)
    values = ma.fields.List(ma.fields.Float(allow_none=True), required=True)
    flags = ma.fields.List(ma.fields.Integer(), required=True)
    conflict = ma.fields.List(ma.fields.Boolean(), metadata={"description": "raw reads only"})


class IntervalDataSchema(Schema):
    """Columnar interval data: slot i is ``start`` + i × ``interval_minutes`` (local dates for
    daily data)."""

    start = ma.fields.String(required=True, metadata={"description": "label of the first slot"})
    interval_minutes = ma.fields.Integer(required=True)
    slots = ma.fields.Integer(required=True)
    tz = ma.fields.String(required=True)
    label = ma.fields.String(required=True)
    layer = ma.fields.String(required=True)
    as_of = ma.fields.String(allow_none=True)
    channels = ma.fields.List(ma.fields.Nested(SeriesSchema), required=True)


class RegisterQuerySchema(_Range):
    """Which register values to read."""

    channels = _channels()
    as_of = ma.fields.AwareDateTime()
    format = ma.fields.String(load_default="json", validate=ma.validate.OneOf(FORMATS))


class RegisterDataSchema(Schema):
    """Register values as parallel arrays (times in UTC)."""

    channel_id = ma.fields.List(ma.fields.Integer(), required=True)
    time = ma.fields.List(ma.fields.String(), required=True)
    value = ma.fields.List(ma.fields.Float(allow_none=True), required=True)
    status = ma.fields.List(ma.fields.Integer(), required=True)
    normalized = ma.fields.List(ma.fields.Float(allow_none=True), required=True)
    flags = ma.fields.List(ma.fields.Integer(), required=True)
    capture_time = ma.fields.List(ma.fields.String(allow_none=True), required=True)


class ConflictQuerySchema(_Range):
    """Which conflicts to list."""

    channels = _channels()


class ConflictDataSchema(Schema):
    """Re-reads that differed from the stored raw values, as parallel arrays."""

    channel_id = ma.fields.List(ma.fields.Integer(), required=True)
    time = ma.fields.List(ma.fields.String(), required=True)
    stored_value = ma.fields.List(ma.fields.Float(allow_none=True), required=True)
    stored_status = ma.fields.List(ma.fields.Integer(), required=True)
    value = ma.fields.List(ma.fields.Float(allow_none=True), required=True)
    status = ma.fields.List(ma.fields.Integer(), required=True)
    received_at = ma.fields.List(ma.fields.String(), required=True)


class HistoryQuerySchema(Schema):
    """Which value's history."""

    channel = ma.fields.Integer(required=True, validate=Id)
    at = ma.fields.DateTime(required=True, metadata={"description": "the slot's label"})
    tz = ma.fields.String(load_default="UTC", validate=ma.validate.Length(max=64))
    label = ma.fields.String(load_default="start", validate=ma.validate.OneOf(("start", "end")))


class ValueChangeSchema(Schema):
    """One change of one value."""

    version = ma.fields.Integer()
    recorded_at = ma.fields.AwareDateTime()
    user = ma.fields.String()
    reason = ma.fields.String()
    comment = ma.fields.String(allow_none=True)
    old_value = ma.fields.Float(allow_none=True)
    new_value = ma.fields.Float(allow_none=True)
    old_flags = ma.fields.Integer(allow_none=True)
    new_flags = ma.fields.Integer(allow_none=True)


class VersionQuerySchema(_Range):
    """Which blocks' versions."""

    channel = ma.fields.Integer(required=True, validate=Id)


class VersionSchema(Schema):
    """One version of one day block."""

    channel_id = ma.fields.Integer()
    block_start = ma.fields.AwareDateTime()
    version = ma.fields.Integer()
    recorded_at = ma.fields.AwareDateTime()
    replaced_at = ma.fields.AwareDateTime(allow_none=True)
    user = ma.fields.String()
    reason = ma.fields.String()
    comment = ma.fields.String(allow_none=True)
    archived = ma.fields.Boolean()


class _Edit(Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=100))
    comment = ma.fields.String(
        allow_none=True, load_default=None, validate=ma.validate.Length(max=2000)
    )
    tz = ma.fields.String(load_default="UTC", validate=ma.validate.Length(max=64))
    label = ma.fields.String(load_default="start", validate=ma.validate.OneOf(("start", "end")))


class SubstituteSchema(_Edit):
    """Substitute values: ``values[c][i]`` for channel c, slot i from ``start``; ``null`` keeps
    the stored value. The substituted slots are flagged SUBSTITUTED and MANUAL (plus
    ``flags``)."""

    channels = _CHANNELS
    start = ma.fields.DateTime(required=True)
    values = ma.fields.List(
        ma.fields.List(
            ma.fields.Float(allow_none=True, allow_nan=False),
            validate=ma.validate.Length(min=1, max=100_000),
        ),
        required=True,
        validate=ma.validate.Length(min=1, max=1000),
    )
    flags = ma.fields.Integer(load_default=0, validate=_FLAG)


class RecalculateSchema(_Edit):
    """Rebuild normalized values from raw with the current formulas."""

    channels = _CHANNELS
    start = ma.fields.DateTime(required=True)
    end = ma.fields.DateTime(required=True)
    keep_edits = ma.fields.Boolean(load_default=True)
    reason = ma.fields.String(
        load_default="recalculation", validate=ma.validate.Length(min=1, max=100)
    )


class RestoreSchema(_Edit):
    """Write the state at ``as_of`` as a new current version."""

    channels = _CHANNELS
    start = ma.fields.DateTime(required=True)
    end = ma.fields.DateTime(required=True)
    as_of = ma.fields.AwareDateTime(required=True)
    reason = ma.fields.String(load_default="restore", validate=ma.validate.Length(min=1, max=100))


class WriteReportSchema(Schema):
    """What a write did."""

    normalized_versions = ma.fields.Integer()
    change_id = ma.fields.Integer(allow_none=True)
