"""The engine with real drivers and their simulators over loopback: DLMS with HLS (session
counters never replayed, even after a lost commit), debug logs with masked secrets, Modbus."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from acquisition_helpers import wait_run
from sqlalchemy import select

from meterhub.acquisition.writer import BatchWriter
from meterhub.credential_keys import open_cipher
from meterhub.db import transaction
from meterhub.demo import populate_demo
from meterhub.inventory import jobs, tasks
from meterhub.model.audit import AuditLog
from meterhub.model.meters import Meter
from meterhub.model.sessionstate import SessionState
from meterhub.model.tasks import SessionLog, Task


def _register(runtime, endpoints) -> list[int]:
    cipher = open_cipher(runtime.settings.effective_credential_key_file, runtime.sessions)
    with transaction(runtime.sessions, user="tester") as session:
        populate_demo(session, endpoints, runtime.plugins.drivers(), cipher)
        return list(session.scalars(select(Meter.id).order_by(Meter.id)))


def _run(runtime, name, meter_ids, actions) -> int:
    with transaction(runtime.sessions, user="alice") as session:
        job = jobs.create_job(session, name=name, actions=actions, meters=meter_ids)
        return jobs.run_job(session, job, user="alice").id


def _counters(runtime) -> dict[int, tuple[int, int]]:
    with runtime.sessions() as session:
        return {
            row.meter_id: (int(row.value), int(row.reserved_to))
            for row in session.scalars(
                select(SessionState).where(SessionState.name == "invocation_counter")
            )
        }


def test_dlms_hls_counters_are_reserved_and_never_replayed(runtime, start_engine, monkeypatch):
    simulator = runtime.plugins.simulators()["dlms"]()
    options = {"framing": "wrapper", "authentication": "high"}
    with simulator.start(2, options=options) as fleet:
        meter_ids = _register(runtime, fleet.endpoints)
        engine = start_engine()
        first = wait_run(
            runtime, _run(runtime, "hls 1", meter_ids, ["read_clock", "read_registers"])
        )
        assert first.status == "succeeded", _errors(runtime, first.id)
        after_first = _counters(runtime)
        assert set(after_first) == set(meter_ids)
        for value, reserved_to in after_first.values():
            assert 1 < value < reserved_to  # the counter moved on; a block stays reserved
        # the counter is session state, not a setting: no settings change, nothing audited
        with runtime.sessions() as session:
            for meter in session.scalars(select(Meter)):
                assert "invocation_counter" not in meter.driver_settings
            audited = session.scalars(
                select(AuditLog).where(
                    AuditLog.object_type == "meter",
                    AuditLog.attribute == "driver_settings",
                    AuditLog.action != "create",
                )
            ).all()
            assert audited == []
        # a session whose results are lost (the engine dies before its commit) ...
        engine.stop()
        lost = start_engine()
        monkeypatch.setattr(BatchWriter, "_commit_batch", lambda self, batch: None)
        lost_run = _run(runtime, "hls lost", meter_ids, ["read_clock"])
        _wait_sessions_over(runtime, lost, lost_run)
        lost.stop()
        monkeypatch.undo()
        # nothing of the lost sessions was stored but their reservation (made before them)
        for meter_id, (value, reserved_to) in _counters(runtime).items():
            assert value == after_first[meter_id][0]
            assert reserved_to > after_first[meter_id][1]
        # ... is delivered again to a new engine, which starts after the reserved block: the
        # meter, which saw the lost session's counters, accepts it
        start_engine()
        again = wait_run(runtime, lost_run)
        assert again.status == "succeeded", _errors(runtime, lost_run)
        third = wait_run(runtime, _run(runtime, "hls 3", meter_ids, ["read_clock"]))
        assert third.status == "succeeded", _errors(runtime, third.id)
        for meter_id, (value, _) in _counters(runtime).items():
            assert value > after_first[meter_id][1]
        _check_debug_log(runtime, first.id, fleet.endpoints)


def _wait_sessions_over(runtime, engine, run_id) -> None:
    import time

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if engine.dispatcher.snapshot().claimed == 0 and engine.dispatcher.snapshot().queued == 0:
            with runtime.sessions() as session:
                if session.scalars(select(Task).where(Task.run_id == run_id)).first():
                    time.sleep(0.3)
                    if engine.dispatcher.snapshot().claimed == 0:
                        return
        time.sleep(0.05)
    raise AssertionError("the lost sessions did not end")


def _errors(runtime, run_id) -> list[str]:
    with runtime.sessions() as session:
        return [
            f"{t.error_class}: {t.error_message}"
            for t in session.scalars(select(Task).where(Task.run_id == run_id))
            if t.state != "succeeded"
        ]


def _check_debug_log(runtime, run_id, endpoints) -> None:
    secrets = [
        bytes.fromhex(endpoint.settings[key]).hex().upper()
        for endpoint in endpoints
        for key in ("authentication_key", "block_cipher_key")
    ]
    with runtime.sessions() as session:
        task = session.scalars(select(Task).where(Task.run_id == run_id)).first()
        (log,) = tasks.sessions_of(session, task)
        lines = tasks.trace_lines(log)
    assert log.frame_count == len(lines) > 4
    assert log.bytes_sent > 0 and log.bytes_received > 0
    assert any(" tx " in line for line in lines) and any(" rx " in line for line in lines)
    text = "".join(line.replace(" ", "") for line in lines)
    assert not any(secret in text for secret in secrets)


def test_modbus_meters_are_read_and_their_frames_kept_by_policy(make_runtime, start_engine):
    runtime = make_runtime(trace_keep="failed")
    simulator = runtime.plugins.simulators()["modbus"]()
    with simulator.start(3) as fleet:
        meter_ids = _register(runtime, fleet.endpoints)
        start_engine(runtime)
        run = wait_run(runtime, _run(runtime, "modbus", meter_ids, ["read_registers"]))
        assert run.status == "succeeded", _errors(runtime, run.id)
    with runtime.sessions() as session:
        logs = list(session.scalars(select(SessionLog)))
        task = session.scalars(select(Task).where(Task.run_id == run.id)).first()
    assert task.details["values"] == 1, task.details  # 1.8.0 into its register channel
    assert {log.outcome for log in logs} == {"succeeded"}
    assert all(log.frames is None and log.frame_count > 0 for log in logs)  # only failed kept
    assert {log.medium for log in logs} == {"tcp"}


def test_tasks_of_a_meter_that_called_in_run_over_its_own_line(runtime, start_engine):
    """The seam of the listener for meters that call in: it holds an open line to an
    identified meter; the engine runs that meter's waiting tasks over it."""
    simulator = runtime.plugins.simulators()["modbus"]()
    with simulator.start(1) as fleet:
        (meter_id,) = _register(runtime, fleet.endpoints)
        endpoint = fleet.endpoints[0]
        engine = start_engine(workers=0)  # no worker dials: only the inbound line serves
        run_id = _run(runtime, "pending", [meter_id], ["read_registers"])
        engine.poll()
        medium = runtime.plugins.media()["tcp"](endpoint.address, {})
        medium.open(timeout=5)
        try:
            result = engine.serve_inbound(meter_id, medium)
        finally:
            medium.close()
        assert result is not None and [t.state for t in result.tasks] == ["succeeded"]
        run = wait_run(runtime, run_id)
        assert run.status == "succeeded"
        with runtime.sessions() as session:
            (log,) = session.scalars(select(SessionLog)).all()
        assert (log.path_priority, log.pool_key, log.medium) == (0, "inbound", "tcp")
        assert log.frame_count > 0 and log.frames is not None
        # retention clears debug logs older than trace_retention_days (14), the record stays
        assert engine.prune_traces(datetime.now(UTC) + timedelta(days=13)) == 0
        assert engine.prune_traces(datetime.now(UTC) + timedelta(days=15)) == 1
        with runtime.sessions() as session:
            (log,) = session.scalars(select(SessionLog)).all()
        assert log.frames is None and log.frame_count > 0 and log.outcome == "succeeded"
