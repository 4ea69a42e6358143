"""Schemas of acquisition jobs."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from meterhub.webapi.crud.fields import INT32_MAX, id_list, text
from meterhub.webapi.extensions import Schema
from meterhub.webapi.runs.schemas import action_list

#: A whole number that fits the database (the job's checks give the real bounds).
_Int32 = ma.validate.Range(min=-INT32_MAX, max=INT32_MAX)


def _ids(method: str, what: str) -> ma.fields.Method:
    return ma.fields.Method(
        method,
        dump_only=True,
        metadata={"type": "array", "items": {"type": "integer"}, "description": what},
    )


class JobSchema(Schema):
    """A job: what to read or do (actions), on which meters (targets), when (calendar)."""

    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String()
    kind = ma.fields.String(dump_only=True, metadata={"description": "scheduled, on_demand, quick"})
    actions = ma.fields.List(
        ma.fields.Dict(),
        metadata={"description": "{action, parameters}, the parameters with their defaults"},
    )
    priority = ma.fields.Integer()
    time_zone = ma.fields.String()
    recurrence = ma.fields.String(allow_none=True, metadata={"description": "RFC 5545 RRULE"})
    starts_at = ma.fields.AwareDateTime(allow_none=True)
    window_minutes = ma.fields.Integer(allow_none=True)
    exception_dates = ma.fields.List(ma.fields.String())
    max_attempts = ma.fields.Integer()
    retry_delay = ma.fields.Integer(metadata={"description": "seconds"})
    retry_backoff = ma.fields.Float()
    session_timeout = ma.fields.Integer(metadata={"description": "seconds"})
    enabled = ma.fields.Boolean()
    created_by = ma.fields.String(dump_only=True)
    created_at = ma.fields.AwareDateTime(dump_only=True)
    next_run_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    last_run_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    meters = _ids("_meters", "meter ids")
    groups = _ids("_groups", "meter group ids")
    error_groups = _ids("_error_groups", "error group ids")

    def _meters(self, job: Any) -> list[int]:
        return list((job.targets or {}).get("meters", ()))

    def _groups(self, job: Any) -> list[int]:
        return list((job.targets or {}).get("groups", ()))

    def _error_groups(self, job: Any) -> list[int]:
        return list((job.targets or {}).get("error_groups", ()))


class _JobFields(Schema):
    """The parts of a job a request sets."""

    name = text(100)
    actions = action_list()
    meters = id_list(metadata={"description": "meter ids"})
    groups = id_list(metadata={"description": "meter group ids"})
    error_groups = id_list(metadata={"description": "error group ids"})
    recurrence = text(
        1000,
        allow_none=True,
        metadata={"description": "RFC 5545 RRULE (FREQ=DAILY;BYHOUR=1): a scheduled job"},
    )
    starts_at = ma.fields.AwareDateTime(allow_none=True)
    time_zone = text(64)
    window_minutes = ma.fields.Integer(allow_none=True, validate=_Int32)
    exception_dates = ma.fields.List(
        text(10, metadata={"description": "YYYY-MM-DD"}), validate=ma.validate.Length(max=1000)
    )
    priority = ma.fields.Integer(validate=_Int32, metadata={"description": "0 (low) to 9"})
    max_attempts = ma.fields.Integer(validate=_Int32)
    retry_delay = ma.fields.Integer(validate=_Int32)
    retry_backoff = ma.fields.Float(allow_nan=False)
    session_timeout = ma.fields.Integer(validate=_Int32)
    enabled = ma.fields.Boolean()


class JobCreateSchema(_JobFields):
    """A new job: scheduled when it has a ``recurrence``, else run on demand."""

    name = text(100, required=True)
    actions = action_list(required=True)
    meters = id_list(load_default=list, metadata={"description": "meter ids"})
    groups = id_list(load_default=list, metadata={"description": "meter group ids"})
    error_groups = id_list(load_default=list, metadata={"description": "error group ids"})


class JobUpdateSchema(_JobFields):
    """Changes of a job; the whole job is checked again. ``recurrence: null`` makes it a job
    run on demand."""
