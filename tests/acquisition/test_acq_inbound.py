"""Meters that call in: gurux-built pushes from simulated DLMS meters to the listener.

The simulated meter (gurux ``GXDLMSPushSetup`` + ``GXDLMSNotify``, then gurux's server for the
session) connects to :class:`~meterhub.acquisition.inbound.InboundListener`, pushes registers,
an alarm register and an event code; the listener identifies it, stores what it pushed in one
transaction, announces the alarms and runs the meter's waiting tasks over the same line.
"""

from __future__ import annotations

import logging
import socket
import time
from datetime import UTC, datetime

import pytest
from acquisition_helpers import wait_run
from sqlalchemy import func, select

from meterhub import hookimpl
from meterhub.acquisition.inbound import InboundListener, parse_listen
from meterhub.credential_keys import open_cipher
from meterhub.db import transaction
from meterhub.demo import populate_demo
from meterhub.errors import InvalidValue
from meterhub.extensions.driverkit import SimulatedMeter
from meterhub.extensions.events import MeterAlarm
from meterhub.inventory import jobs, metering
from meterhub.model.metering import Channel
from meterhub.model.meters import Meter, MeterAssignment
from meterhub.model.tasks import SessionLog, Task
from meterhub.plugins.drivers.dlms.simulator.push import push_frames

ALARM_LOG = "0-0:97.98.0*255"
EVENT_LOG = "0-0:99.98.0*255"


class AlarmListener:
    """A plugin that records the alarms it hears, and whether they were committed by then."""

    def __init__(self, runtime_box: list) -> None:
        self.calls: list[tuple[int, tuple[MeterAlarm, ...]]] = []
        self.committed_events: list[int] = []
        self._box = runtime_box

    @hookimpl
    def alarms_stored(self, meter_id: int, alarms) -> None:
        self.calls.append((meter_id, tuple(alarms)))
        runtime = self._box[0]
        with runtime.engine.connect() as connection:  # another connection sees the commit
            self.committed_events.append(_event_count(connection))


def _event_count(connection) -> int:
    from meterhub.timeseries.tables import event

    return int(connection.execute(select(func.count()).select_from(event)).scalar_one())


@pytest.fixture
def alarms(make_runtime):
    box: list = []
    listener = AlarmListener(box)
    runtime = make_runtime(listener)
    box.append(runtime)
    return runtime, listener


def _register(runtime, endpoints) -> dict[str, int]:
    cipher = open_cipher(runtime.settings.effective_credential_key_file, runtime.sessions)
    with transaction(runtime.sessions, user="tester") as session:
        populate_demo(session, endpoints, runtime.plugins.drivers(), cipher)
        for assignment in session.scalars(select(MeterAssignment)):
            vm = assignment.virtual_meter
            metering.add_channel(session, virtual_meter=vm, obis="1-0:2.8.0", kind="register",
                                 unit="Wh")  # fmt: skip
            metering.add_channel(session, virtual_meter=vm, obis=ALARM_LOG, kind="event")
            metering.add_channel(session, virtual_meter=vm, obis=EVENT_LOG, kind="event")
        return {m.serial_number: m.id for m in session.scalars(select(Meter))}


def _channels(runtime, meter_id) -> dict[tuple[str, str], int]:
    with runtime.sessions() as session:
        (assignment,) = session.scalars(
            select(MeterAssignment).where(MeterAssignment.meter_id == meter_id)
        )
        return {
            (c.kind, c.obis): c.id
            for c in session.scalars(
                select(Channel).where(Channel.virtual_meter_id == assignment.virtual_meter_id)
            )
        }


