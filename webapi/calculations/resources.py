"""``/api/v1/calculations``: calculated channels, and ``POST .../{id}/runs`` to compute one over
a period now."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask.views import MethodView
from sqlalchemy.orm import Session, selectinload

from meterhub.access import AccessContext
from meterhub.calculations.engine import CalculationRun
from meterhub.errors import Conflict, InvalidValue, NotFound
from meterhub.inventory import calculations as ops
from meterhub.model.calculations import CalculationDefinition
from meterhub.model.metering import Channel
from meterhub.webapi.calculations.schemas import (
    CalculationCreateSchema,
    CalculationRunRequestSchema,
    CalculationRunSchema,
    CalculationSchema,
    CalculationUpdateSchema,
)
from meterhub.webapi.crud import Resource, load_object, reference, register_resource
from meterhub.webapi.extensions import Blueprint
from meterhub.webapi.security import current_access, request_session
from meterhub.webapi.state import current_runtime

blp = Blueprint(
    "calculations", __name__, url_prefix="/api/v1/calculations", description="Calculated channels"
)

#: The longest period one run through the API covers.
MAX_RUN_DAYS = 400


def _check_channels(session: Session, access: AccessContext, data: dict[str, Any]) -> None:
    if "target_channel_id" in data:
        reference(
            session, access, Channel, "channel", data["target_channel_id"], "target_channel_id"
        )
    for alias, channel_id in (data.get("inputs") or {}).items():
        reference(session, access, Channel, "channel", channel_id, f"inputs.{alias}")


def create(session: Session, access: AccessContext, data: dict[str, Any]) -> CalculationDefinition:
    """Define a new calculation (a name in use is a clash, not a new version)."""
    _check_channels(session, access, data)
    name = data.pop("name")
    try:
        ops.calculation_by_name(session, name.strip())
    except NotFound:  # the name is free
        pass
    else:
        raise Conflict("name", f"a calculation named {name.strip()!r} exists")
    return ops.define_calculation(
        session,
        name,
        target=data["target_channel_id"],
        formula=data["formula"],
        inputs=data["inputs"],
        functions=current_runtime().plugins,
        tz=data["tz"],
        description=data["description"],
        schedule=data["schedule"],
        lookback_days=data["lookback_days"],
    )


def update(
    session: Session, access: AccessContext, definition: CalculationDefinition, data: dict[str, Any]
) -> CalculationDefinition:
    """Save a new version with the changed parts; ``enabled`` switches it on or off."""
    _check_channels(session, access, data)
    enabled = data.pop("enabled", None)
    if data:
        merged = {
            "target": data.get("target_channel_id", definition.target_channel_id),
            "formula": data.get("formula", definition.formula),
            "inputs": data.get(
                "inputs", {item.alias: item.channel_id for item in definition.inputs}
            ),
            "tz": data.get("tz", definition.tz),
            "description": data.get("description", definition.description),
            "schedule": data.get("schedule", definition.schedule),
            "lookback_days": data.get("lookback_days", definition.lookback_days),
        }
        ops.define_calculation(
            session, definition.name, functions=current_runtime().plugins, **merged
        )
    if enabled is not None and enabled != definition.enabled:
        definition.enabled = enabled
        session.flush()
    return definition


RESOURCE = Resource(
    name="calculations",
    object_type="calculation",
    model=CalculationDefinition,
    schema=CalculationSchema,
    title="calculations",
    create_schema=CalculationCreateSchema,
    update_schema=CalculationUpdateSchema,
    create=create,
    update=update,
    delete=lambda session, access, definition: ops.delete_calculation(session, definition),
    search=(CalculationDefinition.name, CalculationDefinition.formula),
    default_sort="name",
    load_options=(selectinload(CalculationDefinition.inputs),),
)
register_resource(blp, RESOURCE)


@blp.route("/<int:object_id>/runs")
class CalculationRuns(MethodView):
    """Compute a calculation now."""

    @blp.arguments(CalculationRunRequestSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(201, CalculationRunSchema)
    def post(self, data: dict[str, Any], object_id: int) -> CalculationRun:
        """Compute the calculation over a period

        Computes the target channel over `[start, end)` (at most 400 days, widened to whole
        periods of the result) and stores it as a new version, the calculation's name and
        version as the reason. Needs `edit` on `calculation` and on `meter_data`.
        """
        access = current_access()
        access.require("calculation", "edit")
        access.require("meter_data", "edit")
        session = request_session()
        definition = load_object(session, access, RESOURCE, object_id)
        start, end = data["start"], data["end"]
        if end <= start:
            raise InvalidValue("end", "the period must end after it starts")
        if end - start > timedelta(days=MAX_RUN_DAYS):
            raise InvalidValue("end", f"a run covers at most {MAX_RUN_DAYS} days")
        definition_id = definition.id
        session.commit()  # the engine writes in its own transactions
        return current_runtime().calculations.run(definition_id, start, end, user=access.username)
