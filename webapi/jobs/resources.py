"""``/api/v1/jobs``: acquisition jobs, and ``POST .../{id}/runs`` to start a run now."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from sqlalchemy.orm import Session

from meterhub.access import AccessContext
from meterhub.inventory import jobs as ops
from meterhub.model.errorgroups import ErrorGroup
from meterhub.model.groups import MeterGroup
from meterhub.model.jobs import Job, JobRun
from meterhub.model.meters import Meter
from meterhub.webapi.crud import Resource, load_object, reference, register_resource
from meterhub.webapi.extensions import Blueprint
from meterhub.webapi.jobs.schemas import JobCreateSchema, JobSchema, JobUpdateSchema
from meterhub.webapi.runs.schemas import RunSchema
from meterhub.webapi.runs.starting import check_targets, require_control, run_settings
from meterhub.webapi.security import current_access, request_session
from meterhub.webapi.state import current_runtime

blp = Blueprint("jobs", __name__, url_prefix="/api/v1/jobs", description="Acquisition jobs")

#: Request fields naming other objects: (model, object type, what the core calls them).
_REFERENCES = {
    "meters": (Meter, "meter"),
    "groups": (MeterGroup, "group"),
    "error_groups": (ErrorGroup, "error_group"),
}


def _checked_references(session: Session, access: AccessContext, data: dict[str, Any]) -> None:
    """Every object named by id must be one the user may see (else 422 naming the field)."""
    for field, (model, kind) in _REFERENCES.items():
        for index, object_id in enumerate(data.get(field) or ()):
            reference(session, access, model, kind, object_id, f"{field}[{index}]")


def _actions(data: dict[str, Any]) -> None:
    if "actions" in data:
        data["actions"] = [
            {"action": entry["action"], "parameters": entry.get("parameters") or {}}
            for entry in data["actions"]
        ]


def create(session: Session, access: AccessContext, data: dict[str, Any]) -> Job:
    """Create a job with the checks of ``meterhub job add``."""
    _actions(data)
    require_control(access, data["actions"])
    _checked_references(session, access, data)
    kind = "scheduled" if data.get("recurrence") is not None else "on_demand"
    return ops.create_job(
        session,
        **data,
        kind=kind,
        user=access.username,
        drivers=current_runtime().plugins.drivers(),
    )


def update(session: Session, access: AccessContext, job: Job, data: dict[str, Any]) -> Job:
    """Change parts of a job; it is checked again as a whole."""
    _actions(data)
    require_control(access, data.get("actions", job.actions))
    _checked_references(session, access, data)
    return ops.change_job(session, job, **data, drivers=current_runtime().plugins.drivers())


RESOURCE = Resource(
    name="jobs",
    object_type="job",
    model=Job,
    schema=JobSchema,
    title="jobs",
    create_schema=JobCreateSchema,
    update_schema=JobUpdateSchema,
    create=create,
    update=update,
    delete=lambda session, access, job: ops.delete_job(session, job),
    search=(Job.name, Job.created_by),
    default_sort="name",
)
register_resource(blp, RESOURCE)


@blp.route("/<int:object_id>/runs")
class JobRuns(MethodView):
    """Start a run of a job now."""

    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(202, RunSchema)
    def post(self, object_id: int) -> JobRun:
        """Start a run of the job now

        The run and its tasks are created at once (state `queued`); the acquisition engine
        runs them. Follow it at `GET /api/v1/runs/{id}`. Needs `create` on `job_run`, and the
        function `meter_control` for a job with control actions; the run records the user who
        started it (control actions also in the audit log).
        """
        access = current_access()
        access.require("job_run", "create")
        session = request_session()
        job = load_object(session, access, RESOURCE, object_id, for_update=True)
        require_control(access, job.actions)
        check_targets(session, access, job.targets)
        capacity, policy = run_settings()
        run = ops.run_job(
            session, job, user=access.username, default_capacity=capacity, policy=policy
        )
        session.commit()
        return run
