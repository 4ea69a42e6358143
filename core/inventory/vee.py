"""Operations on validation profiles: create and change them (every step checked against the
installed plugins), assign them to channels, groups or templates with parameter overrides.

A refused save names what is wrong: ``steps[2].name: unknown check 'spikee'; available: ...``,
``steps[0].parameters.max: must not be below min (5.0)``, ``schedule: ...`` for an RRULE that
does not parse, ``overrides.limits.max: ...`` for a customer's threshold of the wrong type.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterhub.acquisition.calendars import schedule_calendar
from meterhub.errors import Conflict, InvalidValue, NotFound
from meterhub.inventory.common import check_name, flush, optional_text
from meterhub.model.calendars import DayCalendar
from meterhub.model.groups import MeterGroup
from meterhub.model.metering import Channel
from meterhub.model.scripts import Script
from meterhub.model.templates import Template
from meterhub.model.vee import (
    PROFILE_NAME_LENGTH,
    ProfileAssignment,
    ProfileStep,
    ValidationProfile,
)
from meterhub.vee.profiles import Catalog, StepSpec, check_overrides, check_steps

__all__ = [
    "assign_profile",
    "create_profile",
    "delete_profile",
    "profile_by_name",
    "set_steps",
    "unassign_profile",
]


def _scripts(session: Session) -> dict[str, str]:
    return {name: purpose for name, purpose in session.execute(select(Script.name, Script.purpose))}


def _schedule(value: str | None) -> str | None:
    """A profile schedule, checked as the scheduler reads it (a job's recurrence rules)."""
    text = optional_text(value, field="schedule", max_length=200)
    if text is None:
        return None
    try:
        schedule_calendar(text)
    except InvalidValue as error:
        raise InvalidValue(
            "schedule", f"{error.reason}; give an RRULE such as FREQ=DAILY;BYHOUR=2;BYMINUTE=30"
        ) from None
    return text


def profile_by_name(session: Session, name: str) -> ValidationProfile:
    """The profile called ``name``."""
    found = session.scalars(select(ValidationProfile).where(ValidationProfile.name == name)).first()
    if found is None:
        raise NotFound(f"no validation profile {name!r}")
    return found


def create_profile(
    session: Session,
    name: str,
    steps: Sequence[StepSpec | Mapping[str, Any]],
    catalog: Catalog,
    *,
    description: str | None = None,
    calendar: str | None = None,
    at_ingest: bool = False,
    schedule: str | None = None,
    lookback_days: int = 3,
) -> ValidationProfile:
    """Create a profile of ``steps`` (checked, see the module docstring)."""
    name = check_name(name, field="name", max_length=PROFILE_NAME_LENGTH)
    if session.scalars(select(ValidationProfile).where(ValidationProfile.name == name)).first():
        raise Conflict("name", f"a validation profile named {name!r} exists")
    checked = check_steps(steps, catalog, _scripts(session))
    if (
        isinstance(lookback_days, bool)
        or not isinstance(lookback_days, int)
        or not 1 <= lookback_days <= 400
    ):
        raise InvalidValue(
            "lookback_days", f"must be a whole number of days from 1 to 400, got {lookback_days!r}"
        )
    calendar_id = None
    if calendar is not None:
        found = session.scalars(select(DayCalendar).where(DayCalendar.name == calendar)).first()
        if found is None:
            raise InvalidValue("calendar", f"no calendar named {calendar!r}")
        calendar_id = found.id
    profile = ValidationProfile(
        name=name,
        description=optional_text(description, field="description"),
        calendar_id=calendar_id,
        at_ingest=bool(at_ingest),
        schedule=_schedule(schedule),
        lookback_days=lookback_days,
        enabled=True,
    )
    session.add(profile)
    for position, step in enumerate(checked):
        profile.steps.append(
            ProfileStep(
                position=position, kind=step.kind, name=step.name, parameters=dict(step.parameters)
            )
        )
    flush(session, field="name")
    return profile


def set_steps(
    session: Session,
    profile: ValidationProfile,
    steps: Sequence[StepSpec | Mapping[str, Any]],
    catalog: Catalog,
) -> ValidationProfile:
    """Replace the steps of ``profile`` (checked like at creation, and against the overrides
    of its assignments)."""
    checked = check_steps(steps, catalog, _scripts(session))
    for assignment in profile.assignments:
        check_overrides(checked, assignment.overrides or {}, catalog)
    profile.steps.clear()
    session.flush()
    for position, step in enumerate(checked):
        profile.steps.append(
            ProfileStep(
                position=position, kind=step.kind, name=step.name, parameters=dict(step.parameters)
            )
        )
    flush(session, field="steps")
    return profile


def assign_profile(
    session: Session,
    profile: ValidationProfile,
    catalog: Catalog,
    *,
    channel: int | None = None,
    group: str | None = None,
    template: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> ProfileAssignment:
    """Apply ``profile`` to one channel (id), a meter group or a template (by name), with
    parameter ``overrides`` by step name (a customer's thresholds)."""
    targets = [t for t in (channel, group, template) if t is not None]
    if len(targets) != 1:
        raise InvalidValue("target", "assign a profile to exactly one channel, group or template")
    steps = [StepSpec(s.kind, s.name, dict(s.parameters or {})) for s in profile.steps]
    checked = check_overrides(steps, dict(overrides or {}), catalog)
    values: dict[str, Any] = {}
    if channel is not None:
        found = session.get(Channel, channel)
        if found is None or found.kind != "profile":
            raise InvalidValue("channel", f"no profile channel {channel}")
        values["channel_id"] = found.id
    elif group is not None:
        found_group = session.scalars(select(MeterGroup).where(MeterGroup.name == group)).first()
        if found_group is None:
            raise InvalidValue("group", f"no meter group named {group!r}")
        values["group_id"] = found_group.id
    else:
        found_template = session.scalars(select(Template).where(Template.name == template)).first()
        if found_template is None:
            raise InvalidValue("template", f"no template named {template!r}")
        values["template_id"] = found_template.id
    existing = session.scalars(
        select(ProfileAssignment).where(
            ProfileAssignment.profile_id == profile.id,
            *(getattr(ProfileAssignment, k) == v for k, v in values.items()),
        )
    ).first()
    if existing is not None:
        existing.overrides = checked
        flush(session, field="target")
        return existing
    assignment = ProfileAssignment(profile=profile, overrides=checked, **values)
    session.add(assignment)
    flush(session, field="target")
    return assignment


def unassign_profile(session: Session, assignment: ProfileAssignment) -> None:
    """Remove an assignment."""
    session.delete(assignment)
    flush(session, field="target")


def delete_profile(session: Session, profile: ValidationProfile) -> None:
    """Delete a profile with its steps and assignments (its runs stay, without the link)."""
    session.delete(profile)
    flush(session, field="name")
