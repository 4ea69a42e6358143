from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from meterhub.errors import InvalidValue
from meterhub.timeseries.timegrid import (
    local_day_range,
    local_offsets,
    resolve_tz,
    tick_to_datetime,
    to_tick,
)


@pytest.mark.parametrize(
    ("zone", "day", "slots"),
    [
        ("Europe/Prague", date(2026, 3, 29), 92),
        ("Europe/Prague", date(2026, 10, 25), 100),
        ("Europe/Prague", date(2026, 6, 1), 96),
        ("America/New_York", date(2026, 3, 8), 92),
        ("America/New_York", date(2026, 11, 1), 100),
        ("America/New_York", date(2026, 11, 2), 96),
        ("UTC", date(2026, 3, 29), 96),
    ],
)
def test_local_day_has_the_right_number_of_quarter_hours(zone: str, day: date, slots: int) -> None:
    found = local_day_range(day, zone, 15)
    assert found.slots == slots
    assert found.start.replace(tzinfo=None) == datetime.combine(day, datetime.min.time())
    # same-zone datetime subtraction is wall-clock time in Python: compare in UTC
    assert found.end.astimezone(UTC) - found.start.astimezone(UTC) == timedelta(minutes=15 * slots)


def test_local_day_in_other_intervals() -> None:
    assert local_day_range(date(2026, 3, 29), "Europe/Prague", 60).slots == 23
    assert local_day_range(date(2026, 10, 25), "Europe/Prague", 5).slots == 300
    assert local_day_range(date(2026, 10, 25), "Europe/Prague", 1440).slots == 1
    assert local_day_range(date(2026, 3, 29), "Europe/Prague", 15).start.utcoffset() == timedelta(
        hours=1
    )


@pytest.mark.parametrize("name", ["Europe/Atlantis", "", "../etc/passwd", "Not a zone"])
def test_unknown_zone_is_refused(name: str) -> None:
    with pytest.raises(InvalidValue) as info:
        resolve_tz(name)
    assert info.value.field == "tz"


def test_unknown_zone_in_local_day_range() -> None:
    with pytest.raises(InvalidValue, match="unknown time zone"):
        local_day_range(date(2026, 1, 1), "Mars/Olympus_Mons")


def test_ticks_round_trip_and_naive_means_wall_clock() -> None:
    prague = ZoneInfo("Europe/Prague")
    aware = datetime(2026, 10, 25, 2, 30, tzinfo=prague, fold=1)
    tick = to_tick(aware, UTC, "t")
    assert tick_to_datetime(tick, UTC) == aware.astimezone(UTC)
    assert to_tick(datetime(2026, 10, 25, 2, 30, fold=1), prague, "t") == tick
    assert to_tick(datetime(2026, 10, 25, 2, 30), prague, "t") == tick - 3_600_000_000


@pytest.mark.parametrize("zone", ["Europe/Prague", "America/New_York", "Australia/Lord_Howe"])
def test_local_offsets_match_zoneinfo_slot_by_slot(zone: str) -> None:
    tz = ZoneInfo(zone)
    start = to_tick(datetime(2026, 3, 1, tzinfo=UTC), UTC, "t")
    ticks = start + np.arange(0, 96 * 300, 7, dtype=np.int64) * 900_000_000
    expected = np.array(
        [tick_to_datetime(int(t), tz).utcoffset() // timedelta(microseconds=1) for t in ticks]
    )
    assert np.array_equal(local_offsets(ticks, tz), expected)
