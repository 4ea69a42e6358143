"""Schemas of acquisition tasks and of their debug logs."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from meterhub.webapi.extensions import Schema


class TaskSchema(Schema):
    """One action of one run on one meter: state, attempts, progress, error, what it stored."""

    id = ma.fields.Integer(dump_only=True)
    run_id = ma.fields.Integer(dump_only=True)
    job_id = ma.fields.Integer(dump_only=True)
    meter_id = ma.fields.Integer(dump_only=True)
    action = ma.fields.String(dump_only=True)
    parameters = ma.fields.Method(
        "_parameters",
        dump_only=True,
        metadata={"type": "object", "description": "the action's parameters (from the job)"},
    )
    state = ma.fields.String(
        dump_only=True,
        metadata={"description": "queued, running, retry, succeeded, failed, cancelled"},
    )
    attempts = ma.fields.Integer(dump_only=True)
    max_attempts = ma.fields.Integer(dump_only=True)
    progress = ma.fields.Integer(dump_only=True, metadata={"description": "%"})
    created_at = ma.fields.AwareDateTime(dump_only=True)
    not_before = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    started_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    finished_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    path_id = ma.fields.Integer(dump_only=True, allow_none=True)
    path_priority = ma.fields.Integer(dump_only=True, allow_none=True)
    device_id = ma.fields.Integer(dump_only=True, allow_none=True)
    error_class = ma.fields.String(
        dump_only=True,
        allow_none=True,
        metadata={"description": "timeout, no_answer, auth, clock, configuration, ..."},
    )
    error_message = ma.fields.String(dump_only=True, allow_none=True)
    warnings = ma.fields.Integer(dump_only=True)
    details = ma.fields.Dict(dump_only=True, allow_none=True)
    sessions = ma.fields.List(
        ma.fields.Integer(),
        dump_only=True,
        allow_none=True,
        metadata={"description": "ids of the sessions that served it, oldest first"},
    )

    def _parameters(self, task: Any) -> dict[str, Any]:
        from meterhub.model.jobs import Job
        from meterhub.webapi.security import request_session

        job = request_session().get(Job, task.job_id)
        if job is None or not 0 <= task.action_index < len(job.actions):
            return {}
        return dict(job.actions[task.action_index].get("parameters") or {})


class FrameSchema(Schema):
    """One entry of a debug log: a frame sent or received, or a note."""

    time = ma.fields.String(dump_only=True, metadata={"description": "ISO 8601"})
    direction = ma.fields.String(dump_only=True, metadata={"description": "sent, received, note"})
    hex = ma.fields.String(
        dump_only=True,
        metadata={"description": "the bytes in hex, secrets already replaced when recorded"},
    )
    text = ma.fields.String(dump_only=True, allow_none=True)
    masked = ma.fields.List(
        ma.fields.List(ma.fields.Integer()),
        dump_only=True,
        metadata={"description": "[start, end) byte ranges that held secrets"},
    )


class SessionTraceSchema(Schema):
    """One connection to the meter with its debug log."""

    id = ma.fields.Integer(dump_only=True)
    attempt = ma.fields.Integer(dump_only=True)
    path_id = ma.fields.Integer(dump_only=True, allow_none=True)
    path_priority = ma.fields.Integer(dump_only=True, allow_none=True)
    device_id = ma.fields.Integer(dump_only=True, allow_none=True)
    medium = ma.fields.String(dump_only=True, allow_none=True)
    started_at = ma.fields.AwareDateTime(dump_only=True)
    finished_at = ma.fields.AwareDateTime(dump_only=True)
    outcome = ma.fields.String(dump_only=True)
    error_class = ma.fields.String(dump_only=True, allow_none=True)
    error_message = ma.fields.String(dump_only=True, allow_none=True)
    bytes_sent = ma.fields.Integer(dump_only=True)
    bytes_received = ma.fields.Integer(dump_only=True)
    frames_dropped = ma.fields.Integer(dump_only=True)
    frames = ma.fields.List(
        ma.fields.Nested(FrameSchema),
        dump_only=True,
        metadata={"description": "empty when no trace was kept or retention cleared it"},
    )


class TraceSchema(Schema):
    """The debug log of a task: its sessions, oldest first."""

    task_id = ma.fields.Integer(dump_only=True)
    sessions = ma.fields.List(ma.fields.Nested(SessionTraceSchema), dump_only=True)
