"""``/api/v1/tasks``: acquisition tasks (filters on state, meter, run, error class) and
``.../{id}/trace``, the task's debug log."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from meterhub.acquisition.session import decode_frames
from meterhub.inventory.tasks import sessions_of
from meterhub.model.tasks import Task
from meterhub.webapi.crud import Resource, load_object, register_resource
from meterhub.webapi.extensions import Blueprint
from meterhub.webapi.security import current_access, request_session
from meterhub.webapi.tasks.schemas import TaskSchema, TraceSchema

blp = Blueprint("tasks", __name__, url_prefix="/api/v1/tasks", description="Acquisition tasks")

RESOURCE = Resource(
    name="tasks",
    object_type="task",
    model=Task,
    schema=TaskSchema,
    title="tasks",
    search=(Task.error_message,),
    exclude_filters=("pool_key",),
    default_sort="-id",
)
register_resource(blp, RESOURCE)


@blp.route("/<int:object_id>/trace")
class TaskTrace(MethodView):
    """The debug log of a task."""

    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, TraceSchema)
    def get(self, object_id: int) -> dict[str, Any]:
        """Get the task's debug log

        The frames of every session that served the task (several after a retry or a failover
        to the backup path): direction, time, the bytes in hex. Secrets were replaced when the
        frame was recorded (`masked` names their byte ranges); they are never stored.
        """
        access = current_access()
        access.require("task", "view")
        session = request_session()
        task = load_object(session, access, RESOURCE, object_id)
        sessions = []
        for log in sessions_of(session, task):
            frames = decode_frames(log.frames) if log.frames is not None else []
            sessions.append(
                {
                    "id": log.id,
                    "attempt": log.attempt,
                    "path_id": log.path_id,
                    "path_priority": log.path_priority,
                    "device_id": log.device_id,
                    "medium": log.medium,
                    "started_at": log.started_at,
                    "finished_at": log.finished_at,
                    "outcome": log.outcome,
                    "error_class": log.error_class,
                    "error_message": log.error_message,
                    "bytes_sent": log.bytes_sent,
                    "bytes_received": log.bytes_received,
                    "frames_dropped": log.frames_dropped,
                    "frames": [
                        {
                            "time": frame["time"],
                            "direction": frame["direction"],
                            "hex": frame.get("hex", ""),
                            "text": frame.get("text"),
                            "masked": frame.get("masked", []),
                        }
                        for frame in frames
                    ],
                }
            )
        return {"task_id": task.id, "sessions": sessions}
