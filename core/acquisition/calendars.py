"""Calendars of scheduled jobs: RFC 5545 recurrence rules in a time zone, windows, exceptions.

A job's calendar is a recurrence rule (``FREQ=MINUTELY;INTERVAL=15``, ``FREQ=DAILY;BYHOUR=1``,
``FREQ=WEEKLY;INTERVAL=2;BYDAY=MO``, ``FREQ=MONTHLY;BYMONTHDAY=1``: the ``RRULE`` of RFC 5545,
evaluated by python-dateutil), a start (``starts_at``, an instant), a time zone (IANA name), an
optional **window of opportunity** (minutes after each occurrence within which the run's tasks
may start; what is still queued when it closes is cancelled) and **exception dates** (local
dates on which no run starts).

**Time zones and daylight saving time.** Rules with a frequency of a day or more run on the
wall clock of the zone: "daily at 01:00" is 01:00 local time on summer and winter days alike. A
wall-clock time the clocks skip (02:30 on the spring-forward day) runs at the instant it would
have been without the jump (03:30 summer time); one that occurs twice (02:30 on the fall-back
day) runs once, at its first occurrence (PEP 495 ``fold=0``). Hourly and minutely rules without
``BY...`` parts count **elapsed time** from the start: "every 15 minutes" is every 15 real
minutes, also across a DST change (a wall-clock rule would run twice in the repeated hour and
not at all in the skipped one); with ``BYHOUR``/``BYMINUTE``/... they run on the wall clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import HOURLY, MINUTELY, SECONDLY, rrule, rrulestr

from meterhub.errors import InvalidValue

__all__ = ["SCHEDULE_ANCHOR", "Calendar", "check_time_zone", "schedule_calendar"]

#: Parts of a rule that tie it to the wall clock.
_CLOCK_PARTS = (
    "byhour",
    "byminute",
    "bysecond",
    "byweekday",
    "bymonthday",
    "byyearday",
    "byweekno",
    "bymonth",
    "bysetpos",
)

#: How many occurrences a rule is looked through for the next one not on an exception date.
_SEARCH_LIMIT = 10_000


def check_time_zone(name: object, field: str = "time_zone") -> ZoneInfo:
    """The zone named ``name`` (``Europe/Prague``); :class:`InvalidValue` for an unknown one."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidValue(field, "must be an IANA time zone name such as Europe/Prague")
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidValue(field, f"unknown time zone {name!r}") from None


def _rule_text(rule: object) -> str:
    if not isinstance(rule, str) or not rule.strip():
        raise InvalidValue("recurrence", "must be an RFC 5545 rule such as FREQ=DAILY;BYHOUR=1")
    text = rule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if "DTSTART" in text.upper() or "\n" in text:
        raise InvalidValue(
            "recurrence",
            "give only the RRULE (FREQ=...;...); the start is starts_at and the zone time_zone",
        )
    return text


