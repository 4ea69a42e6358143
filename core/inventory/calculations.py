"""Operations on calculated channels: define (or redefine) a calculation, checked at save.

Refused with the reason: a formula that does not parse or uses what the language does not allow
(line, column, reason), an input naming a channel that does not exist, inputs of different
intervals, an input the formula does not use, a target whose interval does not fit the
formula's result, and a cycle (a target that would depend on itself).
"""

from __future__ import annotations

import keyword
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from meterhub.acquisition.calendars import schedule_calendar
from meterhub.calculations.graph import check_acyclic
from meterhub.calculations.parser import AGGREGATIONS, Functions, compile_formula
from meterhub.errors import Conflict, InvalidValue, NotFound
from meterhub.inventory.common import check_name, flush, optional_text
from meterhub.model.calculations import (
    CALCULATION_NAME_LENGTH,
    CalculationDefinition,
    CalculationInput,
)
from meterhub.model.metering import Channel
from meterhub.timeseries.timegrid import resolve_tz

__all__ = ["calculation_by_name", "define_calculation", "delete_calculation"]

_TARGET_INTERVAL = {"hour": 60, "day": 1440}


def _schedule(value: str | None, tz: str) -> str | None:
    """A calculation's schedule, checked as the scheduler reads it (a job's recurrence)."""
    text = optional_text(value, field="schedule", max_length=200)
    if text is None:
        return None
    try:
        schedule_calendar(text, tz)
    except InvalidValue as error:
        raise InvalidValue(
            "schedule", f"{error.reason}; give an RRULE such as FREQ=DAILY;BYHOUR=3"
        ) from None
    return text


def calculation_by_name(session: Session, name: str) -> CalculationDefinition:
    """The calculation called ``name``."""
    found = session.scalars(
        select(CalculationDefinition).where(CalculationDefinition.name == name)
    ).first()
    if found is None:
        raise NotFound(f"no calculation named {name!r}")
    return found


def define_calculation(
    session: Session,
    name: str,
    *,
    target: int,
    formula: str,
    inputs: Mapping[str, int],
    functions: Functions,
    tz: str = "UTC",
    description: str | None = None,
    schedule: str | None = None,
    lookback_days: int = 1,
) -> CalculationDefinition:
    """Create calculation ``name`` or give it a new version (see the module docstring).

    With a ``schedule`` (an RFC 5545 RRULE read in zone ``tz``) the scheduler also runs it at
    each occurrence over the ``lookback_days`` before it."""
    name = check_name(name, field="name", max_length=CALCULATION_NAME_LENGTH)
    resolve_tz(tz)
    schedule = _schedule(schedule, tz)
    if (
        isinstance(lookback_days, bool)
        or not isinstance(lookback_days, int)
        or not 1 <= lookback_days <= 400
    ):
        raise InvalidValue(
            "lookback_days", f"must be a whole number of days from 1 to 400, got {lookback_days!r}"
        )
    if not isinstance(inputs, Mapping) or not inputs:
        raise InvalidValue("inputs", "name at least one input: {alias: channel id}")
    for alias, channel_id in inputs.items():
        if not isinstance(alias, str) or not alias.isidentifier() or keyword.iskeyword(alias):
            raise InvalidValue(
                "inputs", f"{alias!r} is not a usable input name (letters, digits, _)"
            )
        if alias in AGGREGATIONS or alias in functions.calculations():
            raise InvalidValue(f"inputs.{alias}", "is the name of a function; choose another")
        if isinstance(channel_id, bool) or not isinstance(channel_id, int):
            raise InvalidValue(f"inputs.{alias}", f"must be a channel id, got {channel_id!r}")
    compiled = compile_formula(formula, set(inputs), functions)
    unused = sorted(set(inputs) - compiled.inputs)
    if unused:
        raise InvalidValue(f"inputs.{unused[0]}", "is not used by the formula")
    channels = {
        row.id: row
        for row in session.scalars(
            select(Channel).where(Channel.id.in_([*inputs.values(), target]))
        )
    }
    for alias, channel_id in sorted(inputs.items()):
        row = channels.get(channel_id)
        if row is None:
            raise InvalidValue(f"inputs.{alias}", f"no channel {channel_id}")
        if row.kind != "profile":
            raise InvalidValue(
                f"inputs.{alias}", f"channel {channel_id} is a {row.kind} channel, not a profile"
            )
    intervals = {channels[c].interval_minutes for c in inputs.values()}
    if len(intervals) > 1:
        raise InvalidValue(
            "inputs", f"the inputs have different intervals ({sorted(intervals)} minutes)"
        )
    interval = intervals.pop()
    target_row = channels.get(target)
    if target_row is None:
        raise InvalidValue("target", f"no channel {target}")
    if target in inputs.values():
        raise InvalidValue("target", "a calculation cannot be its own input")
    if compiled.level == "month":
        if target_row.kind != "register":
            raise InvalidValue("target", "a monthly result goes to a register channel")
    else:
        wanted = _TARGET_INTERVAL.get(compiled.level, interval)
        if target_row.kind != "profile" or target_row.interval_minutes != wanted:
            raise InvalidValue(
                "target",
                f"the formula's result has {wanted}-minute intervals; channel {target} "
                f"is a {target_row.kind} channel of {target_row.interval_minutes} minutes",
            )
    existing = session.scalars(
        select(CalculationDefinition)
        .options(selectinload(CalculationDefinition.inputs))
        .where(CalculationDefinition.name == name)
    ).first()
    other = session.scalars(
        select(CalculationDefinition).where(CalculationDefinition.target_channel_id == target)
    ).first()
    if other is not None and (existing is None or other.id != existing.id):
        raise Conflict("target", f"channel {target} is already computed by {other.name!r}")
    edges: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for defined in session.scalars(
        select(CalculationDefinition).options(selectinload(CalculationDefinition.inputs))
    ):
        if existing is not None and defined.id == existing.id:
            continue
        edges[defined.target_channel_id] = [item.channel_id for item in defined.inputs]
        names[defined.target_channel_id] = defined.name
    edges[target] = list(inputs.values())
    names[target] = name
    check_acyclic(edges, names)
    if existing is None:
        existing = CalculationDefinition(
            name=name, target_channel_id=target, version=1, enabled=True
        )
        session.add(existing)
    else:
        existing.version += 1
        existing.target_channel_id = target
        existing.inputs.clear()
        session.flush()
    existing.formula = formula
    existing.tz = tz
    if existing.schedule != schedule:
        existing.schedule_served_at = None
    existing.schedule = schedule
    existing.lookback_days = lookback_days
    existing.description = optional_text(description, field="description")
    for alias, channel_id in sorted(inputs.items()):
        existing.inputs.append(CalculationInput(alias=alias, channel_id=channel_id))
    flush(session, field="name")
    return existing


def delete_calculation(session: Session, definition: CalculationDefinition) -> None:
    """Delete a calculation with its inputs (the values it wrote stay in the store)."""
    session.delete(definition)
    flush(session, field="name")
