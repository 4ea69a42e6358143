"""Retries with back-off, error groups run again, failover to the backup path, hanging meters,
cancellation."""

from __future__ import annotations

import time

from acquisition_helpers import wait_run, wait_until
from sqlalchemy import select, update

from meterhub.db import transaction
from meterhub.inventory import errorgroups, jobs, tasks
from meterhub.model.meters import Meter
from meterhub.model.tasks import SessionLog, Task


def _job(runtime, name, fleet, actions=("read_clock",), **options):
    with transaction(runtime.sessions, user="alice") as session:
        job = jobs.create_job(
            session, name=name, actions=list(actions), meters=fleet.meter_ids, user="alice",
            **options,
        )  # fmt: skip
        return jobs.run_job(session, job, user="alice").id


def _sessions(runtime, meter_ids):
    with runtime.sessions() as session:
        return list(
            session.scalars(
                select(SessionLog).where(SessionLog.meter_id.in_(meter_ids)).order_by(SessionLog.id)
            )
        )


def test_a_failing_meter_is_retried_with_back_off_then_lands_in_an_error_group(
    runtime, make_fleet, start_engine, listener
):
    good = make_fleet(2)
    bad = make_fleet(1, settings={"unreachable": "true"})
    fleet_ids = good.meter_ids + bad.meter_ids
    good.meter_ids = fleet_ids
    run_id = _job(runtime, "flaky", good, max_attempts=3, retry_delay=1, retry_backoff=2.0)
    start_engine()
    run = wait_run(runtime, run_id)
    assert (run.status, run.tasks_succeeded, run.tasks_failed) == ("partial", 2, 1)
    attempts = _sessions(runtime, bad.meter_ids)
    assert [s.attempt for s in attempts] == [1, 2, 3]
    assert {(s.outcome, s.error_class) for s in attempts} == {("failed", "link")}
    gaps = [
        (b.started_at - a.finished_at).total_seconds()
        for a, b in zip(attempts, attempts[1:], strict=False)
    ]
    assert gaps[0] >= 0.9 and gaps[1] >= 1.9  # 1 s, then 2 s
    with runtime.sessions() as session:
        task = session.scalars(select(Task).where(Task.meter_id == bad.meter_ids[0])).one()
        assert (task.state, task.attempts, task.error_class) == ("failed", 3, "link")
        assert "does not answer" in task.error_message
        assert len(task.sessions) == 3
        group = errorgroups.find_error_group(session, run.error_group_id)
        members = errorgroups.members(session, group)
        assert [meter.id for meter, _ in members] == bad.meter_ids
        assert members[0][1].error_class == "link"
    wait_until(lambda: any(t.status == "failed" for t in listener.tasks), "the announcement")
    failed = [t for t in listener.tasks if t.status == "failed"]
    assert [(t.meter_id, t.attempts) for t in failed] == [(bad.meter_ids[0], 3)]
    # the meter is repaired; its error group runs again as a job
    with transaction(runtime.sessions, user="alice") as session:
        session.execute(
            update(Meter).where(Meter.id == bad.meter_ids[0]).values(driver_settings={})
        )
        rerun = jobs.rerun_error_group(session, run.error_group_id, user="alice")
    again = wait_run(runtime, rerun.id)
    assert (again.status, again.tasks_total, again.tasks_succeeded) == ("succeeded", 1, 1)


def test_the_backup_path_takes_over_within_the_same_task(runtime, make_fleet, start_engine):
    fleet = make_fleet(
        2, paths=[{"settings": {"unreachable": "true"}}, {"settings": {}}],
    )  # fmt: skip
    run_id = _job(runtime, "failover", fleet, actions=["read_clock", "read_registers"])
    start_engine()
    run = wait_run(runtime, run_id)
    assert (run.status, run.tasks_succeeded) == ("succeeded", 4)
    with runtime.sessions() as session:
        done = session.scalars(select(Task).where(Task.run_id == run_id)).all()
        assert {(t.attempts, t.path_priority) for t in done} == {(1, 2)}
        first = done[0]
        logs = tasks.sessions_of(session, first)
    assert [(s.path_priority, s.outcome, s.error_class) for s in logs] == [
        (1, "failed", "link"),
        (2, "succeeded", None),
    ]


def test_a_hanging_meter_is_cut_off_without_holding_its_line(
    make_runtime, make_fleet, start_engine, runtime
):
    hanging = make_fleet(1, settings={"hang_after": "0"})
    normal = make_fleet(1)
    both = hanging.meter_ids + normal.meter_ids
    hanging.meter_ids = both
    lone = make_runtime(acquisition_default_capacity=1)
    run_id = _job(runtime, "hang", hanging, session_timeout=1, max_attempts=1)
    start_engine(lone)
    run = wait_run(runtime, run_id)
    assert (run.tasks_succeeded, run.tasks_failed) == (1, 1)
    cut, served = _sessions(runtime, both[:1]), _sessions(runtime, both[1:])
    assert (cut[0].outcome, cut[0].error_class) == ("failed", "timeout")
    assert "longer than 1 s" in cut[0].error_message
    # one line: the second meter's session starts once the first is cut off, not later
    waited = (served[0].started_at - cut[0].started_at).total_seconds()
    assert 0.9 <= waited < 3.0


def test_one_session_per_meter_at_a_time_whatever_asks(runtime, make_fleet, start_engine):
    fleet = make_fleet(2, settings={"latency": "0.05"})
    first = _job(runtime, "one", fleet, actions=["read_clock"])
    second = _job(runtime, "two", fleet, actions=["read_registers"])
    start_engine()
    wait_run(runtime, first)
    wait_run(runtime, second)
    for meter_id in fleet.meter_ids:
        spans = [(s.started_at, s.finished_at) for s in _sessions(runtime, [meter_id])]
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            assert start >= end


def test_cancelling_a_run_stops_what_waits_and_what_runs(runtime, make_fleet, start_engine):
    fleet = make_fleet(6, settings={"latency": "0.2", "round_trips": "3"})
    lone_line = start_engine(workers=1)
    run_id = _job(runtime, "slow", fleet, actions=["read_clock"])
    deadline = time.monotonic() + 10
    while not _sessions(runtime, fleet.meter_ids) and time.monotonic() < deadline:
        with runtime.sessions() as session:
            if session.scalars(select(Task).where(Task.state == "running")).first():
                break
        time.sleep(0.02)
    with transaction(runtime.sessions, user="bob") as session:
        jobs.cancel_run(session, run_id, user="bob")
    run = wait_run(runtime, run_id)
    assert run.status == "cancelled"
    assert run.tasks_cancelled >= 4
    assert run.tasks_succeeded + run.tasks_failed + run.tasks_cancelled == 6
    with runtime.sessions() as session:
        cancelled = session.scalars(
            select(Task).where(Task.run_id == run_id, Task.state == "cancelled")
        ).all()
    assert any("cancelled by bob" in (t.error_message or "") for t in cancelled)
    assert lone_line.idle() or True
