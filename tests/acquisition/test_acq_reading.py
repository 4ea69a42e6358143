"""What is read is stored: profiles, registers and events of simulated meters, in batches."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import numpy as np
from acquisition_helpers import wait_run, wait_until
from sqlalchemy import select

from meterhub.db import transaction
from meterhub.extensions.driverkit import SimulatedMeter
from meterhub.inventory import jobs
from meterhub.model.sessionstate import LastRead
from meterhub.model.tasks import Task


def _previous_day(now: datetime) -> datetime:
    return datetime.combine(now.date() - timedelta(days=1), time(), UTC)


def test_a_job_reads_profiles_registers_and_events_into_the_store(
    runtime, make_fleet, start_engine, listener
):
    fleet = make_fleet(3)
    with transaction(runtime.sessions, user="alice") as session:
        job = jobs.create_job(
            session,
            name="daily read",
            actions=[
                {"action": "read_load_profile", "parameters": {"range": "previous_day"}},
                "read_registers",
                {"action": "read_events", "parameters": {"range": "previous_day"}},
            ],
            meters=fleet.meter_ids,
            user="alice",
        )
        run = jobs.run_job(session, job, user="alice")
        job_id = job.id
    start_engine()
    finished = wait_run(runtime, run.id)
    assert finished.status == "succeeded"
    assert finished.tasks_total == 9 and finished.tasks_succeeded == 9
    day = _previous_day(finished.created_at)
    for serial, virtual in zip(fleet.serials, fleet.virtual_meter_ids, strict=True):
        model = SimulatedMeter(serial)
        ends = np.arange(int(day.timestamp()) + 900, int(day.timestamp()) + 86_401, 900)
        registers = model.registers_at(np.concatenate(([ends[0] - 900], ends)))
        channel = fleet.channels[(virtual, "1-0:1.29.0*255")]
        data = runtime.store.read_intervals([channel], day, day + timedelta(days=1), layer="raw")
        assert np.array_equal(data.values[0], np.diff(registers["active"]).astype(float))
        reactive = fleet.channels[(virtual, "1-0:3.29.0*255")]
        data = runtime.store.read_intervals([reactive], day, day + timedelta(days=1), layer="raw")
        assert np.array_equal(data.values[0], np.diff(registers["reactive"]).astype(float))
        register = fleet.channels[(virtual, "1-0:1.8.0*255")]
        readings = runtime.store.read_registers([register], day, datetime.now(UTC) + timedelta(1))
        assert len(readings.values) == 1
        events = model.events(int(day.timestamp()), int(day.timestamp()) + 86_400)
        event_channel = fleet.channels[(virtual, "0-0:99.98.0*255")]
        stored = runtime.store.read_events([event_channel], day, day + timedelta(days=1))
        assert len(stored.codes) == len(events)
    with runtime.sessions() as session:
        tasks = list(session.scalars(select(Task).where(Task.run_id == run.id)))
    assert {t.state for t in tasks} == {"succeeded"}
    profile_tasks = [t for t in tasks if t.action == "read_load_profile"]
    assert all(t.details["values"] == 192 for t in profile_tasks)
    assert all(t.sessions for t in tasks)
    # three meters, each one session for its three tasks
    assert len({t.sessions[0] for t in tasks}) == 3
    wait_until(lambda: len(listener.tasks) == 9 and listener.jobs, "the nine tasks' announcement")
    assert len(listener.tasks) == 9 and {t.status for t in listener.tasks} == {"succeeded"}
    assert {(t.job_id, t.run_id) for t in listener.tasks} == {(job_id, run.id)}
    assert [j.run_id for j in listener.jobs] == [run.id]
    assert listener.jobs[0].status == "succeeded"
    assert any(kind == "raw" for *_, kind in listener.stored)


def test_since_the_last_read_continues_where_the_last_successful_read_ended(
    runtime, make_fleet, start_engine
):
    fleet = make_fleet(1)
    start_engine()
    runs = []
    for name in ("first", "second"):
        with transaction(runtime.sessions, user="alice") as session:
            job = jobs.create_job(
                session, name=name, actions=["read_load_profile"], meters=fleet.meter_ids
            )
            runs.append(jobs.run_job(session, job, user="alice").id)
        wait_run(runtime, runs[-1])
    with runtime.sessions() as session:
        first, second = (
            session.scalars(select(Task).where(Task.run_id == run_id)).one() for run_id in runs
        )
        (mark,) = session.scalars(select(LastRead)).all()
    assert first.details["values"] >= 2 * 95  # a day back for a meter never read
    assert second.details["from"] == first.details["read_to"]
    assert mark.read_to.replace(tzinfo=UTC).isoformat() in (
        first.details["read_to"],
        second.details.get("read_to"),
    )


def test_a_profile_read_with_no_interval_ended_since_is_nothing_due() -> None:
    from meterhub.acquisition.performers import interval_due
    from meterhub.acquisition.plans import ChannelRef, MeterPlan

    plan = MeterPlan(1, "ACME", "1", "iec62056_21", True, {}, None, [])
    t0 = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    assert interval_due(plan, t0, t0 + timedelta(seconds=30))  # no profile channels: read
    plan.channels[("profile", "1-0:1.29.0*255")] = [
        ChannelRef(7, 1, "profile", "1-0:1.29.0*255", 15, "Wh", 0)
    ]
    assert not interval_due(plan, t0, t0 + timedelta(minutes=14, seconds=59))
    assert interval_due(plan, t0, t0 + timedelta(minutes=15))
    assert interval_due(plan, t0 - timedelta(seconds=1), t0)
    assert not interval_due(plan, t0 + timedelta(minutes=1), t0 + timedelta(minutes=3))
