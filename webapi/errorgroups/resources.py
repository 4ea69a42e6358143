"""``/api/v1/error-groups``: meters whose acquisition failed, their errors, and running a
group again as a job."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from meterhub.errors import InvalidValue
from meterhub.inventory import jobs as job_ops
from meterhub.inventory.errorgroups import members
from meterhub.model.errorgroups import ErrorGroup
from meterhub.model.jobs import Job, JobRun
from meterhub.webapi.crud import Resource, load_object, register_resource
from meterhub.webapi.errorgroups.schemas import ErrorGroupSchema, ErrorMemberSchema
from meterhub.webapi.extensions import Blueprint
from meterhub.webapi.runs.schemas import RerunSchema, RunSchema
from meterhub.webapi.runs.starting import require_control, run_settings
from meterhub.webapi.security import current_access, request_session

blp = Blueprint(
    "error_groups", __name__, url_prefix="/api/v1/error-groups", description="Error groups"
)

RESOURCE = Resource(
    name="error-groups",
    object_type="error_group",
    model=ErrorGroup,
    schema=ErrorGroupSchema,
    title="error groups",
    search=(ErrorGroup.name,),
    default_sort="-id",
)
register_resource(blp, RESOURCE)


@blp.route("/<int:object_id>/members")
class ErrorGroupMembers(MethodView):
    """The meters of an error group."""

    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, ErrorMemberSchema(many=True))
    def get(self, object_id: int) -> list[dict[str, Any]]:
        """List the group's meters with their errors, by serial number"""
        access = current_access()
        access.require("error_group", "view")
        session = request_session()
        group = load_object(session, access, RESOURCE, object_id)
        return [
            {
                "meter_id": meter.id,
                "serial_number": meter.serial_number,
                "task_id": member.task_id,
                "error_class": member.error_class,
                "error_message": member.error_message,
                "added_at": member.added_at,
            }
            for meter, member in members(session, group)
        ]


@blp.route("/<int:object_id>/runs")
class ErrorGroupRuns(MethodView):
    """Run an error group again."""

    @blp.arguments(RerunSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(202, RunSchema)
    def post(self, data: dict[str, Any], object_id: int) -> JobRun:
        """Run the group's meters again

        An on-demand job over the group with the actions of the job whose run made it (or the
        `actions` given) is created and started at once. Needs `create` on `job_run`.
        """
        access = current_access()
        access.require("job_run", "create")
        session = request_session()
        group = load_object(session, access, RESOURCE, object_id, for_update=True)
        actions = data.get("actions")
        if actions is not None:
            actions = [{"action": a["action"], "parameters": a["parameters"]} for a in actions]
            require_control(access, actions)
        else:
            origin = session.get(Job, group.job_id) if group.job_id is not None else None
            if origin is None:
                raise InvalidValue(
                    "actions", f"error group {group.name!r} has no job to take the actions from"
                )
            require_control(access, origin.actions)
        capacity, _policy = run_settings()
        run = job_ops.rerun_error_group(
            session, group, user=access.username, actions=actions, default_capacity=capacity
        )
        session.commit()
        return run