@dataclass(frozen=True)
class Calendar:
    """A checked calendar (build it with :meth:`parse`); every instant is aware UTC."""

    rule: str
    starts_at: datetime
    time_zone: str
    window: timedelta | None = None
    exceptions: frozenset[date] = frozenset()

    @classmethod
    def parse(
        cls,
        rule: object,
        starts_at: object,
        time_zone: object = "UTC",
        window_minutes: object = None,
        exceptions: Iterable[object] = (),
    ) -> Calendar:
        """Check every part; :class:`InvalidValue` names the first one that is wrong."""
        zone = check_time_zone(time_zone)
        text = _rule_text(rule)
        if not isinstance(starts_at, datetime):
            raise InvalidValue("starts_at", "must be a date and time")
        if starts_at.tzinfo is None:
            starts_at = starts_at.replace(tzinfo=zone)
        start = starts_at.astimezone(UTC)
        window = None
        if window_minutes is not None:
            if isinstance(window_minutes, bool) or not isinstance(window_minutes, int):
                raise InvalidValue("window_minutes", "must be a whole number of minutes")
            if not 1 <= window_minutes <= 366 * 24 * 60:
                raise InvalidValue("window_minutes", "must be 1 minute to 366 days")
            window = timedelta(minutes=window_minutes)
        days = set()
        for position, item in enumerate(exceptions):
            if isinstance(item, datetime):
                item = item.date()
            if isinstance(item, str):
                try:
                    item = date.fromisoformat(item.strip())
                except ValueError:
                    raise InvalidValue(
                        f"exception_dates[{position}]", f"{item!r} is not a date (YYYY-MM-DD)"
                    ) from None
            if not isinstance(item, date):
                raise InvalidValue(f"exception_dates[{position}]", "must be a date (YYYY-MM-DD)")
            days.add(item)
        calendar = cls(text, start, zone.key, window, frozenset(days))
        probe = calendar._rule(start)
        if probe._freq == SECONDLY:  # type: ignore[attr-defined]
            raise InvalidValue("recurrence", "runs every second or more often: use MINUTELY")
        if calendar.next_after(start - timedelta(microseconds=1)) is None:
            raise InvalidValue(
                "recurrence", f"{text!r} has no occurrence from {start.isoformat()} on"
            )
        return calendar

    # -- evaluation ---------------------------------------------------------------------------

    @property
    def zone(self) -> ZoneInfo:
        """The calendar's time zone."""
        return ZoneInfo(self.time_zone)

    def _rule(self, base: datetime) -> rrule:
        """The rule started at ``base`` (UTC for elapsed-time rules, else local wall clock)."""
        try:
            parsed = rrulestr(self.rule, dtstart=base.replace(tzinfo=None))
        except (ValueError, TypeError, KeyError) as exc:
            raise InvalidValue(
                "recurrence", f"{self.rule!r} is not an RFC 5545 rule: {exc}"
            ) from None
        if not isinstance(parsed, rrule):
            raise InvalidValue("recurrence", "give one RRULE, not a rule set")
        return parsed

    def _elapsed(self) -> bool:
        probe = self._rule(self.starts_at)
        if probe._freq not in (HOURLY, MINUTELY):  # type: ignore[attr-defined]
            return False
        original = getattr(probe, "_original_rule", {})
        return not any(original.get(part) for part in _CLOCK_PARTS)

    def _instants(self, after: datetime, hint: datetime | None) -> Iterator[datetime]:
        """Occurrences strictly after ``after`` (UTC), in order, exception dates included."""
        elapsed = self._elapsed()
        if elapsed:
            # Elapsed time has no DST: an occurrence is as good a start as the first one.
            rebased = hint is not None and "COUNT=" not in self.rule.upper()
            base_utc = hint if rebased and hint is not None else self.starts_at
            rule = self._rule(base_utc)
            cursor = after.astimezone(UTC).replace(tzinfo=None)
            current = rule.after(cursor, inc=False)
            while current is not None:
                yield current.replace(tzinfo=UTC)
                current = rule.after(current, inc=False)
            return
        # A wall-clock rule is evaluated from its start: an occurrence moved by a DST gap
        # (02:30 run at 03:30) would shift the wall time of every later one.
        zone = self.zone
        base_wall = self.starts_at.astimezone(zone).replace(tzinfo=None)
        rule = self._rule(base_wall)
        # The wall time just before ``after``: occurrences are compared as instants below.
        cursor = after.astimezone(zone).replace(tzinfo=None) - timedelta(hours=3)
        current = rule.after(cursor, inc=False)
        while current is not None:
            instant = current.replace(tzinfo=zone).astimezone(UTC)
            if instant > after:
                yield instant
            current = rule.after(current, inc=False)

    def next_after(self, after: datetime, hint: datetime | None = None) -> datetime | None:
        """The first occurrence strictly after ``after`` not on an exception date, or ``None``.

        ``hint``, an earlier occurrence (the last one the scheduler started), lets an
        elapsed-time rule be evaluated from there instead of from its start (not with
        ``COUNT``); wall-clock rules always count from their start.
        """
        after = after.astimezone(UTC)
        zone = self.zone
        for position, instant in enumerate(self._instants(after, hint)):
            if instant < self.starts_at:
                continue
            if instant.astimezone(zone).date() not in self.exceptions:
                return instant
            if position >= _SEARCH_LIMIT:
                break
        return None

    def occurrences(self, after: datetime, until: datetime) -> list[datetime]:
        """Every occurrence in ``(after, until]`` not on an exception date."""
        found = []
        current = self.next_after(after)
        while current is not None and current <= until:
            found.append(current)
            current = self.next_after(current, hint=current)
        return found

    def window_end(self, occurrence: datetime) -> datetime | None:
        """When the window of the run of ``occurrence`` closes (``None``: no window)."""
        return occurrence + self.window if self.window is not None else None


#: Where the schedules of validation profiles and calculations count from (a Monday, 00:00 in
#: their zone), so ``FREQ=WEEKLY;INTERVAL=2`` means the same weeks on every host.
SCHEDULE_ANCHOR = datetime(2026, 1, 5)


def schedule_calendar(rule: object, time_zone: object = "UTC") -> Calendar:
    """The calendar of a profile's or calculation's ``schedule`` (an RRULE, no window) in
    ``time_zone``, counted from :data:`SCHEDULE_ANCHOR`; :class:`InvalidValue` names what is
    wrong."""
    return Calendar.parse(rule, SCHEDULE_ANCHOR, time_zone)