def _wait(predicate, timeout=20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_a_pushing_meter_is_identified_stored_alarmed_and_served(alarms, start_engine):
    runtime, plugin = alarms
    simulator = runtime.plugins.simulators()["dlms"]()
    with simulator.start(2) as fleet:
        meters = _register(runtime, fleet.endpoints)
        serial = "DLMS-0002"
        meter_id = meters[serial]
        engine = start_engine(runtime, workers=0)  # nothing dials: only the meter's own line
        with transaction(runtime.sessions, user="alice") as session:
            job = jobs.create_job(session, name="waiting", actions=["read_clock"],
                                  meters=[meter_id])  # fmt: skip
            run_id = jobs.run_job(session, job, user="alice").id
        engine.poll()
        at = int(time.time())
        with InboundListener(engine, "127.0.0.1", 0) as listener:
            call = fleet.call_in(serial, listener.address, at=at, alarm_bits=0b1000_0101,
                                 event_code=1)  # fmt: skip
            assert call.wait(20)
            _wait(lambda: listener.stats.sessions == 1)
        assert call.closed_by_peer and call.requests > 0  # the head-end talked, then hung up
        run = wait_run(runtime, run_id)
        assert run.status == "succeeded"
        with runtime.sessions() as session:
            (log,) = session.scalars(select(SessionLog)).all()
            (task,) = session.scalars(select(Task).where(Task.run_id == run_id))
        assert (log.pool_key, log.medium, log.meter_id) == ("inbound", "tcp", meter_id)
        assert task.state == "succeeded"
    # the values exactly as the meter had them at the push's time
    channels = _channels(runtime, meter_id)
    model = SimulatedMeter(serial)
    stamp = datetime.fromtimestamp(at, UTC)
    registers = runtime.store.read_registers(
        [channels[("register", "1-0:1.8.0*255")], channels[("register", "1-0:2.8.0*255")]],
        stamp, datetime.fromtimestamp(at + 1, UTC),
    )  # fmt: skip
    values = dict(zip(registers.channel_ids.tolist(), registers.values.tolist(), strict=True))
    assert values[channels[("register", "1-0:1.8.0*255")]] == model.active_energy(at)
    state = fleet.state(serial)
    assert values[channels[("register", "1-0:2.8.0*255")]] == state.export_energy(at) // 10 * 10
    assert (registers.times.astype("datetime64[s]").astype(int) == at).all()
    events = runtime.store.read_events(
        [channels[("event", ALARM_LOG)], channels[("event", EVENT_LOG)]],
        stamp, datetime.fromtimestamp(at + 1, UTC),
    )  # fmt: skip
    stored = sorted(zip(events.channel_ids.tolist(), events.codes.tolist(), strict=True))
    assert stored == sorted(
        [(channels[("event", ALARM_LOG)], bit) for bit in (0, 2, 7)]
        + [(channels[("event", EVENT_LOG)], 1)]
    )
    # the hook: once, after the commit, with every alarm and where it was stored
    ((hooked_meter, hooked),) = plugin.calls
    assert hooked_meter == meter_id
    assert plugin.committed_events == [4]
    assert sorted((a.log, a.code) for a in hooked) == sorted(
        [(ALARM_LOG, 0), (ALARM_LOG, 2), (ALARM_LOG, 7), (EVENT_LOG, 1)]
    )
    power_down = next(a for a in hooked if a.log == EVENT_LOG)
    assert power_down.description == "Power down" and power_down.serial == serial
    assert power_down.channel_id == channels[("event", EVENT_LOG)]
    assert power_down.time == stamp
    assert listener.stats.pushes == 1 and listener.stats.values_stored == 6
    assert listener.stats.alarms == 4 and listener.stats.unknown == 0


def test_an_unknown_meter_is_refused_and_nothing_stored(alarms, start_engine, caplog):
    runtime, plugin = alarms
    simulator = runtime.plugins.simulators()["dlms"]()
    with simulator.start(2) as fleet, simulator.start(1, options={"serial_prefix": "X-"}) as other:
        _register(runtime, fleet.endpoints)  # X-0001 is not in the inventory
        engine = start_engine(runtime, workers=0)
        with caplog.at_level(logging.WARNING, logger="meterhub.acquisition.inbound"):
            with InboundListener(engine, "127.0.0.1", 0) as listener:
                call = other.call_in("X-0001", listener.address, alarm_bits=1)
                assert call.wait(20)
        assert call.closed_by_peer and call.requests == 0  # closed without a request
    assert listener.stats.unknown == 1 and listener.stats.values_stored == 0
    assert "unknown meter: no meter is named 'MHSX-0001'" in caplog.text
    with runtime.engine.connect() as connection:
        assert _event_count(connection) == 0
    assert plugin.calls == []


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b"GET / HTTP/1.0\r\n\r\n", "not a DLMS frame: starts with 474554202F204854"),
        (bytes.fromhex("0001000100010003") + b"\x60\x01\x00", "expected a data-notification"),
        (
            bytes.fromhex("000100010001000a") + bytes.fromhex("0fc00000010002030600"),
            "malformed data-notification",
        ),
        (bytes.fromhex("7ea0080302130000"), "HDLC"),
    ],
)
def test_a_malformed_push_is_logged_and_closed(alarms, start_engine, caplog, frame, reason):
    runtime, plugin = alarms
    simulator = runtime.plugins.simulators()["dlms"]()
    with simulator.start(1) as fleet:
        _register(runtime, fleet.endpoints)
        engine = start_engine(runtime, workers=0)
        with caplog.at_level(logging.WARNING, logger="meterhub.acquisition.inbound"):
            with InboundListener(engine, "127.0.0.1", 0, first_message_timeout=1.0) as listener:
                with socket.create_connection(listener.address, timeout=5) as sock:
                    sock.sendall(frame)
                    sock.settimeout(5)
                    assert sock.recv(100) == b""  # closed by the listener, no answer
    assert listener.stats.malformed == 1 and listener.stats.values_stored == 0
    assert reason in caplog.text and "closed" in caplog.text
    with runtime.engine.connect() as connection:
        assert _event_count(connection) == 0


