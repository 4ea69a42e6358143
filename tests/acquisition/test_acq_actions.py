"""Every driver action as a job: clock synchronisation and the time-sync group, control
actions in the audit log, firmware from the store, tariffs, load limits, billing; what cannot
be stored is reported; values follow the meter exchange history."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import numpy as np
from acquisition_helpers import wait_run
from sqlalchemy import select

from meterhub.db import transaction
from meterhub.extensions.driverkit import SimulatedMeter
from meterhub.inventory import errorgroups, firmware, jobs, meters
from meterhub.model.audit import AuditLog
from meterhub.model.errorgroups import TIME_SYNC_GROUP
from meterhub.model.metering import VirtualMeter
from meterhub.model.meters import Meter
from meterhub.model.tasks import Task
from meterhub.plugins.drivers.simulated import SimulatedDriver


def _run(runtime, name, meter_ids, actions, user="alice", **options):
    with transaction(runtime.sessions, user=user) as session:
        job = jobs.create_job(
            session, name=name, actions=actions, meters=meter_ids, user=user, **options
        )
        return jobs.run_job(session, job, user=user).id


def _tasks(runtime, run_id):
    with runtime.sessions() as session:
        return list(session.scalars(select(Task).where(Task.run_id == run_id).order_by(Task.id)))


def test_clock_synchronisation_with_tolerance_maximum_and_the_time_sync_group(
    runtime, make_fleet, start_engine
):
    close = make_fleet(1, settings={"clock_offset": "3"})
    off = make_fleet(1, settings={"clock_offset": "120"})
    far = make_fleet(1, settings={"clock_offset": "7200"})
    driver = SimulatedDriver()
    start_engine(drivers={"simulated": driver})
    sync = {"action": "set_clock", "parameters": {"tolerance": 10, "maximum": 3600}}
    ids = close.meter_ids + off.meter_ids + far.meter_ids
    run = wait_run(runtime, _run(runtime, "sync", ids, [sync]))
    assert (run.tasks_succeeded, run.tasks_failed) == (2, 1)
    by_meter = {t.meter_id: t for t in _tasks(runtime, run.id)}
    assert by_meter[close.meter_ids[0]].details["corrected"] is False
    assert by_meter[off.meter_ids[0]].details["corrected"] is True
    assert abs(driver.clock_offset(off.serials[0])) <= 1
    failed = by_meter[far.meter_ids[0]]
    assert (failed.state, failed.error_class, failed.attempts) == ("failed", "clock", 1)
    assert "beyond the maximum of 3600 s" in failed.error_message
    assert driver.clock_offset(far.serials[0]) == 7200
    with runtime.sessions() as session:
        group = errorgroups.find_error_group(session, TIME_SYNC_GROUP)
        assert [m.id for m, _ in errorgroups.members(session, group)] == far.meter_ids
    # a larger maximum corrects it, and the meter leaves the group
    wide = {"action": "set_clock", "parameters": {"tolerance": 10, "maximum": 86_400}}
    again = wait_run(runtime, _run(runtime, "sync wide", far.meter_ids, [wide]))
    assert again.status == "succeeded"
    with runtime.sessions() as session:
        group = errorgroups.find_error_group(session, TIME_SYNC_GROUP)
        assert errorgroups.members(session, group) == []


def test_control_actions_record_who_started_them_and_the_outcome(runtime, make_fleet, start_engine):
    fleet = make_fleet(2)
    driver = SimulatedDriver()
    start_engine(drivers={"simulated": driver})
    with transaction(runtime.sessions, user="carol") as session:
        firmware.add_image(session, name="sim-fw", version="2.0", content=bytes(range(256)) * 10)
    actions = [
        "disconnect_supply",
        {"action": "set_load_limit", "parameters": {"normal": 4000, "emergency": 6000}},
        "read_load_limit",
        {"action": "upload_tariff", "parameters": {"calendar": {"name": "D02", "seasons": []}}},
        {"action": "upgrade_firmware", "parameters": {"image": "sim-fw"}},
        {"action": "set_relay", "parameters": {"relay": 2, "closed": True}},
    ]
    run = wait_run(runtime, _run(runtime, "control", fleet.meter_ids, actions, user="carol"))
    # the simulated driver has no relays: those tasks fail at once, without a retry
    assert (run.status, run.tasks_succeeded, run.tasks_failed) == ("partial", 10, 2)
    relays = [t for t in _tasks(runtime, run.id) if t.action == "set_relay"]
    assert {(t.state, t.error_class, t.attempts) for t in relays} == {("failed", "unsupported", 1)}
    assert "does not support the action 'set_relay'" in relays[0].error_message
    serial = fleet.serials[0]
    assert not driver.supply_connected(serial)
    assert driver.load_limit(serial) == (4000.0, 6000.0)
    assert driver.setting(serial, "tariff") == {"name": "D02", "seasons": []}
    assert driver.setting(serial, "firmware") == "2.0"
    limit = [t for t in _tasks(runtime, run.id) if t.action == "read_load_limit"][0]
    assert (limit.details["normal"], limit.details["unit"]) == (4000.0, "W")
    with runtime.sessions() as session:
        audit = session.scalars(
            select(AuditLog).where(
                AuditLog.object_type == "meter", AuditLog.object_id == str(fleet.meter_ids[0])
            )
        ).all()
    trail = {(row.action, row.attribute, row.changed_by) for row in audit}
    for action in ("disconnect_supply", "set_load_limit", "upload_tariff", "upgrade_firmware"):
        assert (action, "job", "carol") in trail
        assert (action, "outcome", "carol") in trail
    assert any(row.new_value.endswith(": succeeded") for row in audit if row.attribute == "outcome")
    reconnect = wait_run(
        runtime, _run(runtime, "reconnect", fleet.meter_ids, ["reconnect_supply"], user="dave")
    )
    assert reconnect.status == "succeeded" and driver.supply_connected(serial)


def test_billing_values_are_stored_as_register_readings(runtime, make_fleet, start_engine):
    fleet = make_fleet(1)
    start_engine()
    billing = {"action": "read_billing", "parameters": {"period": "daily", "range": "last_hours",
                                                         "hours": 72}}  # fmt: skip
    run = wait_run(runtime, _run(runtime, "billing", fleet.meter_ids, [billing]))
    assert run.status == "succeeded"
    (task,) = _tasks(runtime, run.id)
    # three midnights of 1.8.0 stored; the 3.8.0 values have no channel and are reported
    assert task.details["values"] == 3
    assert task.warnings == 3
    assert all("1-0:3.8.0*255" in line for line in task.details["warnings"])
    channel = fleet.channels[(fleet.virtual_meter_ids[0], "1-0:1.8.0*255")]
    stored = runtime.store.read_registers(
        [channel], datetime.now(UTC) - timedelta(days=4), datetime.now(UTC)
    )
    model = SimulatedMeter(fleet.serials[0])
    seconds = stored.times.astype("datetime64[s]").astype(np.int64).tolist()
    assert len(seconds) == 3 and all(at % 86_400 == 0 for at in seconds)
    assert stored.values.tolist() == [float(model.active_energy(at)) for at in seconds]


def test_unknown_codes_are_reported_and_values_follow_the_meter_exchange(
    runtime, make_fleet, start_engine
):
    fleet = make_fleet(2, settings={"channels": "4"})
    today = datetime.combine(datetime.now(UTC).date(), time(), UTC)
    day = today - timedelta(days=1)
    exchange = day + timedelta(hours=12)
    old, new = fleet.meter_ids
    virtual = fleet.virtual_meter_ids[0]
    with transaction(runtime.sessions, user="alice") as session:
        second = session.get(VirtualMeter, fleet.virtual_meter_ids[1])
        meters.unassign_meter(session, second, exchange - timedelta(days=2))
        meters.assign_meter(session, session.get(VirtualMeter, virtual), session.get(Meter, new),
                            exchange)  # fmt: skip
    start_engine()
    profile = {"action": "read_load_profile", "parameters": {"range": "previous_day"}}
    run = wait_run(runtime, _run(runtime, "exchange", [old, new], [profile]))
    assert run.status == "succeeded"
    tasks = {t.meter_id: t for t in _tasks(runtime, run.id)}
    # each meter: two channels without a channel of their OBIS code, and half a day unassigned
    for task in tasks.values():
        lines = task.details["warnings"]
        assert any("1-0:2.29.0*255" in line and "no virtual meter" in line for line in lines)
        assert any("1-0:4.29.0*255" in line for line in lines)
        assert any("outside every assignment" in line for line in lines)
        assert task.details["values"] == 96  # 2 channels × 48 quarter-hours
    channel = fleet.channels[(virtual, "1-0:1.29.0*255")]
    data = runtime.store.read_intervals([channel], day, today, layer="raw")
    ends = np.arange(int(day.timestamp()) + 900, int(today.timestamp()) + 1, 900)
    old_model = SimulatedMeter(fleet.serials[0]).registers_at(
        np.concatenate(([ends[0] - 900], ends))
    )
    new_model = SimulatedMeter(fleet.serials[1]).registers_at(
        np.concatenate(([ends[0] - 900], ends))
    )
    expected = np.concatenate(
        (np.diff(old_model["active"])[:48], np.diff(new_model["active"])[48:])
    ).astype(float)
    assert np.array_equal(data.values[0], expected)
