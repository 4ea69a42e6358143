"""Scheduled validation profiles: due at their occurrences in the calendar's zone (DST
included), served once each, caught up once after a stop, left alone when disabled; the
scheduler thread runs them and a failing profile does not stop the others; scheduled
calculations recompute their look-back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import select, update
from vee_fixtures import Fleet, profile_values

from meterhub.acquisition.calendars import schedule_calendar
from meterhub.db import transaction
from meterhub.errors import InvalidValue
from meterhub.inventory.calculations import define_calculation
from meterhub.inventory.calendars import create_calendar
from meterhub.inventory.vee import assign_profile, create_profile
from meterhub.model.calculations import CalculationDefinition
from meterhub.model.vee import ValidationProfile, ValidationRun
from meterhub.runtime import Runtime
from meterhub.vee.scheduling import VeeScheduler, due_calculations, due_profiles, run_due

STEPS = [{"kind": "check", "name": "gaps"}, {"kind": "estimate", "name": "linear"}]
#: 02:30 in Prague: 01:30 UTC in winter, 00:30 UTC in summer.
NIGHTLY = "FREQ=DAILY;BYHOUR=2;BYMINUTE=30"


def _profile(
    runtime: Runtime, name: str, group: str, schedule: str | None, *, lookback_days: int = 2
) -> None:
    with transaction(runtime.sessions, user="t") as session:
        if session.scalars(select(ValidationProfile)).first() is None:
            create_calendar(session, "prague", country="CZ", tz="Europe/Prague")
        profile = create_profile(
            session,
            name,
            STEPS,
            runtime.plugins,
            calendar="prague",
            schedule=schedule,
            lookback_days=lookback_days,
        )
        assign_profile(session, profile, runtime.plugins, group=group)


def _due(runtime: Runtime, now: datetime) -> list[tuple[str, datetime]]:
    with runtime.sessions() as session:
        return [(item.name, item.occurrence) for item in due_profiles(session, now)]


def _scheduled_runs(runtime: Runtime) -> list[tuple[datetime, datetime, str]]:
    with runtime.sessions() as session:
        rows = session.execute(
            select(ValidationRun.period_start, ValidationRun.period_end, ValidationRun.status)
            .where(ValidationRun.trigger_kind == "schedule")
            .order_by(ValidationRun.id)
        ).all()
    return [(start.astimezone(UTC), end.astimezone(UTC), status) for start, end, status in rows]


def test_profile_schedule_follows_the_calendar_zone_through_dst() -> None:
    calendar = schedule_calendar(NIGHTLY, "Europe/Prague")
    winter = calendar.next_after(datetime(2026, 3, 27, 12, tzinfo=UTC))
    summer = calendar.next_after(datetime(2026, 3, 28, 12, tzinfo=UTC))
    assert winter == datetime(2026, 3, 28, 1, 30, tzinfo=UTC)
    # 29 March 2026 has no 02:30 in Prague: the run is at 03:30 local, 01:30 UTC
    assert summer == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert calendar.next_after(summer) == datetime(2026, 3, 30, 0, 30, tzinfo=UTC)
    with pytest.raises(InvalidValue, match="recurrence"):
        schedule_calendar("every night", "Europe/Prague")


def test_a_profile_runs_once_per_occurrence_and_catches_up_once(
    runtime: Runtime, fleet: Fleet
) -> None:
    ids = fleet.channels(2, group="nightly-group")
    _profile(runtime, "nightly", "nightly-group", NIGHTLY)
    _profile(runtime, "by-hand", "nightly-group", None)
    start = datetime(2026, 6, 1, 22, tzinfo=UTC)  # midnight in Prague
    values = profile_values(3, channels=2)
    present = np.ones(values.shape, dtype=bool)
    present[1, 50:53] = False
    runtime.store.write_intervals(ids, start, values, present=present)

    now = datetime(2026, 6, 4, 12, tzinfo=UTC)
    occurrence = datetime(2026, 6, 4, 0, 30, tzinfo=UTC)  # 02:30 summer time
    assert _due(runtime, now) == [("nightly", occurrence)]
    done = run_due(runtime.vee, runtime.sessions, now)
    assert [(item.kind, item.name, item.occurrence) for item in done] == [
        ("profile", "nightly", occurrence)
    ]
    assert _scheduled_runs(runtime) == [(occurrence - timedelta(days=2), occurrence, "succeeded")]
    filled = runtime.store.read_intervals(ids, start, start + timedelta(days=3)).values
    assert not np.isnan(filled[1, 50:53]).any()
    # served: nothing due until the next night's occurrence
    assert _due(runtime, now + timedelta(hours=12)) == []
    assert run_due(runtime.vee, runtime.sessions, now + timedelta(hours=12)) == []
    assert _due(runtime, occurrence + timedelta(days=1)) == [
        ("nightly", occurrence + timedelta(days=1))
    ]
    # five nights missed: one run, for the latest (its look-back covers the others)
    later = now + timedelta(days=5)
    assert _due(runtime, later) == [("nightly", occurrence + timedelta(days=5))]
    run_due(runtime.vee, runtime.sessions, later)
    assert [end for _, end, _ in _scheduled_runs(runtime)] == [
        occurrence,
        occurrence + timedelta(days=5),
    ]


def test_disabled_profiles_and_profiles_without_schedule_are_not_due(
    runtime: Runtime, fleet: Fleet
) -> None:
    fleet.channels(1, group="g")
    _profile(runtime, "nightly", "g", NIGHTLY)
    _profile(runtime, "manual", "g", None)
    with transaction(runtime.sessions, user="t") as session:
        session.execute(
            update(ValidationProfile)
            .where(ValidationProfile.name == "nightly")
            .values(enabled=False)
        )
    assert _due(runtime, datetime(2026, 6, 4, 12, tzinfo=UTC)) == []


def test_a_failing_profile_does_not_stop_the_others(
    runtime: Runtime, fleet: Fleet, caplog: pytest.LogCaptureFixture
) -> None:
    fleet.channels(1, group="g")
    _profile(runtime, "first", "g", NIGHTLY)
    _profile(runtime, "second", "g", "FREQ=HOURLY;BYMINUTE=0")
    calls: list[object] = []
    real = runtime.vee.run_scheduled

    def flaky(profile: object, now: datetime | None = None, **kwargs: object):  # type: ignore[no-untyped-def]
        calls.append(profile)
        if len(calls) == 1:
            raise RuntimeError("disk full")
        return real(profile, now=now)  # type: ignore[arg-type]

    runtime.vee.run_scheduled = flaky  # type: ignore[method-assign]
    now = datetime(2026, 6, 4, 12, 10, tzinfo=UTC)
    clock = [now]
    scheduler = VeeScheduler(runtime.vee, runtime.sessions, clock=lambda: clock[0])
    with caplog.at_level("ERROR", logger="meterhub.vee.scheduling"):
        done = scheduler.tick()
    assert [item.name for item in done] == ["second"]
    assert "scheduled run of validation profile 'first'" in caplog.text
    assert "disk full" in caplog.text
    assert [end for _, end, _ in _scheduled_runs(runtime)] == [datetime(2026, 6, 4, 12, tzinfo=UTC)]
    # the failed one had no run recorded: it is due again at the next look
    assert [name for name, _ in _due(runtime, now)] == ["first"]


def test_the_thread_runs_due_profiles_and_stops(runtime: Runtime, fleet: Fleet) -> None:
    fleet.channels(1, group="g")
    _profile(runtime, "hourly", "g", "FREQ=HOURLY;BYMINUTE=0")
    now = datetime(2026, 6, 4, 12, 10, tzinfo=UTC)
    scheduler = VeeScheduler(
        runtime.vee, runtime.sessions, clock=lambda: now, check_seconds=0.05
    ).start()
    try:
        deadline = datetime.now(UTC) + timedelta(seconds=20)
        while not _scheduled_runs(runtime) and datetime.now(UTC) < deadline:
            scheduler._stopping.wait(0.05)
    finally:
        scheduler.stop()
    assert [end for _, end, _ in _scheduled_runs(runtime)] == [datetime(2026, 6, 4, 12, tzinfo=UTC)]
    assert scheduler._thread is None


def _calculation(runtime: Runtime, formula: str, inputs: dict[str, int], target: int, **options):  # type: ignore[no-untyped-def]
    with transaction(runtime.sessions, user="t") as session:
        define_calculation(
            session,
            "balance",
            target=target,
            formula=formula,
            inputs=inputs,
            functions=runtime.plugins,
            **options,
        )


def test_a_scheduled_calculation_recomputes_its_look_back(runtime: Runtime, fleet: Fleet) -> None:
    a, b, balance = fleet.channels(3)
    day = datetime(2026, 3, 2, tzinfo=UTC)
    _calculation(runtime, "a + b", {"a": a, "b": b}, balance)
    runtime.store.write_intervals([a, b], day, np.array([[1.0, 2.0], [3.0, 5.0]]))
    window = (day, day + timedelta(minutes=30))
    assert runtime.store.read_intervals([balance], *window).values[0].tolist() == [4.0, 7.0]
    with pytest.raises(InvalidValue) as refused:
        _calculation(runtime, "a - b", {"a": a, "b": b}, balance, schedule="at three")
    assert refused.value.field == "schedule" and "RRULE" in refused.value.reason
    # a new formula on a schedule: the scheduled run recomputes what is already stored
    _calculation(
        runtime,
        "a - b",
        {"a": a, "b": b},
        balance,
        tz="Europe/Prague",
        schedule="FREQ=DAILY;BYHOUR=3",
        lookback_days=2,
    )
    now = datetime(2026, 3, 3, 12, tzinfo=UTC)
    occurrence = datetime(2026, 3, 3, 2, tzinfo=UTC)  # 03:00 in Prague, winter time
    with runtime.sessions() as session:
        assert due_profiles(session, now) == []
        assert [(w.name, w.occurrence) for w in due_calculations(session, now)] == [
            ("balance", occurrence)
        ]
    done = run_due(runtime.vee, runtime.sessions, now, runtime.calculations)
    assert [(w.kind, w.name) for w in done] == [("calculation", "balance")]
    assert runtime.store.read_intervals([balance], *window).values[0].tolist() == [-2.0, -3.0]
    with runtime.sessions() as session:
        served = session.scalars(select(CalculationDefinition.schedule_served_at)).one()
        assert served == occurrence
        assert due_calculations(session, now + timedelta(hours=12)) == []
        assert [w.occurrence for w in due_calculations(session, now + timedelta(days=1))] == [
            occurrence + timedelta(days=1)
        ]
