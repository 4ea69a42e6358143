"""``/api/v1/validation-profiles``: VEE validation profiles, and ``POST .../{id}/runs`` to run
one now over a period."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask.views import MethodView
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from meterhub.access import AccessContext
from meterhub.errors import InvalidValue
from meterhub.inventory import vee as ops
from meterhub.model.calendars import DayCalendar
from meterhub.model.vee import ValidationProfile, ValidationRun
from meterhub.vee.assignments import resolve
from meterhub.webapi.crud import Resource, load_object, register_resource
from meterhub.webapi.extensions import Blueprint
from meterhub.webapi.profiles.schemas import (
    ValidationProfileCreateSchema,
    ValidationProfileSchema,
    ValidationProfileUpdateSchema,
    VeeRunRequestSchema,
)
from meterhub.webapi.security import current_access, request_session
from meterhub.webapi.state import current_runtime
from meterhub.webapi.veeruns.schemas import VeeRunSchema

blp = Blueprint(
    "validation_profiles",
    __name__,
    url_prefix="/api/v1/validation-profiles",
    description="VEE validation profiles",
)

#: The longest period one run through the API covers.
MAX_RUN_DAYS = 400


def _calendar_name(session: Session, calendar_id: int | None) -> str | None:
    if calendar_id is None:
        return None
    calendar = session.get(DayCalendar, calendar_id)
    if calendar is None:
        raise InvalidValue("calendar_id", f"there is no calendar with id {calendar_id}")
    return calendar.name


def create(session: Session, access: AccessContext, data: dict[str, Any]) -> ValidationProfile:
    """Create a profile (steps checked against the installed plugins and scripts)."""
    calendar = _calendar_name(session, data.pop("calendar_id"))
    return ops.create_profile(
        session,
        data.pop("name"),
        data.pop("steps"),
        current_runtime().plugins,
        calendar=calendar,
        **data,
    )


def update(
    session: Session, access: AccessContext, profile: ValidationProfile, data: dict[str, Any]
) -> ValidationProfile:
    """Change a profile; ``steps`` replaces its steps."""
    if "calendar_id" in data:
        data["calendar"] = _calendar_name(session, data.pop("calendar_id"))
    return ops.change_profile(session, profile, current_runtime().plugins, **data)


RESOURCE = Resource(
    name="validation-profiles",
    object_type="validation_profile",
    model=ValidationProfile,
    schema=ValidationProfileSchema,
    title="validation profiles",
    create_schema=ValidationProfileCreateSchema,
    update_schema=ValidationProfileUpdateSchema,
    create=create,
    update=update,
    delete=lambda session, access, profile: ops.delete_profile(session, profile),
    search=(ValidationProfile.name, ValidationProfile.description),
    default_sort="name",
    load_options=(selectinload(ValidationProfile.steps),),
)
register_resource(blp, RESOURCE)


def _channels(
    session: Session, access: AccessContext, profile: ValidationProfile, wanted: list[int] | None
) -> list[int] | None:
    """The channels to run on: the ones asked for (each visible), or for a user limited to
    some segments the visible channels the profile is assigned to."""
    if wanted is not None:
        visible = access.scope.visible_channel_ids(session, wanted)
        for index, channel in enumerate(wanted):
            if channel not in visible:
                raise InvalidValue(f"channels[{index}]", f"there is no channel with id {channel}")
        return sorted(set(wanted))
    if access.scope.unrestricted:
        return None
    assigned = resolve(session.connection(), profile_ids=[profile.id], channel_ids=None)
    visible = access.scope.visible_channel_ids(session, [channel for channel, _ in assigned])
    if not visible:
        raise InvalidValue("channels", "the profile is assigned to no channel you may see")
    return sorted(visible)


@blp.route("/<int:object_id>/runs")
class ProfileRuns(MethodView):
    """Run a profile now."""

    @blp.arguments(VeeRunRequestSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(201, VeeRunSchema)
    def post(self, data: dict[str, Any], object_id: int) -> ValidationRun:
        """Run the profile over a period

        Runs the profile over `[start, end)` (at most 400 days) on the channels it is assigned
        to, or on `channels`, as `meterhub vee run` does, and answers the finished run with its
        counts and summary. Needs `create` on `vee_run`.
        """
        access = current_access()
        access.require("vee_run", "create")
        session = request_session()
        profile = load_object(session, access, RESOURCE, object_id)
        start, end = data["start"], data["end"]
        if end <= start:
            raise InvalidValue("end", "the period of a run must end after it starts")
        if end - start > timedelta(days=MAX_RUN_DAYS):
            raise InvalidValue("end", f"a run covers at most {MAX_RUN_DAYS} days")
        channels = _channels(session, access, profile, data["channels"])
        profile_id = profile.id
        session.commit()  # the engine writes in its own transactions
        report = current_runtime().vee.run(
            profile_id, start, end, channel_ids=channels, trigger="demand", user=access.username
        )
        run = session.scalar(select(ValidationRun).where(ValidationRun.id == report.run_id))
        assert run is not None
        return run
