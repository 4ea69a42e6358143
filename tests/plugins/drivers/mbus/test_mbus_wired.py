"""The wired M-Bus driver against the simulated bus, through a TCP gateway and a pty."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from mbus_clock import AT, NOW

from meterhub.extensions.driver import (
    Action,
    BillingPeriod,
    MeterTimeout,
    ProtocolError,
    Quality,
    UnsupportedAction,
)
from meterhub.extensions.driverkit import SimulatedMeter
from meterhub.extensions.simulator import Faults
from meterhub.extensions.trace import Direction, FrameTrace
from meterhub.plugins.drivers.mbus.simulator.fleet import PTY_LINE, MbusFleet, MbusSimulator
from meterhub.plugins.drivers.mbus.simulator.model import month_starts, values_at
from meterhub.plugins.drivers.mbus.wired import MbusDriver
from meterhub.plugins.media.serial import SerialMedium
from meterhub.plugins.media.tcp import TcpMedium

pytestmark = pytest.mark.timeout(60)

EARLY = datetime(2024, 1, 1, tzinfo=UTC)
LATE = datetime(2027, 1, 1, tzinfo=UTC)


def start(count: int = 4, faults: Faults | None = None, **options: str) -> MbusFleet:
    return MbusSimulator().start(
        count, faults=faults, options={"time": NOW.isoformat(), "transport": "both", **options}
    )


def test_heat_meter_over_tcp_reads_exactly_the_model() -> None:
    with start() as fleet:
        endpoint = fleet.endpoints[0]
        spec = fleet.bus.slaves[0].spec
        with MbusDriver().connect(endpoint.address, endpoint.settings) as connection:
            found = {reading.obis: reading for reading in connection.read_instantaneous()}
            clock = connection.read_clock()
        values = values_at(spec, AT)
        assert found["6-0:1.0.0*255"].scaled == values["energy_wh"] // 1000 * 1000
        assert found["6-0:1.0.0*255"].unit == "Wh"
        assert found["6-0:2.0.0*255"].scaled == pytest.approx(values["volume_l"] // 10 / 100)
        assert found["6-0:2.0.0*255"].unit == "m³"
        assert found["6-0:8.0.0*255"].scaled == values["power_w"]
        assert found["6-0:9.0.0*255"].scaled == pytest.approx(values["flow_lph"] / 1000)
        assert found["6-0:10.0.0*255"].scaled == pytest.approx(values["flow_temp"] / 100)
        assert found["6-0:10.0.0*255"].unit == "°C"
        assert found["6-0:11.0.0*255"].scaled == pytest.approx(values["return_temp"] / 100)
        assert found["6-0:12.0.0*255"].scaled == pytest.approx(20.0)
        # tariff 2 in value group E, the second volume input as subunit 1 in B
        assert found["6-0:1.0.2*255"].scaled == values["energy_wh"] // 4000 * 1000
        assert found["6-1:2.0.0*255"].scaled == pytest.approx(values["volume_l"] // 3 / 1000)
        assert found["0-0:97.97.0*255"].value == 0
        assert found["0-0:96.1.0*255"].value == int(spec.identification)
        drift = SimulatedMeter(spec.identification).clock_drift
        assert clock.value == datetime.fromtimestamp((AT + drift) // 60 * 60, UTC)


def test_water_and_gas_meters_on_the_pty_by_secondary_address() -> None:
    with start() as fleet:
        for index, a, c in ((1, 8, 1), (3, 7, 3)):
            spec = fleet.bus.slaves[index].spec
            settings = {"secondary_address": spec.identification + "FFFFFFFF", **PTY_LINE}
            with MbusDriver().connect(fleet.pty or "", settings) as connection:
                (volume,) = connection.read_registers([f"{a}-0:{c}.0.0"])
            assert volume.quality is Quality.VALID
            assert volume.scaled == pytest.approx(values_at(spec, AT)["volume_l"] // 10 / 100)


def test_history_as_billing_values_and_columnar_profile() -> None:
    with start() as fleet:
        spec = fleet.bus.slaves[0].spec
        medium = TcpMedium(f"{fleet.tcp[0]}:{fleet.tcp[1]}")  # type: ignore[index]
        medium.open(2)
        try:
            connection = MbusDriver().connect("", {"primary_address": "1"}, medium)
            billing = connection.read_billing(EARLY, LATE, BillingPeriod.MONTHLY)
            daily = connection.read_billing(EARLY, LATE, BillingPeriod.DAILY)
            profile = connection.read_load_profile(EARLY, LATE)
        finally:
            medium.close()
        starts = month_starts(AT, 12)
        assert len(billing.readings) == 12
        first = billing.readings[-1]  # the most recent month start, storage number 1
        assert first.obis == "6-0:1.0.0*1"
        assert first.timestamp == datetime.fromtimestamp(starts[0], UTC)
        assert first.scaled == values_at(spec, starts[0])["energy_wh"] // 1000 * 1000
        assert daily.quality is Quality.NOT_AVAILABLE
        channel = profile.channel("6-0:1.0.0*255")
        assert len(channel) == 12
        assert channel.ends[-1] == datetime.fromtimestamp(starts[0], UTC).replace(tzinfo=None)
        assert profile.interval.days in (28, 29, 30, 31)


def test_multi_telegram_readout_toggles_the_frame_count_bit() -> None:
    with start(2, storages="30") as fleet:
        endpoint = fleet.endpoints[0]
        trace = FrameTrace()
        medium = TcpMedium(endpoint.address, None, trace)
        medium.open(2)
        try:
            connection = MbusDriver().connect(endpoint.address, endpoint.settings, medium)
            history = connection.read_billing(EARLY.replace(year=2020), LATE)
        finally:
            medium.close()
        assert len(connection.frames) >= 2
        requests = [entry.data for entry in trace.entries if entry.direction == Direction.TX]
        controls = [frame[1] for frame in requests if frame[0] == 0x10 and frame[1] & 0x4B == 0x4B]
        assert controls[:2] == [0x7B, 0x5B]  # FCB set first, then toggled
        assert len(history.readings) == 30
        assert {reading.obis for reading in history.readings} >= {"6-0:1.0.0*30"}


def test_a_broken_answer_is_repeated_with_the_same_frame_count_bit() -> None:
    with start(1, Faults(corrupt_every=2)) as fleet:
        endpoint = fleet.endpoints[0]
        trace = FrameTrace()
        medium = TcpMedium(endpoint.address, None, trace)
        medium.open(2)
        try:
            connection = MbusDriver().connect("", {**endpoint.settings, "timeout": "0.3"}, medium)
            readings = connection.read_instantaneous()
        finally:
            medium.close()
        sent = [entry.data for entry in trace.entries if entry.direction == Direction.TX]
        assert sent[1] == sent[2]  # the REQ_UD2 after the broken answer repeats its FCB
        assert readings


def test_bad_checksum_every_time_is_a_protocol_error() -> None:
    with start(1, Faults(corrupt_every=1)) as fleet:
        endpoint = fleet.endpoints[0]
        with MbusDriver().connect(endpoint.address, {**endpoint.settings, "retries": "1"}) as c:
            with pytest.raises(ProtocolError, match="checksum"):
                c.read_instantaneous()


def test_silence_and_an_absent_meter_are_timeouts() -> None:
    with start(2, Faults(silent_after=1)) as fleet:
        endpoint = fleet.endpoints[0]
        settings = {**endpoint.settings, "timeout": "0.1", "retries": "0"}
        with MbusDriver().connect(endpoint.address, settings) as connection:
            with pytest.raises(MeterTimeout):
                connection.read_instantaneous()
    with start(1) as fleet:
        settings = {"primary_address": "77", "timeout": "0.1", "retries": "1"}
        with MbusDriver().connect(fleet.endpoints[0].address, settings) as connection:
            with pytest.raises(MeterTimeout):
                connection.read_instantaneous()


def test_secondary_search_resolves_collisions_and_reports_what_answered() -> None:
    with start(4) as fleet:
        address = fleet.endpoints[0].address
        with MbusDriver().connect(address, {"timeout": "0.05"}) as connection:
            result = connection.search()
            primary = connection.scan_primary(range(0, 6))
        wanted = sorted(fleet.bus.slaves, key=lambda slave: slave.spec.identification)
        assert [meter.identification for meter in result.meters] == [
            slave.spec.identification for slave in wanted
        ]
        assert {meter.medium for meter in result.meters} == {0x03, 0x04, 0x06, 0x07}
        assert result.collisions >= 1 and not result.unresolved
        assert fleet.bus.state.collisions >= 1
        assert [meter.primary_address for meter in primary.meters] == [1, 2, 3, 4]


def test_the_clock_is_set_with_snd_ud() -> None:
    with start(1) as fleet:
        endpoint = fleet.endpoints[0]
        with MbusDriver().connect(endpoint.address, endpoint.settings) as connection:
            target = datetime(2026, 3, 2, 13, 30, tzinfo=UTC)
            assert connection.set_clock(target) is Quality.VALID
            assert connection.read_clock().value == target


def test_manufacturer_data_is_kept_raw_and_reported() -> None:
    with start(1) as fleet:
        endpoint = fleet.endpoints[0]
        trace = FrameTrace()
        medium = TcpMedium(endpoint.address, None, trace)
        medium.open(2)
        try:
            connection = MbusDriver().connect("", endpoint.settings, medium)
            unmapped = connection.readout().unmapped()
        finally:
            medium.close()
        assert [item.reason for item in unmapped] == ["manufacturer data (2 bytes)"]
        assert unmapped[0].raw.startswith("0F | 4D")
        assert any("kept raw" in entry.line() for entry in trace.entries)


def test_settings_are_checked_before_a_line_opens() -> None:
    from meterhub.errors import InvalidValue

    with pytest.raises(InvalidValue, match="settings.secondary_address"):
        MbusDriver().connect("/dev/does-not-exist", {"secondary_address": "1234"})
    with pytest.raises(InvalidValue, match="settings.primary_address"):
        MbusDriver().connect("/dev/does-not-exist", {"primary_address": "300"})
    with pytest.raises(InvalidValue, match="not both"):
        MbusDriver().connect(
            "/dev/x", {"primary_address": "1", "secondary_address": "12345678FFFFFFFF"}
        )
    assert Action.SET_CLOCK in MbusDriver.info().actions
    with start(1) as fleet, SerialMedium(fleet.pty or "", PTY_LINE) as medium:
        medium.open(2)
        connection = MbusDriver().connect("", fleet.endpoints[0].settings, medium)
        with pytest.raises(UnsupportedAction):
            connection.read_events(EARLY, LATE)
