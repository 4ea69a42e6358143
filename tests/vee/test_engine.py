"""Profile runs through the store: gaps filled by interpolation with flags and method, suspect
values, protected values, reruns with the same result, failures of one channel, run records."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import select
from vee_fixtures import DAY0, QUARTER, Fleet, profile_values

from meterhub.db import transaction
from meterhub.inventory.calendars import create_calendar, set_special_day
from meterhub.inventory.scripts import save_script
from meterhub.inventory.vee import assign_profile, create_profile
from meterhub.model.vee import ValidationRun, validation_result
from meterhub.runtime import Runtime
from meterhub.timeseries import EstimationMethod, Flag
from meterhub.timeseries.flags import method_of

NIGHTLY = [
    {"kind": "check", "name": "gaps"},
    {"kind": "check", "name": "spike", "parameters": {"factor": 3, "min_delta": 0.5}},
    {"kind": "check", "name": "status_bits"},
    {"kind": "estimate", "name": "linear", "parameters": {"max_gap": 8}},
]


def _profile(runtime: Runtime, name: str, steps: list[dict], group: str, **options: object) -> None:
    with transaction(runtime.sessions, user="t") as session:
        profile = create_profile(session, name, steps, runtime.plugins, **options)  # type: ignore[arg-type]
        assign_profile(session, profile, runtime.plugins, group=group)


def _day(runtime: Runtime, ids: list[int], days: int = 1):  # type: ignore[no-untyped-def]
    return runtime.store.read_intervals(ids, DAY0, DAY0 + timedelta(days=days))


def test_gaps_are_filled_by_interpolation_with_flags(runtime: Runtime, fleet: Fleet) -> None:
    ids = fleet.channels(1, group="g")
    _profile(runtime, "nightly", NIGHTLY, "g")
    values = profile_values(1)
    present = np.ones(values.shape, dtype=bool)
    present[0, 10:13] = False  # 3 missing: filled
    present[0, 40:52] = False  # 12 missing: longer than max_gap, stays missing
    runtime.store.write_intervals(ids, DAY0, values, present=present)
    report = runtime.vee.run("nightly", DAY0, DAY0 + timedelta(days=1))
    assert report.status == "succeeded"
    assert report.values_estimated == 3
    data = _day(runtime, ids)
    expected = values[0, 9] + (values[0, 13] - values[0, 9]) * np.arange(1, 4) / 4
    assert np.allclose(data.values[0, 10:13], expected)
    flags = data.flags[0]
    assert all(method_of(int(f)) == EstimationMethod.LINEAR_INTERPOLATION for f in flags[10:13])
    assert ((flags[10:13] & Flag.ESTIMATED) != 0).all()
    assert ((flags[10:13] & Flag.SUBSTITUTED) == 0).all()  # nothing measured was replaced
    assert np.isnan(data.values[0, 40:52]).all()
    assert ((flags[~np.isnan(data.values[0])] & Flag.VALIDATED) != 0).all()
    with runtime.engine.connect() as conn:
        run = conn.execute(select(ValidationRun.__table__)).one()
        rows = conn.execute(
            select(validation_result.c.check_name, validation_result.c.outcome).where(
                validation_result.c.run_id == report.run_id
            )
        ).all()
    assert run.status == "succeeded" and run.values_estimated == 3 and run.channels_done == 1
    assert sorted(set(map(tuple, rows))) == [("gaps", "missing"), ("linear", "estimated")]
    assert run.summary["by_step"] == {"gaps": 15, "linear": 3}


def test_a_spike_is_replaced_and_marked_substituted(runtime: Runtime, fleet: Fleet) -> None:
    ids = fleet.channels(1, group="g")
    _profile(runtime, "nightly", NIGHTLY, "g")
    values = profile_values(1)
    values[0, 30] = 9.0
    runtime.store.write_intervals(ids, DAY0, values)
    runtime.vee.run("nightly", DAY0, DAY0 + timedelta(days=1))
    data = _day(runtime, ids)
    assert data.values[0, 30] == pytest.approx((values[0, 29] + values[0, 31]) / 2)
    assert data.flags[0, 30] & Flag.SUBSTITUTED and data.flags[0, 30] & Flag.ESTIMATED
    # the measured spike is still the raw value
    raw = runtime.store.read_intervals(ids, DAY0, DAY0 + timedelta(days=1), layer="raw")
    assert raw.values[0, 30] == 9.0


def test_running_again_gives_the_same_result_and_no_new_version(
    runtime: Runtime, fleet: Fleet
) -> None:
    ids = fleet.channels(2, group="g")
    _profile(runtime, "nightly", NIGHTLY, "g")
    values = profile_values(2, channels=2)
    values[1, 50] = 7.5
    present = np.ones(values.shape, dtype=bool)
    present[0, 100:104] = False
    runtime.store.write_intervals(ids, DAY0, values, present=present)
    runtime.vee.run("nightly", DAY0, DAY0 + timedelta(days=2))
    first = _day(runtime, ids, 2)
    versions = [len(runtime.store.versions(c, DAY0, DAY0 + timedelta(days=2))) for c in ids]
    again = runtime.vee.run("nightly", DAY0, DAY0 + timedelta(days=2))
    second = _day(runtime, ids, 2)
    assert again.status == "succeeded"
    np.testing.assert_array_equal(first.values, second.values)
    np.testing.assert_array_equal(first.flags, second.flags)
    assert [len(runtime.store.versions(c, DAY0, DAY0 + timedelta(days=2))) for c in ids] == versions


def test_status_bits_make_values_suspect(runtime: Runtime, fleet: Fleet) -> None:
    ids = fleet.channels(1, group="g")
    _profile(
        runtime,
        "status",
        [{"kind": "check", "name": "status_bits", "parameters": {"bits": "power_down"}}],
        "g",
    )
    status = np.zeros((1, 4), dtype=np.uint32)
    status[0, 2] = 1 << 7
    runtime.store.write_intervals(ids, DAY0, np.full((1, 4), 0.3), status)
    runtime.vee.run("status", DAY0, DAY0 + timedelta(hours=1))
    flags = runtime.store.read_intervals(ids, DAY0, DAY0 + timedelta(hours=1)).flags[0]
    assert ((flags & Flag.SUSPECT) != 0).tolist() == [False, False, True, False]
    assert flags[2] & 0xFF == 1 << 7  # the meter's status stays


def test_manual_locked_and_released_values_are_left_alone(runtime: Runtime, fleet: Fleet) -> None:
    ids = fleet.channels(1, group="g")
    _profile(
        runtime,
        "null",
        [
            {"kind": "check", "name": "limits", "parameters": {"max": 1.0}},
            {"kind": "estimate", "name": "null"},
        ],
        "g",
    )
    values = np.full((1, 96), 0.3)
    values[0, [5, 20, 60]] = 5.0
    runtime.store.write_intervals(ids, DAY0, values)
    runtime.editing.substitute(
        ids[0], DAY0 + 20 * QUARTER, [5.0], user="ann", reason="meter read on site"
    )
    runtime.vee.run("null", DAY0, DAY0 + timedelta(days=1))
    data = _day(runtime, ids)
    assert np.isnan(data.values[0, 5])  # insert null: removed, flagged
    assert method_of(int(data.flags[0, 5])) == EstimationMethod.NULL
    assert data.values[0, 20] == 5.0 and data.flags[0, 20] & Flag.MANUAL  # the person's value
    assert np.isnan(data.values[0, 60])
    # release the first half day after fixing the value at slot 5 by hand
    runtime.editing.substitute(ids[0], DAY0 + 5 * QUARTER, [0.3], user="ann", reason="fixed")
    runtime.vee.run("null", DAY0, DAY0 + timedelta(days=1))
    released = runtime.editing.release(ids[0], DAY0, DAY0 + timedelta(hours=12), user="billing")
    before = _day(runtime, ids)
    runtime.store.write_intervals(ids, DAY0 + timedelta(days=1), np.full((1, 4), 0.3))
    runtime.vee.run("null", DAY0, DAY0 + timedelta(days=1))
    after = _day(runtime, ids)
    np.testing.assert_array_equal(before.flags[0, :48], after.flags[0, :48])
    assert released.released_by == "billing"


def test_a_failing_script_fails_its_channel_and_the_run_goes_on(
    runtime: Runtime, fleet: Fleet
) -> None:
    ids = fleet.channels(2, group="g")
    with transaction(runtime.sessions, user="t") as session:
        save_script(
            session,
            "fragile",
            "if data.values[0] > 1:\n    x = 1 / 0\nresult.flag(data.values > 0.45, 'high')\n",
            purpose="check",
        )
    _profile(
        runtime,
        "scripted",
        [{"kind": "script_check", "name": "fragile"}, {"kind": "check", "name": "gaps"}],
        "g",
    )
    values = np.full((2, 4), 0.3)
    values[0, 0] = 2.0  # makes the script raise for the first channel
    values[1, 2] = 0.5
    runtime.store.write_intervals(ids, DAY0, values)
    report = runtime.vee.run("scripted", DAY0, DAY0 + timedelta(hours=1))
    assert report.status == "partial"
    assert "line 2" in report.failures[ids[0]] and "fragile" in report.failures[ids[0]]
    assert "ZeroDivisionError" in report.failures[ids[0]]
    data = runtime.store.read_intervals(ids, DAY0, DAY0 + timedelta(hours=1))
    assert (data.flags[0] & Flag.VALIDATED == 0).all()  # not written
    assert ((data.flags[1] & Flag.SUSPECT) != 0).tolist() == [False, False, True, False]
    with runtime.engine.connect() as conn:
        failed = conn.execute(
            select(validation_result.c.channel_id, validation_result.c.message).where(
                validation_result.c.outcome == "failed"
            )
        ).all()
    assert [row.channel_id for row in failed] == [ids[0]]


def test_gaps_count_intervals_of_dst_days(runtime: Runtime, fleet: Fleet) -> None:
    ids = fleet.channels(1, group="g")
    with transaction(runtime.sessions, user="t") as session:
        create_calendar(session, "Prague", country="CZ", tz="Europe/Prague")
    _profile(runtime, "dst", [{"kind": "check", "name": "gaps"}], "g", calendar="Prague")
    spring = date(2026, 3, 29)
    values = np.full((1, 92), 0.2)
    present = np.ones((1, 92), dtype=bool)
    present[0, 50] = False
    runtime.store.write_local_days(ids, spring, values, tz="Europe/Prague", present=present)
    start = datetime(2026, 3, 28, 23, tzinfo=UTC)
    report = runtime.vee.run("dst", start, start + timedelta(hours=23))
    assert report.status == "succeeded"
    with runtime.engine.connect() as conn:
        run = conn.execute(
            select(ValidationRun.__table__).where(ValidationRun.id == report.run_id)
        ).one()
    assert run.values_checked == 92
    assert report.by_step == {"gaps": 1}
    with runtime.engine.connect() as conn:
        (message,) = conn.execute(
            select(validation_result.c.message).where(validation_result.c.run_id == report.run_id)
        ).one()
    assert "2026-03-29: 91 of 92" in message
    autumn = date(2026, 10, 25)
    runtime.store.write_local_days(ids, autumn, np.full((1, 100), 0.2), tz="Europe/Prague")
    start = datetime(2026, 10, 24, 22, tzinfo=UTC)
    report = runtime.vee.run("dst", start, start + timedelta(hours=25))
    assert report.values_checked == 100


def test_like_day_estimation_uses_holidays_and_special_days(runtime: Runtime, fleet: Fleet) -> None:
    ids = fleet.channels(1, group="g")
    with transaction(runtime.sessions, user="t") as session:
        calendar = create_calendar(session, "Germany", country="DE", tz="UTC")
        set_special_day(session, calendar, date(2026, 5, 20), "shutdown")
    _profile(
        runtime,
        "like days",
        [
            {"kind": "check", "name": "gaps"},
            {"kind": "estimate", "name": "like_day", "parameters": {"days": 2}},
        ],
        "g",
        calendar="Germany",
    )
    start = datetime(2026, 4, 27, tzinfo=UTC)  # a Monday; 2026-05-01 is a holiday (Friday)
    days = 28
    slot_day = np.arange(96 * days) // 96
    weekday = (slot_day + 0) % 7
    values = np.where(weekday < 5, 1.0, 0.4)[None, :] + (np.arange(96 * days) % 96)[None, :] / 1000
    values[0, 4 * 96 : 5 * 96] = 0.4 + (np.arange(96)) / 1000  # 1 May: like a Sunday
    present = np.ones(values.shape, dtype=bool)
    gap_day = 25  # 2026-05-22, a Friday: filled from the two Fridays before (15th, 8th)
    present[0, gap_day * 96 + 30 : gap_day * 96 + 60] = False
    runtime.store.write_intervals(ids, start, values, present=present)
    report = runtime.vee.run("like days", start, start + timedelta(days=days))
    assert report.values_estimated == 30
    data = runtime.store.read_intervals(ids, start, start + timedelta(days=days))
    filled = data.values[0, gap_day * 96 + 30 : gap_day * 96 + 60]
    np.testing.assert_allclose(filled, 1.0 + np.arange(30, 60) / 1000)
    assert all(
        method_of(int(f)) == EstimationMethod.LIKE_DAY
        for f in data.flags[0, gap_day * 96 + 30 : gap_day * 96 + 60]
    )


def test_main_and_check_meter_comparison(runtime: Runtime, fleet: Fleet) -> None:
    ids = fleet.channels(1, group="g", extra=(("1-0:1.29.0*2", "profile", 15),))
    check = fleet.channel_on_same_meter(ids[0], "1-0:1.29.0*2")
    _profile(
        runtime,
        "main/check",
        [
            {
                "kind": "check",
                "name": "main_check",
                "parameters": {"check_channel": "1-0:1.29.0*2", "relative": 0.05},
            },
            {"kind": "estimate", "name": "check_meter", "parameters": {"check_channel": check}},
        ],
        "g",
    )
    main = np.full((1, 4), 1.0)
    main[0, 1] = 1.5
    runtime.store.write_intervals([ids[0], check], DAY0, np.vstack([main, np.full((1, 4), 1.02)]))
    report = runtime.vee.run("main/check", DAY0, DAY0 + timedelta(hours=1), channel_ids=ids)
    assert report.by_step == {"main_check": 1, "check_meter": 1}
    data = runtime.store.read_intervals(ids, DAY0, DAY0 + timedelta(hours=1))
    assert data.values[0].tolist() == [1.0, 1.02, 1.0, 1.0]
    assert method_of(int(data.flags[0, 1])) == EstimationMethod.CHECK_METER


def test_register_comparison_marks_the_span_between_readings(
    runtime: Runtime, fleet: Fleet
) -> None:
    ids = fleet.channels(1, group="g", extra=(("1-0:1.8.0", "register", None),))
    register = fleet.channel_on_same_meter(ids[0], "1-0:1.8.0")
    _profile(
        runtime,
        "registers",
        [{"kind": "check", "name": "register_comparison", "parameters": {"relative": 0.01}}],
        "g",
    )
    runtime.store.write_intervals(ids, DAY0, np.full((1, 8), 0.25))
    times = [DAY0, DAY0 + timedelta(hours=1), DAY0 + timedelta(hours=2)]
    runtime.store.write_registers([register] * 3, times, [100.0, 101.0, 103.0])
    report = runtime.vee.run("registers", DAY0, DAY0 + timedelta(hours=2))
    assert report.by_step == {"register_comparison": 4}  # the second hour: 1.0 vs 2.0
    flags = runtime.store.read_intervals(ids, DAY0, DAY0 + timedelta(hours=2)).flags[0]
    assert ((flags & Flag.SUSPECT) != 0).tolist() == [False] * 4 + [True] * 4
