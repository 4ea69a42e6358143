"""``/api/v1/runs``: runs of acquisition jobs (progress %, success %, state) and cancelling."""

from __future__ import annotations

from flask.views import MethodView

from meterhub.inventory import jobs as ops
from meterhub.model.jobs import JobRun
from meterhub.webapi.crud import Resource, load_object, register_resource
from meterhub.webapi.extensions import Blueprint
from meterhub.webapi.runs.schemas import RunSchema
from meterhub.webapi.security import current_access, request_session
from meterhub.webapi.state import current_runtime

blp = Blueprint("runs", __name__, url_prefix="/api/v1/runs", description="Runs of jobs")

RESOURCE = Resource(
    name="runs",
    object_type="job_run",
    model=JobRun,
    schema=RunSchema,
    title="runs",
    search=(JobRun.started_by,),
    default_sort="-id",
)
register_resource(blp, RESOURCE)


@blp.route("/<int:object_id>/cancel")
class RunCancel(MethodView):
    """Cancel a run that has not ended."""

    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, RunSchema)
    def post(self, object_id: int) -> JobRun:
        """Cancel the run

        Its waiting tasks end at once (state `cancelled`); running ones stop when the engine
        sees the request. A run that has ended is refused (422). Needs `edit` on `job_run`.
        """
        access = current_access()
        access.require("job_run", "edit")
        session = request_session()
        run = load_object(session, access, RESOURCE, object_id, for_update=True)
        events = ops.cancel_run(session, run, user=access.username)
        session.commit()
        for event in events:
            current_runtime().plugins.notify("job_finished", job=event)
        return ops.find_run(session, object_id)
