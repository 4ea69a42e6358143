"""Schemas of error groups and their members."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from meterhub.webapi.extensions import Schema


class ErrorGroupSchema(Schema):
    """Meters whose acquisition failed: of one run (``job``) or the clock (``time_sync``)."""

    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String(dump_only=True)
    kind = ma.fields.String(dump_only=True, metadata={"description": "job or time_sync"})
    job_id = ma.fields.Integer(dump_only=True, allow_none=True)
    run_id = ma.fields.Integer(dump_only=True, allow_none=True)
    created_at = ma.fields.AwareDateTime(dump_only=True)
    member_count = ma.fields.Method("_count", dump_only=True, metadata={"type": "integer"})

    def _count(self, group: Any) -> int:
        from sqlalchemy import func, select

        from meterhub.model.errorgroups import ErrorGroupMember
        from meterhub.webapi.security import request_session

        statement = select(func.count()).where(ErrorGroupMember.group_id == group.id)
        return int(request_session().scalar(statement) or 0)


class ErrorMemberSchema(Schema):
    """A meter in an error group with the error that put it there."""

    meter_id = ma.fields.Integer(dump_only=True)
    serial_number = ma.fields.String(dump_only=True)
    task_id = ma.fields.Integer(dump_only=True, allow_none=True)
    error_class = ma.fields.String(dump_only=True, allow_none=True)
    error_message = ma.fields.String(dump_only=True, allow_none=True)
    added_at = ma.fields.AwareDateTime(dump_only=True)
