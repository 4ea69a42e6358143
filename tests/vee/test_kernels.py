"""The numpy kernels of the VEE kit, delivery checks and day types."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from meterhub.errors import InvalidValue
from meterhub.extensions.veekit import (
    first_plausible,
    last_plausible,
    like_day_reference,
    linear_fill,
    outside_limits,
    runs_at_least,
    spikes,
)
from meterhub.vee import DayTypes, check_delivery
from meterhub.vee.daytypes import slot_calendar


def test_limits_and_spikes() -> None:
    values = np.array([1.0, np.nan, 9.0, 1.0, -1.0])
    assert outside_limits(values, 0, 5).tolist() == [False, False, True, False, True]
    assert spikes(np.array([1.0, 1.0, 9.0, 1.2, 1.0]), 3, 0.5).tolist() == [
        False,
        False,
        True,
        False,
        False,
    ]


def test_runs_with_outages() -> None:
    zero = np.array([0, 0, 0, 1, 0, 0, 0, 0, 1], dtype=float) == 0
    assert runs_at_least(zero, 4).tolist() == [False] * 4 + [True] * 4 + [False]
    outage = np.zeros(9, dtype=bool)
    outage[5] = True
    assert not runs_at_least(zero, 3, outage)[4:8].any()
    assert runs_at_least(zero, 3, outage)[:3].all()


def test_linear_fill_respects_the_maximum_gap() -> None:
    values = np.array([1.0, np.nan, np.nan, 4.0, np.nan, np.nan, np.nan, 8.0, np.nan])
    filled = linear_fill(values, np.isnan(values), max_gap=2)
    assert filled[:4].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert np.isnan(filled[4:7]).all() and np.isnan(filled[8])


def test_last_and_first_plausible() -> None:
    values = np.array([1.0, np.nan, np.nan, 2.0])
    assert last_plausible(values, np.isnan(values)).tolist() == [1.0, 1.0, 1.0, 2.0]
    source = np.array([9.0, 8.0, np.nan, 7.0])
    out = first_plausible(values, np.isnan(values), [source, np.full(4, 5.0)])
    assert out.tolist() == [1.0, 8.0, 5.0, 2.0]


def test_like_day_reference_groups_by_day_type_and_minute() -> None:
    day = np.repeat(np.arange(4, dtype=np.int32), 2)
    day_type = np.repeat(np.array([0, 2, 0, 0], dtype=np.int16), 2)
    minute = np.tile(np.array([0, 720], dtype=np.int16), 4)
    values = np.array([1.0, 2.0, 50.0, 60.0, 3.0, 4.0, 0.0, 0.0])
    reference = like_day_reference(values, day, day_type, minute, 720, 2)
    assert np.isnan(reference[:4]).all()  # nothing earlier of the same type
    assert reference[4:6].tolist() == [1.0, 2.0]
    assert reference[6:].tolist() == [2.0, 3.0]  # mean of days 0 and 2
    assert np.isnan(like_day_reference(values, day, day_type, minute, 720, 0)).all()


def test_day_types_of_holidays_and_special_days() -> None:
    types = DayTypes("DE", "BY", {date(2026, 6, 5): "bridge day"}, "Europe/Berlin")
    assert types.of(date(2026, 6, 4)) == "holiday"  # Corpus Christi in Bavaria
    assert types.of(date(2026, 6, 5)) == "bridge day"
    assert types.of(date(2026, 6, 6)) == "saturday"
    assert DayTypes("DE").of(date(2026, 6, 4)) == "workday"  # not a holiday everywhere
    with pytest.raises(InvalidValue, match="country"):
        DayTypes("XX")


def test_slot_calendar_of_a_dst_day() -> None:
    start = datetime(2026, 10, 24, 22, tzinfo=UTC)  # local midnight, Europe/Prague
    calendar = slot_calendar(
        int(start.timestamp() * 1e6), 100, 15, DayTypes("CZ", tz="Europe/Prague")
    )
    assert len(set(calendar.day.tolist())) == 1
    assert calendar.minute[8:16].tolist() == [120, 135, 150, 165, 120, 135, 150, 165]
    assert calendar.day_type[0] == 2  # a Sunday


def test_delivery_duplicates_and_misaligned_times() -> None:
    t0 = datetime(2026, 3, 2, 0, 15, tzinfo=UTC)
    times = [
        t0,
        t0 + timedelta(minutes=15),
        t0 + timedelta(minutes=15),
        t0 + timedelta(minutes=37),
        t0 + timedelta(minutes=45),
        t0 + timedelta(minutes=45),
        t0 + timedelta(minutes=60),
    ]
    values = [1.0, 2.0, 2.0, 3.0, 4.0, 4.5, 5.0]
    delivery = check_delivery(times, values, interval_minutes=15)
    assert delivery.start == datetime(2026, 3, 2, tzinfo=UTC)
    assert delivery.values[delivery.present].tolist() == [1.0, 2.0, 5.0]
    assert delivery.present.tolist() == [True, True, False, False, True]
    kinds = sorted(f.kind for f in delivery.findings)
    assert kinds == ["conflicting duplicate", "duplicate", "misaligned"]
    misaligned = next(f for f in delivery.findings if f.kind == "misaligned")
    assert misaligned.time == t0 + timedelta(minutes=37)
