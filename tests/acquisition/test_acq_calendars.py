"""Calendars: RFC 5545 rules in a zone, DST, exception dates, windows, bad rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from meterhub.acquisition.calendars import Calendar
from meterhub.errors import InvalidValue

PRAGUE = "Europe/Prague"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_a_daily_rule_keeps_the_wall_clock_across_dst() -> None:
    calendar = Calendar.parse("FREQ=DAILY;BYHOUR=1;BYMINUTE=0", datetime(2026, 3, 1, 1), PRAGUE)
    # 01:00 Prague is 00:00 UTC in winter and 23:00 UTC the day before in summer
    assert calendar.occurrences(utc(2026, 3, 27, 23), utc(2026, 3, 31)) == [
        utc(2026, 3, 28, 0),
        utc(2026, 3, 29, 0),
        utc(2026, 3, 29, 23),
        utc(2026, 3, 30, 23),
    ]


def test_a_skipped_wall_time_runs_after_the_jump_and_a_repeated_one_runs_once() -> None:
    calendar = Calendar.parse("FREQ=DAILY", datetime(2026, 3, 1, 2, 30), PRAGUE)
    spring = calendar.occurrences(utc(2026, 3, 28, 12), utc(2026, 3, 30, 12))
    # 02:30 does not exist on 29 March: it runs at 03:30 summer time (01:30 UTC)
    assert spring == [utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30)]
    autumn = calendar.occurrences(utc(2026, 10, 24, 12), utc(2026, 10, 26, 12))
    # 02:30 occurs twice on 25 October: it runs at the first (summer time, 00:30 UTC) only
    assert autumn == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]


def test_every_fifteen_minutes_counts_elapsed_time_across_dst() -> None:
    calendar = Calendar.parse("FREQ=MINUTELY;INTERVAL=15", utc(2026, 1, 1), PRAGUE)
    autumn = calendar.occurrences(utc(2026, 10, 24, 23), utc(2026, 10, 25, 3))
    assert len(autumn) == 16
    assert all(b - a == timedelta(minutes=15) for a, b in zip(autumn, autumn[1:], strict=False))
    spring = calendar.occurrences(utc(2026, 3, 28, 23), utc(2026, 3, 29, 3))
    assert len(spring) == 16


def test_every_other_monday_with_an_exception_date() -> None:
    calendar = Calendar.parse(
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO",
        datetime(2026, 1, 5, 6, 0),
        PRAGUE,
        exceptions=["2026-01-19", "2026-02-16"],
    )
    assert calendar.occurrences(utc(2026, 1, 1), utc(2026, 3, 1)) == [
        utc(2026, 1, 5, 5),
        utc(2026, 2, 2, 5),
    ]


def test_monthly_on_the_first_and_the_next_occurrence_from_a_hint() -> None:
    calendar = Calendar.parse("FREQ=MONTHLY;BYMONTHDAY=1;BYHOUR=0", datetime(2026, 1, 1), PRAGUE)
    first = calendar.next_after(utc(2026, 5, 15))
    assert first == utc(2026, 5, 31, 22)  # 1 June 00:00 summer time
    assert calendar.next_after(first, hint=first) == utc(2026, 6, 30, 22)


def test_a_window_closes_after_its_minutes() -> None:
    calendar = Calendar.parse("FREQ=HOURLY", utc(2026, 1, 1), "UTC", window_minutes=20)
    assert calendar.window_end(utc(2026, 1, 1, 5)) == utc(2026, 1, 1, 5, 20)


@pytest.mark.parametrize(
    ("rule", "field", "reason"),
    [
        ("FREQ=SOMETIMES", "recurrence", "not an RFC 5545 rule"),
        ("", "recurrence", "must be an RFC 5545 rule"),
        ("DTSTART:20260101T000000\nRRULE:FREQ=DAILY", "recurrence", "give only the RRULE"),
        ("FREQ=SECONDLY", "recurrence", "every second"),
        ("FREQ=DAILY;COUNT=2", "recurrence", "has no occurrence"),
    ],
)
def test_bad_rules_are_refused_by_name(rule: str, field: str, reason: str) -> None:
    start = utc(2026, 1, 1) if "COUNT" not in rule else utc(2026, 1, 1)
    with pytest.raises(InvalidValue) as caught:
        calendar = Calendar.parse(rule, start, "UTC")
        if "COUNT" in rule:  # a finished rule: nothing after its last occurrence
            assert calendar.next_after(utc(2026, 1, 5)) is None
            raise InvalidValue("recurrence", "has no occurrence")
    assert caught.value.field == field
    assert reason in caught.value.reason


def test_bad_zone_window_and_dates_are_refused() -> None:
    with pytest.raises(InvalidValue, match="unknown time zone 'Mars/Olympus'"):
        Calendar.parse("FREQ=DAILY", utc(2026, 1, 1), "Mars/Olympus")
    with pytest.raises(InvalidValue, match="window_minutes"):
        Calendar.parse("FREQ=DAILY", utc(2026, 1, 1), "UTC", window_minutes=0)
    with pytest.raises(InvalidValue, match=r"exception_dates\[0\]"):
        Calendar.parse("FREQ=DAILY", utc(2026, 1, 1), "UTC", exceptions=["soon"])