def test_a_push_that_does_not_fit_the_layout_stores_nothing(alarms, start_engine, caplog):
    """Identified, but the meter's push_objects do not describe the message: nothing is
    half-written, the reason is logged."""
    runtime, plugin = alarms
    simulator = runtime.plugins.simulators()["dlms"]()
    with simulator.start(1) as fleet:
        meters = _register(runtime, fleet.endpoints)
        with transaction(runtime.sessions, user="tester") as session:
            meter = session.get(Meter, meters["DLMS-0001"])
            meter.driver_settings = {
                **meter.driver_settings,
                "push_objects": "1/0-0:42.0.0*255/2,3/1-0:1.8.0*255/2",
            }
        engine = start_engine(runtime, workers=0)
        with caplog.at_level(logging.WARNING, logger="meterhub.acquisition.inbound"):
            with InboundListener(engine, "127.0.0.1", 0) as listener:
                call = fleet.call_in("DLMS-0001", listener.address, alarm_bits=1, stay=1)
                assert call.wait(20)
    assert "the meter pushed 8 values, but its push_objects describe 2 values" in caplog.text
    assert listener.stats.values_stored == 0 and plugin.calls == []


def test_hdlc_pushes_are_read_too(alarms, start_engine):
    runtime, plugin = alarms
    simulator = runtime.plugins.simulators()["dlms"]()
    with simulator.start(1) as fleet:
        meters = _register(runtime, fleet.endpoints)
        engine = start_engine(runtime, workers=0)
        at = int(time.time())
        frames = push_frames(fleet.state("DLMS-0001"), at, event_code=2, framing="hdlc")
        assert frames[0][0] == 0x7E
        with InboundListener(engine, "127.0.0.1", 0) as listener:
            call = fleet.call_in("DLMS-0001", listener.address, frames=frames, stay=1)
            assert call.wait(20)
            _wait(lambda: listener.stats.alarms == 1)
    ((meter_id, (alarm,)),) = plugin.calls
    assert meter_id == meters["DLMS-0001"] and (alarm.code, alarm.description) == (2, "Power up")


def test_the_listen_address_is_checked():
    assert parse_listen("0.0.0.0:4059") == ("0.0.0.0", 4059)
    assert parse_listen("[::1]:0") == ("::1", 0)
    with pytest.raises(InvalidValue, match="inbound_listen: must be HOST:PORT"):
        parse_listen("4059")


def test_the_engine_runs_the_listener_of_its_options(runtime, start_engine):
    engine = start_engine(runtime, workers=0, listen="127.0.0.1:0")
    assert engine.inbound is not None
    address = engine.inbound.address
    with socket.create_connection(address, timeout=5):
        pass
    engine.stop()
    assert engine.inbound is None
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=5)


def push_to_a_listening_command(
    runtime, fleet, meters: dict[str, int], command: list[str], env: dict[str, str]
) -> tuple[int | None, str]:
    """Start ``meterhub COMMAND --listen 127.0.0.1:PORT``, let DLMS-0001 call in with an event
    once it listens, wait until the event is stored, stop it: its exit code, its last words."""
    import subprocess

    from script_fixtures import METERHUB

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [METERHUB, *command, "--listen", f"127.0.0.1:{port}"],
        env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if f"listening for meters that call in on 127.0.0.1:{port}" in line:
                break
        at = int(time.time())
        call = fleet.call_in("DLMS-0001", ("127.0.0.1", port), at=at, event_code=1, stay=2)
        assert call.wait(20)
        channels = _channels(runtime, meters["DLMS-0001"])
        stamp = datetime.fromtimestamp(at, UTC)
        _wait(
            lambda: (
                len(
                    runtime.store.read_events(
                        [channels[("event", EVENT_LOG)]],
                        stamp,
                        datetime.fromtimestamp(at + 1, UTC),
                    )  # fmt: skip
                )
                == 1
            )
        )
    finally:
        process.terminate()
        _, rest = process.communicate(timeout=60)  # closes the pipe
    return process.returncode, rest


def test_meterhub_acquire_listen_accepts_a_pushing_meter(alarms, cli_env, database_url):
    runtime, _ = alarms
    simulator = runtime.plugins.simulators()["dlms"]()
    with simulator.start(1) as fleet:
        meters = _register(runtime, fleet.endpoints)
        env = cli_env | {"METERHUB_DATABASE_URL": database_url}
        code, rest = push_to_a_listening_command(
            runtime, fleet, meters, ["acquire", "--for", "20"], env
        )
    assert code == 0, rest
    assert "acquisition engine stopped" in rest
