"""The IEC 62056-21 driver against simulated meters on ptys (and through the modem emulator)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from meterhub.config import load_settings
from meterhub.extensions.driver import (
    Action,
    AuthenticationFailed,
    MeterTimeout,
    ProtocolError,
    Quality,
    UnsupportedAction,
)
from meterhub.extensions.driverkit import SimulatedMeter, line_settings
from meterhub.extensions.simulator import Faults
from meterhub.extensions.trace import FrameTrace
from meterhub.licensing import development_license
from meterhub.pluginhost import build_plugin_host
from meterhub.plugins.drivers.iec62056_21.driver import IecConnection, IecDriver
from meterhub.plugins.drivers.iec62056_21.simulator import IecFleet, IecSimulator
from meterhub.plugins.media.modem import ModemMedium
from meterhub.plugins.media.modem_emulator import ModemEmulator
from meterhub.plugins.media.serial import SerialMedium

pytestmark = pytest.mark.timeout(30)

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
AT = int(NOW.timestamp())


def start(count: int = 1, faults: Faults | None = None) -> IecFleet:
    return IecSimulator().start(count, faults=faults, options={"time": NOW.isoformat()})


@contextmanager
def session(fleet: IecFleet, index: int = 0, **settings: str) -> Iterator[IecConnection]:
    endpoint = fleet.endpoints[index]
    trace = FrameTrace()
    medium = SerialMedium(
        endpoint.address, line_settings(endpoint.medium, endpoint.settings), trace
    )
    medium.open(2)
    driver_settings = {"password": endpoint.settings["password"], "timeout": "1", **settings}
    try:
        connection = IecDriver().connect(endpoint.address, driver_settings, medium)
        connection.trace = trace  # type: ignore[attr-defined]
        yield connection
    finally:
        medium.close()


def test_readout_reads_exactly_the_simulated_values() -> None:
    with start(2) as fleet:
        for index, endpoint in enumerate(fleet.endpoints):
            meter = SimulatedMeter(endpoint.serial)
            with session(fleet, index) as connection:
                energy, reactive, serial, missing = connection.read_registers(
                    ["1.8.0", "1-0:3.8.0*255", "C.1.0", "1.8.2"]
                )
                assert (energy.value, energy.scaler, energy.unit) == (
                    meter.active_energy(AT),
                    -3,
                    "kWh",
                )
                assert (reactive.value, reactive.scaler) == (meter.reactive_energy(AT), -3)
                assert serial.value == endpoint.serial
                assert missing.quality is Quality.NOT_AVAILABLE
                values = {r.obis: r for r in connection.read_instantaneous()}
                assert values["1-0:32.7.0*255"].value == meter.voltage(AT)
                assert values["1-0:32.7.0*255"].scaler == -1
                assert values["1-0:1.7.0*255"].value == meter.power(AT)
                clock = connection.read_clock()
                assert clock.value == NOW + timedelta(seconds=meter.clock_drift)
            # both sides switched from 300 Bd to the meter's 9600 Bd
            assert fleet.meters[index].baud_switches == [9600]
            assert fleet.meters[index].client_bauds == [9600]


def test_maximum_demand_carries_its_timestamp() -> None:
    with start() as fleet, session(fleet) as connection:
        demand = connection.read_registers(["1.6.0"])[0]
        meter = SimulatedMeter("IEC-0001")
        peak = max(meter.power(AT - AT % 86400 + h * 3600) for h in range(13))
        assert (demand.value, demand.scaler, demand.unit) == (peak, -3, "kW")
        assert demand.timestamp.date() == NOW.date() and demand.timestamp.minute == 0


def test_load_profile_in_programming_mode() -> None:
    with start() as fleet, session(fleet) as connection:
        profile = connection.read_load_profile(NOW - timedelta(days=1), NOW)
        meter = SimulatedMeter("IEC-0001")
        assert profile.interval == timedelta(minutes=15) and profile.quality is Quality.VALID
        assert len(profile.readings) == 96 * 2
        first = profile.readings[0]
        edge = AT - 86400 + 900
        assert first.timestamp == datetime.fromtimestamp(edge, UTC)
        assert (first.obis, first.value, first.scaler) == (
            "1-0:1.29.0*255",
            meter.active_energy(edge) - meter.active_energy(edge - 900),
            -3,
        )
        total = sum(r.value for r in profile.readings if r.obis == "1-0:1.29.0*255")  # type: ignore[misc]
        assert total == meter.active_energy(AT) - meter.active_energy(AT - 86400)


def test_set_clock_with_password_and_wrong_password() -> None:
    with start() as fleet, session(fleet) as connection:
        target = datetime(2026, 3, 2, 11, 30, tzinfo=UTC)
        assert connection.set_clock(target) is Quality.VALID
        assert connection.read_clock().value == target
    with start(faults=Faults(wrong_password=True)) as fleet, session(fleet) as connection:
        with pytest.raises(AuthenticationFailed):
            connection.set_clock(NOW)


def test_bad_bcc_is_a_protocol_error_with_the_frame_in_the_trace() -> None:
    with start(faults=Faults(corrupt_every=1)) as fleet, session(fleet) as connection:
        with pytest.raises(ProtocolError, match="bad BCC") as caught:
            connection.read_registers(["1.8.0"])
        assert caught.value.frame is not None and caught.value.frame.startswith(b"\x02")
        trace = connection.trace  # type: ignore[attr-defined]
        assert trace.last_received() is not None and trace.last_received().endswith(
            caught.value.frame[-3:]
        )


def test_meter_that_stops_answering_is_a_timeout_not_a_hang() -> None:
    with start(faults=Faults(silent_after=1)) as fleet, session(fleet, timeout="0.5") as connection:
        started = time.monotonic()
        with pytest.raises(MeterTimeout):
            connection.read_registers(["1.8.0"])
        assert time.monotonic() - started < 3


def test_wrong_device_address_gets_no_answer() -> None:
    with start() as fleet, session(fleet, device_address="99999", timeout="0.3") as connection:
        with pytest.raises(MeterTimeout, match="identification"):
            connection.read_registers(["1.8.0"])
    with start() as fleet, session(fleet, device_address="0001") as connection:
        assert connection.read_registers(["1.8.0"])[0].quality is Quality.VALID


def test_unsupported_events_and_plugin() -> None:
    assert Action.READ_EVENTS not in IecDriver.info().actions
    with start() as fleet, session(fleet) as connection:
        with pytest.raises(UnsupportedAction):
            connection.read_events(NOW - timedelta(days=1), NOW)
    host = build_plugin_host(development_license(), load_settings())
    assert host.drivers()["iec62056_21"] is IecDriver
    assert host.simulators()["iec62056-21"] is IecSimulator


def test_through_the_modem_emulator() -> None:
    with start() as fleet:
        meter_port = fleet.endpoints[0].address
        with ModemEmulator({"0123": f"serial:{meter_port}"}, guard_time=0.1) as emulator:
            trace = FrameTrace()
            medium = ModemMedium(
                "0123", {"port": emulator.port, "guard_time": "0.1", "dial_timeout": "2"}, trace
            )
            medium.open(2)
            try:
                assert medium.connect_rate == 9600
                connection = IecDriver().connect("0123", {"timeout": "2"}, medium)
                energy = connection.read_registers(["1.8.0"])[0]
            finally:
                medium.close()
        assert energy.value == SimulatedMeter("IEC-0001").active_energy(AT)
        assert "ATD0123" in bytes.fromhex(
            "".join(r["hex"] for r in trace.as_records() if r["direction"] == "tx")
        ).decode("ascii", "replace")
