"""Schemas of job runs and of the requests that start them."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from meterhub.webapi.crud.fields import json_object, text
from meterhub.webapi.extensions import Schema


class ActionSchema(Schema):
    """One job action: its name and parameters (checked by the action's parameter model)."""

    action = text(32, required=True, metadata={"description": "read_load_profile, set_clock, ..."})
    parameters = json_object(load_default=dict)


def action_list(**kwargs: Any) -> ma.fields.List:
    """A list of job actions (at most 32)."""
    return ma.fields.List(
        ma.fields.Nested(ActionSchema), validate=ma.validate.Length(max=32), **kwargs
    )


def _percent(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


class RunSchema(Schema):
    """One run of a job: its state, task counts, progress and success."""

    id = ma.fields.Integer(dump_only=True)
    job_id = ma.fields.Integer(dump_only=True)
    job_name = ma.fields.Method("_job_name", dump_only=True, metadata={"type": "string"})
    trigger_kind = ma.fields.String(dump_only=True, metadata={"description": "schedule or user"})
    started_by = ma.fields.String(dump_only=True)
    quick = ma.fields.Boolean(dump_only=True)
    priority = ma.fields.Integer(dump_only=True)
    state = ma.fields.String(
        attribute="status",
        dump_only=True,
        metadata={"description": "queued, running, succeeded, partial, failed, cancelled"},
    )
    created_at = ma.fields.AwareDateTime(dump_only=True)
    scheduled_for = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    started_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    finished_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    window_end = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    tasks_total = ma.fields.Integer(dump_only=True)
    tasks_succeeded = ma.fields.Integer(dump_only=True)
    tasks_failed = ma.fields.Integer(dump_only=True)
    tasks_cancelled = ma.fields.Integer(dump_only=True)
    tasks_running = ma.fields.Method("_running", dump_only=True, metadata={"type": "integer"})
    progress = ma.fields.Method(
        "_progress",
        dump_only=True,
        metadata={"type": "number", "description": "% of the tasks that have ended"},
    )
    success = ma.fields.Method(
        "_success",
        dump_only=True,
        metadata={
            "type": "number",
            "nullable": True,
            "description": "% of the ended tasks that succeeded (null: none ended yet)",
        },
    )
    cancel_requested = ma.fields.Boolean(dump_only=True)
    capacity_share = ma.fields.Float(dump_only=True, allow_none=True)
    error_group_id = ma.fields.Integer(
        dump_only=True,
        allow_none=True,
        metadata={"description": "the error group of the run's failed meters"},
    )

    def _job_name(self, run: Any) -> str:
        from meterhub.model.jobs import Job
        from meterhub.webapi.security import request_session

        job = request_session().get(Job, run.job_id)
        return job.name if job is not None else ""

    def _running(self, run: Any) -> int:
        from sqlalchemy import func, select

        from meterhub.model.tasks import Task
        from meterhub.webapi.security import request_session

        statement = select(func.count()).where(Task.run_id == run.id, Task.state == "running")
        return int(request_session().scalar(statement) or 0)

    def _progress(self, run: Any) -> float:
        ended = run.tasks_succeeded + run.tasks_failed + run.tasks_cancelled
        return _percent(ended, run.tasks_total) if run.tasks_total else 100.0

    def _success(self, run: Any) -> float | None:
        ended = run.tasks_succeeded + run.tasks_failed + run.tasks_cancelled
        return _percent(run.tasks_succeeded, ended)


class QuickJobSchema(Schema):
    """A quick job: actions on one meter, run at once, first in the queue."""

    actions = action_list(required=True)


class RerunSchema(Schema):
    """Run an error group again (default: the actions of the job whose run made it)."""

    actions = action_list(load_default=None, allow_none=True)
