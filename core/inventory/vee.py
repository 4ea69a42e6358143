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
    "change_profile",
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


def _lookback(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 400:
        raise InvalidValue(
            "lookback_days", f"must be a whole number of days from 1 to 400, got {value!r}"
        )
    return value


def _calendar_id(session: Session, calendar: str | None) -> int | None:
    if calendar is None:
        return None
    found = session.scalars(select(DayCalendar).where(DayCalendar.name == calendar)).first()
    if found is None:
        raise InvalidValue("calendar", f"no calendar named {calendar!r}")
    return found.id


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
    lookback_days = _lookback(lookback_days)
    calendar_id = _calendar_id(session, calendar)
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


#: What :func:`change_profile` changes besides the steps.
PROFILE_FIELDS: tuple[str, ...] = (
    "name",
    "description",
    "calendar",
    "at_ingest",
    "schedule",
    "lookback_days",
    "enabled",
)


def change_profile(
    session: Session,
    profile: ValidationProfile,
    catalog: Catalog,
    *,
    steps: Sequence[StepSpec | Mapping[str, Any]] | None = None,
    **changes: Any,
) -> ValidationProfile:
    """Change the parts of ``profile`` named in ``changes`` (:data:`PROFILE_FIELDS`; the
    ``calendar`` by name, ``None`` for none) and, with ``steps``, replace its steps
    (:func:`set_steps`). Everything is checked as at creation before anything changes."""
    unknown = sorted(set(changes) - set(PROFILE_FIELDS))
    if unknown:
        raise InvalidValue(
            unknown[0], f"cannot be changed; changeable: steps, {', '.join(PROFILE_FIELDS)}"
        )
    values: dict[str, Any] = {}
    if "name" in changes:
        name = check_name(changes["name"], field="name", max_length=PROFILE_NAME_LENGTH)
        clash = session.scalars(
            select(ValidationProfile).where(
                ValidationProfile.name == name, ValidationProfile.id != profile.id
            )
        ).first()
        if clash is not None:
            raise Conflict("name", f"a validation profile named {name!r} exists")
        values["name"] = name
    if "description" in changes:
        values["description"] = optional_text(changes["description"], field="description")
    if "calendar" in changes:
        values["calendar_id"] = _calendar_id(session, changes["calendar"])
    if "schedule" in changes:
        values["schedule"] = _schedule(changes["schedule"])
    if "lookback_days" in changes:
        values["lookback_days"] = _lookback(changes["lookback_days"])
    for flag in ("at_ingest", "enabled"):
        if flag in changes:
            if not isinstance(changes[flag], bool):
                raise InvalidValue(flag, f"must be true or false, not {changes[flag]!r}")
            values[flag] = changes[flag]
    if steps is not None:
        set_steps(session, profile, steps, catalog)
    for key, value in values.items():
        if getattr(profile, key) != value:
            setattr(profile, key, value)
    flush(session, field="name")
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
