"""Operations on day calendars: create one (country, subdivision, zone checked), set and remove
special days. VEE's like-day methods and, later, tariffs read them."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterhub.errors import Conflict, InvalidValue, NotFound
from meterhub.inventory.common import check_name, flush, optional_text
from meterhub.model.calendars import CALENDAR_NAME_LENGTH, DAY_TYPE_LENGTH, DayCalendar, SpecialDay
from meterhub.timeseries.timegrid import resolve_tz
from meterhub.vee.daytypes import check_country

__all__ = ["calendar_by_name", "create_calendar", "remove_special_day", "set_special_day"]


def create_calendar(
    session: Session,
    name: str,
    *,
    country: str | None = None,
    subdivision: str | None = None,
    tz: str = "UTC",
) -> DayCalendar:
    """A calendar of public holidays of ``country`` (ISO 3166-1 alpha-2) and ``subdivision``,
    whose local days are in zone ``tz``."""
    name = check_name(name, field="name", max_length=CALENDAR_NAME_LENGTH)
    country = country.upper() if isinstance(country, str) and country.strip() else None
    subdivision = (
        subdivision.upper() if isinstance(subdivision, str) and subdivision.strip() else None
    )
    check_country(country, subdivision)
    resolve_tz(tz)
    if session.scalars(select(DayCalendar).where(DayCalendar.name == name)).first() is not None:
        raise Conflict("name", f"a calendar named {name!r} exists")
    calendar = DayCalendar(name=name, country=country, subdivision=subdivision, tz=tz)
    session.add(calendar)
    flush(session, field="name")
    return calendar


def calendar_by_name(session: Session, name: str) -> DayCalendar:
    """The calendar called ``name``."""
    found = session.scalars(select(DayCalendar).where(DayCalendar.name == name)).first()
    if found is None:
        raise NotFound(f"no calendar named {name!r}")
    return found


def set_special_day(
    session: Session, calendar: DayCalendar, day: date, day_type: str, *, label: str | None = None
) -> SpecialDay:
    """Give ``day`` of ``calendar`` the type ``day_type`` (``workday``, ``saturday``,
    ``sunday``, ``holiday`` or a type of its own, such as ``shutdown``)."""
    if not isinstance(day, date):
        raise InvalidValue("day", f"must be a date, got {type(day).__name__}")
    day_type = check_name(day_type, field="day_type", max_length=DAY_TYPE_LENGTH)
    found = session.scalars(
        select(SpecialDay).where(SpecialDay.calendar_id == calendar.id, SpecialDay.day == day)
    ).first()
    if found is None:
        found = SpecialDay(calendar=calendar, day=day, day_type=day_type)
        session.add(found)
    found.day_type = day_type
    found.label = optional_text(label, field="label", max_length=CALENDAR_NAME_LENGTH)
    flush(session, field="day")
    return found


def remove_special_day(session: Session, calendar: DayCalendar, day: date) -> bool:
    """Remove the special day ``day`` of ``calendar``; whether there was one."""
    found = session.scalars(
        select(SpecialDay).where(SpecialDay.calendar_id == calendar.id, SpecialDay.day == day)
    ).first()
    if found is None:
        return False
    session.delete(found)
    flush(session, field="day")
    return True
