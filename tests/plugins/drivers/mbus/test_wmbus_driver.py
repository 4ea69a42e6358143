"""The wmbus driver hearing the telegram generator over a TCP feed, UDP, a file and a serial
stick (Amber framing on a pty)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from mbus_clock import AT, NOW

from meterhub.extensions.driver import (
    AuthenticationFailed,
    MeterTimeout,
    Quality,
    UnsupportedAction,
)
from meterhub.extensions.driverkit import PtyPair
from meterhub.plugins.drivers.mbus.simulator.air import build_telegram, meter_key
from meterhub.plugins.drivers.mbus.simulator.fleet import WmbusSimulator
from meterhub.plugins.drivers.mbus.simulator.model import values_at
from meterhub.plugins.drivers.mbus.wireless.driver import WmbusDriver

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("security", ["5", "7"])
def test_meter_heard_over_the_tcp_feed(security: str) -> None:
    options = {"time": NOW.isoformat(), "interval": "0.05", "security": security}
    with WmbusSimulator().start(3, options=options) as fleet:
        endpoint = fleet.endpoints[1]
        spec = fleet.generator.specs[1]
        settings = {**endpoint.settings, "listen": "5"}
        with WmbusDriver().connect(endpoint.address, settings) as connection:
            (volume,) = connection.read_registers(["8-0:1.0.0"])
            clock = connection.read_clock()
            state = dict(connection.state)
        assert volume.quality is Quality.VALID
        assert volume.scaled == pytest.approx(values_at(spec, AT)["volume_l"] // 10 / 100)
        assert clock.value == NOW
        assert "last_access_number" in state
        if security == "7":
            assert int(state["last_counter"]) > 1000


def test_the_next_session_refuses_a_telegram_already_taken(tmp_path: Path) -> None:
    from meterhub.plugins.drivers.mbus.simulator.model import HEAT, MeterSpec

    spec = MeterSpec("32000077", HEAT)
    key = meter_key(spec.identification)
    telegram = build_telegram(spec, AT, access=200, security=7, key=key, counter=5)
    log = tmp_path / "replay.log"
    log.write_text(f"{telegram.hex()}\nnot a telegram\n{telegram.hex()}\n")
    settings = {"meter_id": spec.identification, "key": key.hex(), "listen": "1"}
    with WmbusDriver().connect(f"file:{log}", settings) as connection:
        assert connection.read_instantaneous()
        state = dict(connection.state)
    assert state == {"last_access_number": "200", "last_counter": "5"}
    with WmbusDriver().connect(f"file:{log}", {**settings, **state}) as connection:
        with pytest.raises(MeterTimeout):
            connection.read_instantaneous()
        assert sum(connection.refused.values()) == 2


def test_a_wrong_key_is_an_authentication_failure() -> None:
    with WmbusSimulator().start(1, options={"interval": "0.05"}) as fleet:
        endpoint = fleet.endpoints[0]
        settings = {**endpoint.settings, "key": "00" * 16, "listen": "5"}
        with WmbusDriver().connect(endpoint.address, settings) as connection:
            with pytest.raises(AuthenticationFailed, match="2F 2F"):
                connection.read_instantaneous()
            with pytest.raises(UnsupportedAction):
                connection.set_clock(NOW)


def test_udp_and_file_receivers(tmp_path: Path) -> None:
    log = tmp_path / "air.log"
    options = {"time": NOW.isoformat(), "interval": "0.05", "file": str(log)}
    spec_index = 0
    from meterhub.plugins.drivers.mbus.wireless.receiver import UdpReceiver

    probe = UdpReceiver("127.0.0.1", 0)
    port = probe.address[1]
    probe.close()
    options["udp"] = f"127.0.0.1:{port}"
    with WmbusSimulator().start(2, options=options) as fleet:
        endpoint = fleet.endpoints[spec_index]
        settings = {**endpoint.settings, "listen": "5"}
        with WmbusDriver().connect(f"udp://127.0.0.1:{port}", settings) as connection:
            assert connection.read_instantaneous()
    assert log.read_text().strip()
    with WmbusDriver().connect(f"file:{log}", settings) as connection:
        readings = connection.read_instantaneous()
    assert readings and all(reading.timestamp.year >= 2026 for reading in readings)


def test_amber_stick_framing_on_a_pty() -> None:
    from meterhub.plugins.drivers.mbus.simulator.model import WATER, MeterSpec

    spec = MeterSpec("32000042", WATER)
    key = meter_key(spec.identification)
    telegram = build_telegram(spec, AT, access=3, security=5, key=key, frame_format="none")
    payload = telegram[1:]
    frame = bytes([0xFF, 0x03, len(payload)]) + payload
    check = 0
    for byte in frame:
        check ^= byte
    pair = PtyPair()
    try:

        def send() -> None:
            os.write(pair.master, b"\xff\x03\x02\x00\x00\x00")  # a bad checksum first
            os.write(pair.master, frame + bytes([check]))

        settings = {"meter_id": spec.identification, "key": key.hex(), "receiver": "amber",
                    "listen": "3", "baudrate": "9600"}  # fmt: skip
        with WmbusDriver().connect(pair.path, settings) as connection:
            threading.Timer(0.2, send).start()
            (volume,) = connection.read_registers(["8-0:1.0.0"])
            assert connection.receiver.skipped == 1  # type: ignore[attr-defined]
        assert volume.scaled == pytest.approx(values_at(spec, AT)["volume_l"] // 10 / 100)
    finally:
        pair.close()


def test_settings_are_checked() -> None:
    from meterhub.errors import InvalidValue

    with pytest.raises(InvalidValue, match="settings.meter_id"):
        WmbusDriver().connect("file:/nonexistent", {"meter_id": "12AB"})
    with pytest.raises(InvalidValue, match="settings.key"):
        WmbusDriver().connect("file:/nonexistent", {"meter_id": "12345678", "key": "0011"})
    assert WmbusDriver.info().secrets["key"].sizes == (16,)
