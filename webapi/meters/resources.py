"""``/api/v1/meters``: physical meters, their credentials (write only) and assignments."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from sqlalchemy import select
from sqlalchemy.orm import Session

from meterhub.access import AccessContext
from meterhub.access.events import record_event
from meterhub.credential_keys import open_cipher
from meterhub.inventory import jobs as job_ops
from meterhub.inventory import metering as metering_ops
from meterhub.inventory import meters as ops
from meterhub.model.jobs import JobRun
from meterhub.model.metering import VirtualMeter
from meterhub.model.meters import Meter, MeterAssignment
from meterhub.webapi.crud import (
    Resource,
    load_object,
    reference,
    register_resource,
    serialize_writes,
)
from meterhub.webapi.extensions import Blueprint
from meterhub.webapi.meters.schemas import (
    AssignmentSchema,
    AssignSchema,
    CredentialsSchema,
    MeterCreateSchema,
    MeterSchema,
    MeterUpdateSchema,
)
from meterhub.webapi.runs.schemas import QuickJobSchema, RunSchema
from meterhub.webapi.runs.starting import require_control, run_settings
from meterhub.webapi.security import current_access, request_session
from meterhub.webapi.state import current_runtime

blp = Blueprint("meters", __name__, url_prefix="/api/v1/meters", description="Physical meters")


def create(session: Session, access: AccessContext, data: dict[str, Any]) -> Meter:
    """Create a meter for one of the loaded drivers."""
    return ops.create_meter(session, **data, drivers=current_runtime().plugins.drivers())


def update(session: Session, access: AccessContext, meter: Meter, data: dict[str, Any]) -> Meter:
    """Change the model or driver settings, enable or disable."""
    enabled = data.pop("enabled", None)
    ops.change_meter(session, meter, **data, drivers=current_runtime().plugins.drivers())
    if enabled is not None:
        (metering_ops.enable if enabled else metering_ops.disable)(session, meter)
    return meter


RESOURCE = Resource(
    name="meters",
    object_type="meter",
    model=Meter,
    schema=MeterSchema,
    title="meters",
    create_schema=MeterCreateSchema,
    update_schema=MeterUpdateSchema,
    create=create,
    update=update,
    delete=lambda session, access, meter: ops.delete_meter(session, meter),
    search=(Meter.serial_number, Meter.manufacturer, Meter.model),
    default_sort="serial_number",
)
register_resource(blp, RESOURCE)


@blp.route("/<int:object_id>/credentials")
class MeterCredentials(MethodView):
    """The meter's secrets: written here, never read back through the API."""

    @blp.arguments(CredentialsSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(204)
    def put(self, data: dict[str, Any], object_id: int) -> None:
        """Replace the meter's credentials

        Needs the function `meter_credentials` and the right to edit meters. The values are
        checked against the driver's declarations and stored only encrypted; the audit log
        records that they changed, never the values.
        """
        access = current_access()
        access.require("meter", "edit")
        access.require_function("meter_credentials")
        runtime = current_runtime()
        session = request_session()
        meter = load_object(session, access, RESOURCE, object_id, for_update=True)
        cipher = open_cipher(runtime.settings.effective_credential_key_file, runtime.sessions)
        ops.set_credentials(
            session, meter, cipher, data["credentials"], drivers=runtime.plugins.drivers()
        )
        record_event(
            session,
            action="credentials_set",
            object_type="meter",
            object_id=meter.id,
            user=access.username,
            attribute="credentials",
            new_value=", ".join(sorted(data["credentials"])) or "(removed)",
        )
        session.commit()


@blp.route("/<int:object_id>/assignments")
class MeterAssignments(MethodView):
    """Which virtual meters the meter served, and when (meter exchange)."""

    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, AssignmentSchema(many=True))
    def get(self, object_id: int) -> list[MeterAssignment]:
        """List the meter's assignments, oldest first"""
        access = current_access()
        access.require("meter", "view")
        session = request_session()
        meter = load_object(session, access, RESOURCE, object_id)
        statement = (
            select(MeterAssignment)
            .where(MeterAssignment.meter_id == meter.id)
            .order_by(MeterAssignment.valid_from)
        )
        return list(session.scalars(statement))

    @blp.arguments(AssignSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(201, AssignmentSchema)
    def post(self, data: dict[str, Any], object_id: int) -> MeterAssignment:
        """Let the meter serve a virtual meter from a time on

        A meter exchange: the virtual meter's current meter (if any) stops serving it then.
        """
        access = current_access()
        access.require("meter", "edit")
        session = request_session()
        serialize_writes(session)
        meter = load_object(session, access, RESOURCE, object_id, for_update=True)
        virtual_meter = reference(
            session,
            access,
            VirtualMeter,
            "virtual_meter",
            data["virtual_meter_id"],
            "virtual_meter_id",
        )
        assignment = ops.assign_meter(session, virtual_meter, meter, data["valid_from"])
        session.commit()
        return assignment


@blp.route("/<int:object_id>/quick-job")
class MeterQuickJob(MethodView):
    """Read or control one meter now."""

    @blp.arguments(QuickJobSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(202, RunSchema)
    def post(self, data: dict[str, Any], object_id: int) -> JobRun:
        """Start a quick job on the meter

        The actions run at once, first in the queue, one attempt each; follow the run at
        `GET /api/v1/runs/{id}`. Needs `create` on `job_run`, and the function `meter_control`
        for a control action (disconnect, reconnect, firmware, ...), which the audit log
        records under the user who started it.
        """
        access = current_access()
        access.require("job_run", "create")
        session = request_session()
        serialize_writes(session)
        meter = load_object(session, access, RESOURCE, object_id, for_update=True)
        actions = [{"action": a["action"], "parameters": a["parameters"]} for a in data["actions"]]
        require_control(access, actions)
        capacity, _policy = run_settings()
        run = job_ops.quick_job(
            session,
            meter,
            actions,
            user=access.username,
            drivers=current_runtime().plugins.drivers(),
            default_capacity=capacity,
        )
        session.commit()
        return run
