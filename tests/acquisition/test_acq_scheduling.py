"""The scheduler: runs at occurrences, one catch-up after a gap, missed windows, exception
dates; quick jobs first; line pools; the share of a large user job."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from acquisition_helpers import wait_run
from sqlalchemy import select

from meterhub.acquisition.engine import AcquisitionEngine, EngineOptions
from meterhub.acquisition.runs import RunPolicy
from meterhub.db import transaction
from meterhub.inventory import devices, jobs, lines
from meterhub.model.devices import CommunicationDevice
from meterhub.model.jobs import Job, JobRun
from meterhub.model.tasks import SessionLog, Task


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _runs(runtime, job_id):
    with runtime.sessions() as session:
        return list(
            session.scalars(select(JobRun).where(JobRun.job_id == job_id).order_by(JobRun.id))
        )


def test_scheduled_runs_follow_the_calendar_and_catch_up_once(runtime, make_fleet):
    fleet = make_fleet(1)
    clock = Clock(datetime(2026, 6, 1, 9, 58, tzinfo=UTC))
    with transaction(runtime.sessions, user="alice") as session:
        job = jobs.create_job(
            session,
            name="every 15",
            actions=["read_clock"],
            meters=fleet.meter_ids,
            kind="scheduled",
            recurrence="FREQ=MINUTELY;INTERVAL=15",
            starts_at=datetime(2026, 1, 1, tzinfo=UTC),
            window_minutes=5,
            exception_dates=["2026-06-02"],
            now=clock.now,
        )
        job_id = job.id
    engine = AcquisitionEngine(
        runtime, options=EngineOptions(schedule=True, lease=False, workers=1), clock=clock
    )
    engine.poll()  # not yet due
    assert _runs(runtime, job_id) == []
    clock.now = datetime(2026, 6, 1, 10, 1, tzinfo=UTC)
    engine._start_due_jobs(clock.now)
    (first,) = _runs(runtime, job_id)
    assert first.scheduled_for == datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    assert first.window_end == datetime(2026, 6, 1, 10, 5, tzinfo=UTC)
    assert (first.trigger_kind, first.started_by, first.tasks_total) == ("schedule", "scheduler", 1)
    # an hour without a scheduler: one run for the latest occurrence in its window, not four
    clock.now = datetime(2026, 6, 1, 11, 17, tzinfo=UTC)
    engine._start_due_jobs(clock.now)
    engine._start_due_jobs(clock.now)
    runs = _runs(runtime, job_id)
    assert len(runs) == 1  # 10:15 was missed: its window closed at 10:20
    with runtime.sessions() as session:
        assert session.get(Job, job_id).next_run_at == datetime(2026, 6, 1, 11, 30, tzinfo=UTC)
    clock.now = datetime(2026, 6, 1, 11, 31, tzinfo=UTC)
    engine._start_due_jobs(clock.now)
    assert [r.scheduled_for.minute for r in _runs(runtime, job_id)] == [0, 30]
    # no run on the exception date (UTC here): the next one is on 3 June
    clock.now = datetime(2026, 6, 1, 23, 50, tzinfo=UTC)
    with transaction(runtime.sessions, user="alice") as session:
        session.get(Job, job_id).next_run_at = datetime(2026, 6, 1, 23, 45, tzinfo=UTC)
    engine._start_due_jobs(clock.now)
    with runtime.sessions() as session:
        assert session.get(Job, job_id).next_run_at == datetime(2026, 6, 3, 0, 0, tzinfo=UTC)


def test_the_engine_starts_scheduled_runs_and_reads(runtime, make_fleet, start_engine):
    fleet = make_fleet(2)
    now = datetime.now(UTC)
    with transaction(runtime.sessions, user="alice") as session:
        job = jobs.create_job(
            session,
            name="minutely",
            actions=["read_registers"],
            meters=fleet.meter_ids,
            kind="scheduled",
            recurrence="FREQ=MINUTELY",
            starts_at=now - timedelta(minutes=1),
            now=now,
        )
        job.next_run_at = now  # due now
        job_id = job.id
    start_engine()
    deadline = datetime.now(UTC) + timedelta(seconds=20)
    while not _runs(runtime, job_id) and datetime.now(UTC) < deadline:
        pass
    (run,) = _runs(runtime, job_id)[:1]
    assert wait_run(runtime, run.id).status == "succeeded"


def test_quick_jobs_go_first_and_pools_bound_the_lines(runtime, make_fleet, start_engine):
    fleet = make_fleet(8, settings={"latency": "0.05"}, paths=[{}])
    with transaction(runtime.sessions, user="alice") as session:
        pool = lines.create_pool(session, name="modems", capacity=2)
        for device in session.scalars(select(CommunicationDevice)):
            lines.add_device(session, pool, device)
        job = jobs.create_job(session, name="bulk", actions=["read_clock"], meters=fleet.meter_ids)
        bulk = jobs.run_job(session, job, user="alice").id
        quick = jobs.quick_job(session, fleet.serials[-1], ["read_registers"], user="bob").id
    start_engine(workers=6)
    wait_run(runtime, bulk)
    wait_run(runtime, quick)
    with runtime.sessions() as session:
        sessions = list(session.scalars(select(SessionLog).order_by(SessionLog.started_at)))
        quick_task = session.scalars(select(Task).where(Task.run_id == quick)).one()
        run = session.get(JobRun, quick)
        assert run.quick and run.priority == 9
    assert {s.pool_key for s in sessions} == {"pool:modems"}
    events = sorted([(s.started_at, 1) for s in sessions] + [(s.finished_at, -1) for s in sessions])
    peak = level = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    assert peak == 2
    # the quick task overtook the bulk: at most the two lines were busy with bulk sessions
    # that began before it was queued
    (quick_session,) = [s for s in sessions if s.id == quick_task.sessions[0]]
    ahead = [s for s in sessions if s.started_at < quick_session.started_at]
    assert len(ahead) <= 2


def test_a_large_group_job_started_by_a_user_keeps_to_its_share(
    make_runtime, make_fleet, start_engine, runtime
):
    make_fleet(8, settings={"latency": "0.05"}, group="everyone")
    shared = make_runtime(acquisition_default_capacity=4, acquisition_large_job=4)
    with transaction(shared.sessions, user="alice") as session:
        job = jobs.create_job(session, name="big", actions=["read_clock"], groups=["everyone"])
        policy = RunPolicy(user_share=0.5, large_job=4)
        run = jobs.run_job(session, job, user="alice", default_capacity=4, policy=policy)
        assert run.capacity_share == 0.5
        run_id = run.id
    start_engine(shared)
    wait_run(runtime, run_id)
    with runtime.sessions() as session:
        sessions = list(session.scalars(select(SessionLog)))
    events = sorted([(s.started_at, 1) for s in sessions] + [(s.finished_at, -1) for s in sessions])
    peak = level = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    assert len(sessions) == 8 and peak == 2


def test_devices_of_one_pool(runtime):
    with transaction(runtime.sessions, user="alice") as session:
        pool = lines.create_pool(session, name="p", capacity=3)
        other = lines.create_pool(session, name="q", capacity=1)
        device = devices.create_device(session, name="m1", kind="modem", phone_number="+420123")
        lines.add_device(session, pool, device)
        try:
            lines.add_device(session, other, device)
        except Exception as exc:
            assert "is in line pool 'p'" in str(exc)
        else:
            raise AssertionError("a device joined two pools")


def test_what_waits_when_the_window_closes_is_cancelled(runtime, make_fleet):
    fleet = make_fleet(3)
    clock = Clock(datetime(2026, 6, 1, 10, 1, tzinfo=UTC))
    with transaction(runtime.sessions, user="alice") as session:
        job = jobs.create_job(
            session,
            name="windowed",
            actions=["read_clock"],
            meters=fleet.meter_ids,
            kind="scheduled",
            recurrence="FREQ=HOURLY",
            starts_at=datetime(2026, 1, 1, tzinfo=UTC),
            window_minutes=10,
            now=datetime(2026, 6, 1, 9, 30, tzinfo=UTC),
        )
        job_id = job.id
    engine = AcquisitionEngine(
        runtime, options=EngineOptions(lease=False, workers=0), clock=clock
    )  # no worker: the tasks wait
    engine.poll()
    (run,) = _runs(runtime, job_id)
    assert run.status == "running" and run.window_end == datetime(2026, 6, 1, 10, 10, tzinfo=UTC)
    clock.now = datetime(2026, 6, 1, 10, 11, tzinfo=UTC)
    engine.poll()
    (run,) = _runs(runtime, job_id)
    assert (run.status, run.tasks_cancelled) == ("cancelled", 3)
    with runtime.sessions() as session:
        tasks = session.scalars(select(Task).where(Task.run_id == run.id)).all()
    assert {(t.state, t.error_class) for t in tasks} == {("cancelled", "window")}
    assert "window of opportunity closed at 2026-06-01T10:10:00+00:00" in tasks[0].error_message
    assert engine.snapshot().queued == 0


def test_the_engine_runs_scheduled_validation_profiles(runtime, make_fleet, start_engine):
    from meterhub.inventory.vee import assign_profile, create_profile
    from meterhub.model.vee import ValidationRun

    make_fleet(2, group="validated")
    with transaction(runtime.sessions, user="alice") as session:
        profile = create_profile(
            session,
            "every five minutes",
            [{"kind": "check", "name": "gaps"}],
            runtime.plugins,
            schedule="FREQ=MINUTELY;INTERVAL=5",
            lookback_days=1,
        )
        assign_profile(session, profile, runtime.plugins, group="validated")

    def scheduled_runs():
        with runtime.sessions() as session:
            return session.execute(
                select(ValidationRun.status, ValidationRun.channels_total).where(
                    ValidationRun.trigger_kind == "schedule"
                )
            ).all()

    start_engine(workers=1, lease=False, validation=False).stop()
    assert scheduled_runs() == []
    start_engine(workers=1, lease=False)
    deadline = time.monotonic() + 30
    while [s for s, _ in scheduled_runs()] != ["succeeded"] and time.monotonic() < deadline:
        time.sleep(0.05)
    # both meters' two profile channels, checked by the scheduled run
    assert scheduled_runs() == [("succeeded", 4)]
