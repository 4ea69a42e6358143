"""Communication statistics written by the engine's writer: exact counts per level, failures by
error class, bytes of real protocol sessions, hours and days across bucket boundaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from acquisition_helpers import wait_run
from sqlalchemy import func, select

from meterhub.acquisition.engine import AcquisitionEngine, EngineOptions
from meterhub.acquisition.statistics import communication_statistics
from meterhub.credential_keys import open_cipher
from meterhub.db import transaction
from meterhub.demo import populate_demo
from meterhub.errors import InvalidValue
from meterhub.inventory import jobs
from meterhub.model.devices import CommunicationPath
from meterhub.model.meters import Meter
from meterhub.model.statistics import CommunicationStatistic
from meterhub.model.tasks import SessionLog

SINCE = datetime(2020, 1, 1, tzinfo=UTC)
UNTIL = datetime(2100, 1, 1, tzinfo=UTC)


def _run(runtime, name, meter_ids, actions=("read_clock",), **options) -> int:
    with transaction(runtime.sessions, user="alice") as session:
        job = jobs.create_job(
            session, name=name, actions=list(actions), meters=meter_ids, user="alice", **options
        )
        return jobs.run_job(session, job, user="alice").id


def _stats(runtime, level, key=None, bucket="day", **kwargs):
    with runtime.sessions() as session:
        return communication_statistics(
            session, level, key, since=kwargs.pop("since", SINCE),
            until=kwargs.pop("until", UNTIL), bucket=bucket, **kwargs,
        )  # fmt: skip


def _total(rows):
    """The rows of one object summed over buckets (a test may cross midnight)."""
    failures: dict[str, int] = {}
    for row in rows:
        for name, count in row.failures.items():
            failures[name] = failures.get(name, 0) + count
    return (
        sum(r.attempts for r in rows),
        sum(r.successes for r in rows),
        failures,
        sum(r.backup for r in rows),
        sum(r.failovers for r in rows),
    )


def test_attempts_successes_and_failures_by_error_class_per_level(
    runtime, make_fleet, start_engine
):
    good = make_fleet(2)
    unreachable = make_fleet(1, settings={"unreachable": "true"})
    hanging = make_fleet(1, settings={"hang_after": "0"})
    meter_ids = good.meter_ids + unreachable.meter_ids + hanging.meter_ids
    run_id = _run(
        runtime, "mixed", meter_ids, max_attempts=2, retry_delay=1, retry_backoff=1.0,
        session_timeout=1,
    )  # fmt: skip
    start_engine()
    run = wait_run(runtime, run_id)
    assert (run.tasks_succeeded, run.tasks_failed) == (2, 2)
    # 2 good sessions, 2 attempts of the unreachable meter (link), 2 cut off (timeout)
    assert _total(_stats(runtime, "summary")) == (6, 2, {"link": 2, "timeout": 2}, 0, 0)
    per_meter = {}
    for row in _stats(runtime, "virtual-meter"):
        per_meter.setdefault(row.key, []).append(row)
    assert sorted(per_meter) == sorted(
        good.virtual_meter_ids + unreachable.virtual_meter_ids + hanging.virtual_meter_ids
    )
    for key in good.virtual_meter_ids:
        assert _total(per_meter[key]) == (1, 1, {}, 0, 0)
    assert _total(per_meter[unreachable.virtual_meter_ids[0]]) == (2, 0, {"link": 2}, 0, 0)
    assert _total(per_meter[hanging.virtual_meter_ids[0]]) == (2, 0, {"timeout": 2}, 0, 0)
    # one virtual meter asked by key; durations: the cut sessions lasted the timeout
    (hung,) = _stats(runtime, "virtual_meter", hanging.virtual_meter_ids[0], bucket="hour")[:1]
    assert hung.seconds >= 2 * 0.9 and hung.mean_seconds >= 0.9
    # meters without a device: no device or path rows
    assert _stats(runtime, "device") == [] and _stats(runtime, "path") == []
    # the counters agree with the session records they summarise
    with runtime.sessions() as session:
        sessions = session.scalar(select(func.count()).select_from(SessionLog))
        counted = session.scalar(
            select(func.sum(CommunicationStatistic.sessions)).where(
                CommunicationStatistic.scope == "summary"
            )
        )
    assert sessions == counted == 6


def test_path_level_counts_the_backup_path_and_failovers(runtime, make_fleet, start_engine):
    fleet = make_fleet(2, paths=[{"settings": {"unreachable": "true"}}, {"settings": {}}])
    run_id = _run(runtime, "failover", fleet.meter_ids, ["read_clock", "read_registers"])
    start_engine()
    assert wait_run(runtime, run_id).status == "succeeded"
    with runtime.sessions() as session:
        paths = {
            (p.meter_id, p.priority): (p.id, p.device_id)
            for p in session.scalars(select(CommunicationPath))
        }
    assert _total(_stats(runtime, "summary")) == (4, 2, {"link": 2}, 2, 2)
    for meter_id in fleet.meter_ids:
        main_path, main_device = paths[(meter_id, 1)]
        backup_path, backup_device = paths[(meter_id, 2)]
        assert _total(_stats(runtime, "path", main_path)) == (1, 0, {"link": 1}, 0, 0)
        assert _total(_stats(runtime, "path", backup_path)) == (1, 1, {}, 1, 1)
        assert _total(_stats(runtime, "device", main_device)) == (1, 0, {"link": 1}, 0, 0)
        assert _total(_stats(runtime, "device", backup_device)) == (1, 1, {}, 1, 1)
    every_path = _stats(runtime, "path", [paths[(m, 2)][0] for m in fleet.meter_ids])
    assert {row.key for row in every_path} == {paths[(m, 2)][0] for m in fleet.meter_ids}


def test_bytes_of_real_modbus_sessions_are_counted(runtime, start_engine):
    simulator = runtime.plugins.simulators()["modbus"]()
    with simulator.start(2) as fleet:
        cipher = open_cipher(runtime.settings.effective_credential_key_file, runtime.sessions)
        with transaction(runtime.sessions, user="tester") as session:
            populate_demo(session, fleet.endpoints, runtime.plugins.drivers(), cipher)
            meter_ids = list(session.scalars(select(Meter.id).order_by(Meter.id)))
        start_engine()
        run = wait_run(runtime, _run(runtime, "modbus", meter_ids, ["read_registers"]))
        assert run.status == "succeeded"
    with runtime.sessions() as session:
        logs = list(session.scalars(select(SessionLog)))
    sent = sum(log.bytes_sent for log in logs)
    received = sum(log.bytes_received for log in logs)
    assert sent > 0 and received > 0
    summary = _stats(runtime, "summary")
    assert sum(r.bytes_sent for r in summary) == sent
    assert sum(r.bytes_received for r in summary) == received
    for level, attribute in (("device", "device_id"), ("path", "path_id")):
        rows = _stats(runtime, level)
        expected: dict[int, tuple[int, int]] = {}
        for log in logs:
            key = getattr(log, attribute)
            s, r = expected.get(key, (0, 0))
            expected[key] = (s + log.bytes_sent, r + log.bytes_received)
        got: dict[int, tuple[int, int]] = {}
        for row in rows:
            s, r = got.get(row.key, (0, 0))
            got[row.key] = (s + row.bytes_sent, r + row.bytes_received)
        assert got == expected and len(got) == 2


def test_hours_and_days_across_bucket_boundaries(runtime, make_fleet):
    fleet = make_fleet(1)
    # times ahead of now (tasks are due at once): 22:30 and 23:30 of one day, 00:30 the next
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    midnight += timedelta(days=3)
    times = [midnight - timedelta(minutes=90), midnight - timedelta(minutes=30)]
    times.append(midnight + timedelta(minutes=30))
    offset = [timedelta(0)]

    def clock() -> datetime:
        return datetime.now(UTC) + offset[0]

    engine = AcquisitionEngine(runtime, options=EngineOptions(poll_seconds=0.05), clock=clock)
    try:
        for number, at in enumerate(times):
            offset[0] = at - datetime.now(UTC)
            if number == 0:
                engine.start()
            run_id = _run(runtime, f"at {at:%H:%M}", fleet.meter_ids)
            engine.wake()
            assert wait_run(runtime, run_id).status == "succeeded"
    finally:
        engine.stop()
    since = midnight - timedelta(days=1)
    hours = _stats(runtime, "summary", bucket="hour", since=since, until=midnight + timedelta(1))
    assert [(r.bucket, r.attempts, r.successes) for r in hours] == [
        (midnight - timedelta(hours=2), 1, 1),
        (midnight - timedelta(hours=1), 1, 1),
        (midnight, 1, 1),
    ]
    days = _stats(runtime, "summary", bucket="day", since=since, until=midnight + timedelta(1))
    assert [(r.bucket, r.attempts) for r in days] == [
        (midnight - timedelta(days=1), 2),
        (midnight, 1),
    ]
    # the same hours as days of a zone one hour ahead of UTC: 23:30 UTC is 00:30 there
    local = _stats(runtime, "virtual_meter", fleet.virtual_meter_ids[0], bucket="day",
                   since=since, until=midnight + timedelta(1), zone="Africa/Lagos")  # fmt: skip
    assert [(r.bucket.astimezone(UTC), r.attempts) for r in local] == [
        (midnight - timedelta(days=1, hours=1), 1),
        (midnight - timedelta(hours=1), 2),
    ]
    # retention (statistics_retention_days, 400): per-object hours before it go, the summary stays
    assert engine.prune_statistics(midnight + timedelta(days=400)) == 2
    kept = _stats(
        runtime, "virtual_meter", bucket="hour", since=since, until=midnight + timedelta(1)
    )
    assert [r.bucket for r in kept] == [midnight]
    assert len(_stats(runtime, "summary", bucket="hour", since=since)) == 3
    # the until bound is exclusive; since is rounded down to its bucket
    first = _stats(runtime, "summary", bucket="hour", since=times[0], until=times[1])
    assert [r.bucket for r in first] == [
        midnight - timedelta(hours=2),
        midnight - timedelta(hours=1),
    ]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"level": "meter"}, "level: unknown level 'meter'"),
        ({"bucket": "week"}, "bucket: unknown bucket 'week'"),
        ({"since": datetime(2026, 1, 1)}, "since: 2026-01-01T00:00:00 has no time zone"),
        ({"zone": "Mars/Olympus"}, "zone: 'Mars/Olympus' is not a known time zone"),
        ({"until": datetime(2019, 1, 1, tzinfo=UTC)}, "until: must be later than since"),
    ],
)
def test_bad_queries_are_refused_naming_the_part(runtime, arguments, message):
    values = {"level": "summary", "since": SINCE, "bucket": "hour"} | arguments
    with runtime.sessions() as session, pytest.raises(InvalidValue, match=message):
        communication_statistics(session, values.pop("level"), **values)


def test_the_read_modify_write_fallback_adds_like_the_upsert(
    runtime, make_fleet, start_engine, monkeypatch
):
    """Databases without ``ON CONFLICT`` (Oracle): existing rows are locked and added to."""
    from meterhub.acquisition import statistics

    monkeypatch.setattr(statistics, "_UPSERT", {})
    fleet = make_fleet(2, paths=[{"settings": {"unreachable": "true"}}, {"settings": {}}])
    start_engine()
    for number in range(2):
        run_id = _run(runtime, f"again {number}", fleet.meter_ids, ["read_clock"])
        assert wait_run(runtime, run_id).status == "succeeded"
    assert _total(_stats(runtime, "summary")) == (8, 4, {"link": 4}, 4, 4)
    for key in fleet.virtual_meter_ids:
        assert _total(_stats(runtime, "virtual_meter", key)) == (4, 2, {"link": 2}, 2, 2)
