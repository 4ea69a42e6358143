"""Profile runs through the store for the checks and methods the other engine tests leave out:
daily values over a DST change, flat lines (outage aware), register rollback (counter wrap
aware), meter clock deviation, the hierarchy check and the hierarchy and last-plausible
estimation methods."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from vee_fixtures import DAY0, Fleet

from meterhub.db import transaction
from meterhub.inventory.calendars import create_calendar
from meterhub.inventory.vee import assign_profile, create_profile
from meterhub.runtime import Runtime
from meterhub.timeseries import EstimationMethod, Flag
from meterhub.timeseries.flags import method_of

PRAGUE = ZoneInfo("Europe/Prague")


def _profile(runtime: Runtime, name: str, steps: list[dict], group: str, **options: object) -> None:
    with transaction(runtime.sessions, user="t") as session:
        profile = create_profile(session, name, steps, runtime.plugins, **options)  # type: ignore[arg-type]
        assign_profile(session, profile, runtime.plugins, group=group)


def _suspect(runtime: Runtime, ids: list[int], hours: int) -> list[list[int]]:
    flags = runtime.store.read_intervals(ids, DAY0, DAY0 + timedelta(hours=hours)).flags
    return [np.flatnonzero((row & Flag.SUSPECT) != 0).tolist() for row in flags]


def test_a_daily_profile_over_a_dst_change(runtime: Runtime, fleet: Fleet) -> None:
    ids = fleet.channels(1, interval=1440, group="daily")
    with transaction(runtime.sessions, user="t") as session:
        create_calendar(session, "Prague", country="CZ", tz="Europe/Prague")
    _profile(
        runtime,
        "daily",
        [
            {"kind": "check", "name": "gaps"},
            {"kind": "check", "name": "spike", "parameters": {"factor": 3, "min_delta": 5}},
            {"kind": "estimate", "name": "linear", "parameters": {"max_gap": 2}},
        ],
        "daily",
        calendar="Prague",
    )
    start = datetime(2026, 3, 15, tzinfo=PRAGUE)  # 2026-03-29 (23 hours) lies inside
    values = 10.0 + np.arange(30, dtype=float)[None, :]
    present = np.ones(values.shape, dtype=bool)
    present[0, 14] = False  # 2026-03-29 itself
    values[0, 20] = 200.0  # a spike on 2026-04-04
    runtime.store.write_intervals(ids, start, values, present=present, tz=PRAGUE)
    report = runtime.vee.run("daily", start, start + timedelta(days=30))
    assert report.status == "succeeded"
    assert report.values_checked == 30
    assert report.by_step == {"gaps": 1, "spike": 1, "linear": 2}
    data = runtime.store.read_intervals(ids, start, start + timedelta(days=30), tz=PRAGUE)
    assert data.values[0, 14] == pytest.approx(24.0)  # between 23 and 25
    assert data.values[0, 20] == pytest.approx(30.0)  # the spike replaced
    flags = data.flags[0]
    assert [method_of(int(flags[i])) for i in (14, 20)] == [
        EstimationMethod.LINEAR_INTERPOLATION
    ] * 2
    assert (flags[14] & Flag.SUBSTITUTED) == 0 and (flags[20] & Flag.SUBSTITUTED) != 0
    assert ((flags & Flag.VALIDATED) != 0).all()
    assert [s.hour for s in data.timestamps()[13:16]] == [0, 0, 0]


def test_flat_lines_unless_an_outage_explains_them(runtime: Runtime, fleet: Fleet) -> None:
    ids = fleet.channels(1, group="flat")
    _profile(runtime, "flat", [{"kind": "check", "name": "flat_line"}], "flat")  # 8 intervals
    values = np.round(0.2 + 0.01 * np.arange(32, dtype=float), 2)[None, :]
    values[0, 4:13] = 0.5  # 9 equal values: a stuck meter
    values[0, 18:28] = 0.7  # 10 equal values, but the power failed in between
    values[0, 28:32] = 0.0  # zero is no flat line
    status = np.zeros(values.shape, dtype=np.uint32)
    status[0, 22] = 1 << 7  # power_down
    runtime.store.write_intervals(ids, DAY0, values, status=status)
    report = runtime.vee.run("flat", DAY0, DAY0 + timedelta(hours=8))
    assert report.by_step == {"flat_line": 9}
    assert _suspect(runtime, ids, 8) == [list(range(4, 13))]


def test_register_rollback_marks_the_intervals_between_the_readings(
    runtime: Runtime, fleet: Fleet
) -> None:
    ids = fleet.channels(2, group="rollback", extra=(("1-0:1.8.0*255", "register", None),))
    registers = [fleet.channel_on_same_meter(c, "1-0:1.8.0*255") for c in ids]
    _profile(
        runtime,
        "rollback",
        [{"kind": "check", "name": "register_rollback", "parameters": {"rollover": 100000}}],
        "rollback",
    )
    runtime.store.write_intervals(ids, DAY0, np.full((2, 16), 0.25))
    times = [DAY0 + timedelta(hours=h) for h in range(5)]
    readings = {
        registers[0]: [100.0, 101.0, 100.5, 101.5, 102.5],  # back between 1 h and 2 h
        registers[1]: [99998.0, 99999.0, 0.0, 1.0, 2.0],  # the counter wrapped: no rollback
    }
    for register, values in readings.items():
        runtime.store.write_registers([register] * 5, times, values)
    report = runtime.vee.run("rollback", DAY0, DAY0 + timedelta(hours=4))
    assert report.status == "succeeded"
    assert report.by_step == {"register_rollback": 4}
    assert _suspect(runtime, ids, 4) == [[4, 5, 6, 7], []]


def test_meter_clock_deviation(runtime: Runtime, fleet: Fleet) -> None:
    ids = fleet.channels(1, group="clock", extra=(("0-0:1.0.0*255", "register", None),))
    clock = fleet.channel_on_same_meter(ids[0], "0-0:1.0.0*255")
    _profile(
        runtime,
        "clock",
        [{"kind": "check", "name": "clock_deviation", "parameters": {"max_seconds": 20}}],
        "clock",
    )
    runtime.store.write_intervals(ids, DAY0, np.full((1, 12), 0.25))
    times = [DAY0 + timedelta(hours=h) for h in (1, 2, 3)]
    runtime.store.write_registers([clock] * 3, times, [5.0, -45.0, 12.0])  # seconds off
    report = runtime.vee.run("clock", DAY0, DAY0 + timedelta(hours=3))
    assert report.by_step == {"clock_deviation": 4}
    assert _suspect(runtime, ids, 3) == [[4, 5, 6, 7]]  # measured before the -45 s reading


def test_the_hierarchy_check_and_estimation(runtime: Runtime, fleet: Fleet) -> None:
    (parent,) = fleet.channels(1, group="parent")
    children = fleet.channels(2)
    near, far = fleet.channels(2)
    _profile(
        runtime,
        "hierarchy",
        [
            {
                "kind": "check",
                "name": "hierarchy",
                "parameters": {"children": children, "relative": 0.02},
            },
            {"kind": "check", "name": "gaps"},
            {"kind": "estimate", "name": "hierarchy", "parameters": {"sources": [near, far]}},
        ],
        "parent",
    )
    present = np.ones((1, 6), dtype=bool)
    present[0, 4:] = False
    runtime.store.write_intervals(
        [parent], DAY0, np.array([[2.0, 2.03, 3.0, 2.0, 0.0, 0.0]]), present=present
    )
    child_present = np.ones((2, 6), dtype=bool)
    child_present[1, 3] = False  # a child without a value: the interval is not judged
    runtime.store.write_intervals(children, DAY0, np.full((2, 6), 1.0), present=child_present)
    sources_present = np.ones((2, 6), dtype=bool)
    sources_present[0, 5] = False  # the nearest source has nothing: the next one serves
    runtime.store.write_intervals(
        [near, far],
        DAY0,
        np.array([[2.01, 2.01, 2.02, 2.01, 2.04, 0.0], [1.9, 1.9, 1.9, 1.9, 1.9, 1.95]]),
        present=sources_present,
    )
    report = runtime.vee.run("hierarchy", DAY0, DAY0 + timedelta(hours=1.5))
    assert report.status == "succeeded"
    assert report.by_step == {"hierarchy": 4, "gaps": 2}  # 1 suspect + 3 estimated
    data = runtime.store.read_intervals([parent], DAY0, DAY0 + timedelta(hours=1.5))
    assert data.values[0].tolist() == pytest.approx([2.0, 2.03, 2.02, 2.0, 2.04, 1.95])
    flags = data.flags[0]
    estimated = [i for i in range(6) if flags[i] & Flag.ESTIMATED]
    assert estimated == [2, 4, 5]
    assert all(method_of(int(flags[i])) == EstimationMethod.HIERARCHY for i in estimated)
    assert [bool(flags[i] & Flag.SUBSTITUTED) for i in estimated] == [True, False, False]


def test_last_plausible_value_after_interpolation(runtime: Runtime, fleet: Fleet) -> None:
    ids = fleet.channels(1, group="last")
    _profile(
        runtime,
        "last",
        [
            {"kind": "check", "name": "gaps"},
            {"kind": "estimate", "name": "linear", "parameters": {"max_gap": 2}},
            {"kind": "estimate", "name": "last_plausible", "parameters": {"max_gap": 4}},
        ],
        "last",
    )
    values = np.round(0.3 + 0.01 * np.arange(24, dtype=float), 2)[None, :]
    present = np.ones(values.shape, dtype=bool)
    present[0, 3:5] = False  # 2 missing: interpolated
    present[0, 8:14] = False  # 6 missing: the first 4 get the value before, 2 stay missing
    runtime.store.write_intervals(ids, DAY0, values, present=present)
    report = runtime.vee.run("last", DAY0, DAY0 + timedelta(hours=6))
    assert report.by_step == {"gaps": 8, "linear": 2, "last_plausible": 4}
    data = runtime.store.read_intervals(ids, DAY0, DAY0 + timedelta(hours=6))
    assert data.values[0, 3:5] == pytest.approx([0.33, 0.34])
    assert data.values[0, 8:12].tolist() == [values[0, 7]] * 4
    assert np.isnan(data.values[0, 12:14]).all()
    methods = [method_of(int(f)) for f in data.flags[0, 8:12]]
    assert methods == [EstimationMethod.LAST_PLAUSIBLE] * 4
