"""TOU calendars (activity calendar, class 20) as plain JSON and back."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from gurux_dlms.objects import (
    GXDLMSActivityCalendar,
    GXDLMSDayProfile,
    GXDLMSDayProfileAction,
    GXDLMSSeasonProfile,
    GXDLMSWeekProfile,
)

from meterhub.errors import InvalidValue
from meterhub.identifiers import canonical_obis
from meterhub.plugins.drivers.dlms.cosem import logical_name, obis_text
from meterhub.plugins.drivers.dlms.settings import ACTIVITY_CALENDAR

__all__ = ["calendar_from_json", "calendar_to_json"]

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def calendar_from_json(calendar: Mapping[str, Any]) -> GXDLMSActivityCalendar:
    """The passive calendar of a ``GXDLMSActivityCalendar`` from plain JSON::

        {"name": "TOU-2026",
         "seasons": [{"name": "winter", "start": "01-01", "week": "wk1"}, ...],
         "weeks": [{"name": "wk1", "days": [1, 1, 1, 1, 1, 2, 2]}],
         "days": [{"id": 1, "actions": [{"start": "06:00", "script": "0-0:10.0.100",
                                          "selector": 1}, ...]}, ...],
         "activate_at": "2026-12-01T00:00:00+00:00"}      (optional)

    Season starts are ``MM-DD`` (every year); week days list the day ids Monday first;
    actions run the script table ``script`` with ``selector`` (the tariff number) from
    ``start`` (``HH:MM``) on.
    """
    try:
        obj = GXDLMSActivityCalendar(logical_name(ACTIVITY_CALENDAR))
        obj.calendarNamePassive = str(calendar["name"])
        seasons = []
        for season in calendar["seasons"]:
            month, day = (int(part) for part in str(season["start"]).split("-"))
            start = GXDateTimeYearless.make(month, day)
            seasons.append(
                GXDLMSSeasonProfile(
                    str(season["name"]).encode(), start, str(season["week"]).encode()
                )
            )
        obj.seasonProfilePassive = seasons
        weeks = []
        for week in calendar["weeks"]:
            profile = GXDLMSWeekProfile()
            profile.name = str(week["name"]).encode()
            days = [int(day) for day in week["days"]]
            if len(days) != 7:
                raise ValueError("a week has 7 days")
            for attribute, day in zip(_WEEKDAYS, days, strict=True):
                setattr(profile, attribute, day)
            weeks.append(profile)
        obj.weekProfileTablePassive = weeks
        days_out = []
        for day in calendar["days"]:
            actions = []
            for action in day["actions"]:
                hour, minute = (int(part) for part in str(action["start"]).split(":"))
                actions.append(
                    GXDLMSDayProfileAction(
                        GXTimeOfDay.make(hour, minute),
                        logical_name(str(action["script"])),
                        int(action.get("selector", 1)),
                    )
                )
            days_out.append(GXDLMSDayProfile(int(day["id"]), actions))
        obj.dayProfileTablePassive = days_out
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidValue("calendar", f"is not a valid TOU calendar: {exc}") from exc
    return obj


def calendar_to_json(obj: GXDLMSActivityCalendar, *, passive: bool = False) -> dict[str, Any]:
    """The calendar of ``obj`` (active or passive) as the JSON :func:`calendar_from_json` takes."""
    name = obj.calendarNamePassive if passive else obj.calendarNameActive
    seasons = obj.seasonProfilePassive if passive else obj.seasonProfileActive
    weeks = obj.weekProfileTablePassive if passive else obj.weekProfileTableActive
    days = obj.dayProfileTablePassive if passive else obj.dayProfileTableActive
    return {
        "name": _text(name),
        "seasons": [
            {
                "name": _text(season.name),
                "start": f"{season.start.value.month:02d}-{season.start.value.day:02d}",
                "week": _text(season.weekName),
            }
            for season in seasons or []
        ],
        "weeks": [
            {"name": _text(week.name), "days": [int(getattr(week, day)) for day in _WEEKDAYS]}
            for week in weeks or []
        ],
        "days": [
            {
                "id": int(day.dayId),
                "actions": [
                    {
                        "start": f"{action.startTime.value.hour:02d}:"
                        f"{action.startTime.value.minute:02d}",
                        "script": canonical_obis(obis_text(action.scriptLogicalName)),
                        "selector": int(action.scriptSelector),
                    }
                    for action in day.daySchedules or []
                ],
            }
            for day in days or []
        ],
    }


def _text(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return "" if value is None else str(value)


class GXDateTimeYearless:
    """Season starts: a COSEM date-time with the year (and time) not specified."""

    @staticmethod
    def make(month: int, day: int) -> Any:
        """A ``GXDateTime`` for ``month``-``day`` of any year at 00:00."""
        from gurux_dlms import GXDateTime
        from gurux_dlms.enums import DateTimeSkips

        value = GXDateTime(datetime(2000, month, day, tzinfo=UTC))
        value.skip = DateTimeSkips.YEAR | DateTimeSkips.DAY_OF_WEEK | DateTimeSkips.DEVITATION
        return value


class GXTimeOfDay:
    """Day profile action starts: a COSEM time."""

    @staticmethod
    def make(hour: int, minute: int) -> Any:
        """A ``GXTime`` for ``hour``:``minute``:00."""
        from gurux_dlms import GXTime

        return GXTime(datetime(2000, 1, 1, hour, minute, tzinfo=UTC))
