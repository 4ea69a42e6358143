"""The Modbus driver against the pymodbus-based simulator over real sockets and ptys."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest

from meterhub.config import load_settings
from meterhub.errors import InvalidValue
from meterhub.extensions.driver import (
    Action,
    LinkLost,
    MeterTimeout,
    ProtocolError,
    Quality,
    UnsupportedAction,
)
from meterhub.extensions.driverkit import SimulatedMeter, line_settings
from meterhub.extensions.medium import Medium
from meterhub.extensions.simulator import Faults
from meterhub.extensions.trace import FrameTrace
from meterhub.licensing import development_license
from meterhub.pluginhost import build_plugin_host
from meterhub.plugins.drivers.modbus.driver import ModbusConnection, ModbusDriver, plan_reads
from meterhub.plugins.drivers.modbus.registermap import shipped_map
from meterhub.plugins.drivers.modbus.simulator import ModbusFleet, ModbusSimulator, expected_raw
from meterhub.plugins.media.serial import SerialMedium
from meterhub.plugins.media.tcp import TcpMedium

pytestmark = pytest.mark.timeout(30)

FROZEN = "2026-03-02T12:00:00Z"
AT = int(datetime(2026, 3, 2, 12, tzinfo=UTC).timestamp())


def start(count: int = 1, faults: Faults | None = None, **options: str) -> ModbusFleet:
    return ModbusSimulator().start(count, faults=faults, options={"time": FROZEN, **options})


def open_medium(fleet: ModbusFleet, index: int = 0) -> tuple[Medium, FrameTrace]:
    endpoint = fleet.endpoints[index]
    trace = FrameTrace()
    cls = TcpMedium if endpoint.medium == "tcp" else SerialMedium
    medium = cls(endpoint.address, line_settings(endpoint.medium, endpoint.settings), trace)
    medium.open(2)
    return medium, trace


@pytest.fixture
def sdm_fleet() -> Iterator[ModbusFleet]:
    with start(2) as fleet:
        yield fleet


@contextmanager
def connect(fleet: ModbusFleet, index: int = 0, **settings: str) -> Iterator[ModbusConnection]:
    endpoint = fleet.endpoints[index]
    medium, _trace = open_medium(fleet, index)
    try:
        yield ModbusDriver().connect(endpoint.address, {**endpoint.settings, **settings}, medium)
    finally:
        medium.close()


def test_sdm630_over_tcp_reads_exactly_the_float32_values(sdm_fleet: ModbusFleet) -> None:
    register_map = shipped_map("sdm630")
    for index, endpoint in enumerate(sdm_fleet.endpoints):
        meter = SimulatedMeter(endpoint.serial)
        with connect(sdm_fleet, index) as connection:
            codes = [r.obis for r in register_map.registers]
            readings = connection.read_registers(codes)
            for register, reading in zip(register_map.registers, readings, strict=True):
                expected = expected_raw(register, meter, AT)
                assert reading.quality is Quality.VALID
                assert (reading.obis, reading.value, reading.unit, reading.scaler) == (
                    register.obis,
                    expected,
                    register.unit,
                    0,
                )
    # the float32 pitfall: the energy read back is the float32-rounded register, not Wh/1000
    energy = SimulatedMeter("MB-0001").active_energy(AT) / 1000
    first = expected_raw(register_map.by_obis()["1-0:1.8.0*255"], SimulatedMeter("MB-0001"), AT)
    assert first != energy and abs(first - energy) < 0.1  # type: ignore[operator]


def test_instantaneous_and_unknown_codes(sdm_fleet: ModbusFleet) -> None:
    meter = SimulatedMeter("MB-0001")
    with connect(sdm_fleet) as connection:
        values = {r.obis: r.value for r in connection.read_instantaneous()}
        assert values["1-0:32.7.0*255"] == pytest.approx(meter.voltage(AT) / 10, abs=1e-4)
        # the signed total power has the net code 16.7.0 (import minus export), not 1.7.0
        assert values["1-0:16.7.0*255"] == meter.power(AT)
        missing = connection.read_registers(["1-0:99.99.0"])[0]
        assert missing.quality is Quality.NOT_AVAILABLE and missing.value is None
        with pytest.raises(UnsupportedAction):
            connection.read_clock()
        with pytest.raises(UnsupportedAction):
            connection.read_load_profile(datetime(2026, 3, 1, tzinfo=UTC), datetime.now(UTC))


def test_int32_low_word_first_map_with_scale_and_clock() -> None:
    with start(1, faults=Faults(clock_drift=100), map="int32-lw") as fleet:
        meter = SimulatedMeter("MB-0001")
        with connect(fleet) as connection:
            energy, voltage, status, total = connection.read_registers(
                ["1.8.0", "32.7.0", "0-0:97.97.0", "1-0:15.8.0"]
            )
            assert (energy.value, energy.scaler, energy.unit) == (
                meter.active_energy(AT),
                -3,
                "kWh",
            )
            assert energy.scaled == pytest.approx(meter.active_energy(AT) / 1000)
            assert (voltage.value, voltage.scaler) == (meter.voltage(AT), -1)
            assert (status.value, status.quality) == (0, Quality.VALID)
            # import + export (the simulated meter exported register_offset // 100 Wh once);
            # float64 keeps every digit
            exported = meter.register_offset // 100
            assert total.value == (meter.active_energy(AT) + exported) / 1000
            clock = connection.read_clock()
            assert clock.value == datetime.fromtimestamp(AT + meter.clock_drift + 100, UTC)
            target = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
            assert connection.set_clock(target) is Quality.VALID
            assert connection.read_clock().value == target


def test_rtu_over_pty_and_trace() -> None:
    with start(1, framing="rtu", map="int32-lw") as fleet:
        endpoint = fleet.endpoints[0]
        assert endpoint.medium == "serial" and endpoint.settings["framing"] == "rtu"
        medium, trace = open_medium(fleet)
        with ModbusDriver().connect(endpoint.address, endpoint.settings, medium) as connection:
            reading = connection.read_registers(["1.8.0"])[0]
        medium.close()
        assert reading.value == SimulatedMeter("MB-0001").active_energy(AT)
        assert "tx 01 03 00 00 00 02 C4 0B" in trace.text()


def test_rtu_bad_crc_is_a_protocol_error_with_the_frame() -> None:
    with start(1, faults=Faults(corrupt_every=2), framing="rtu") as fleet:
        medium, trace = open_medium(fleet)
        endpoint = fleet.endpoints[0]
        connection = ModbusDriver().connect(endpoint.address, endpoint.settings, medium)
        assert connection.read_registers(["1.8.0"])[0].quality is Quality.VALID
        with pytest.raises(ProtocolError, match="bad CRC") as caught:
            connection.read_registers(["1.8.0"])
        assert caught.value.frame is not None and len(caught.value.frame) == 9
        medium.close()


def test_tcp_corrupt_header_is_a_protocol_error(sdm_fleet: ModbusFleet) -> None:
    with start(1, faults=Faults(corrupt_every=1)) as fleet:
        with connect(fleet) as connection:
            with pytest.raises(ProtocolError, match="protocol id"):
                connection.read_registers(["1.8.0"])


def test_wrong_unit_id_tcp_and_rtu() -> None:
    with start(1) as fleet:
        with connect(fleet, unit="7", timeout="1") as connection:
            with pytest.raises(MeterTimeout, match="unit 7"):
                connection.read_registers(["1.8.0"])
    with start(1, framing="rtu") as fleet:
        started = time.monotonic()
        with connect(fleet, unit="7", timeout="0.3") as connection:
            with pytest.raises(MeterTimeout):
                connection.read_registers(["1.8.0"])
        assert time.monotonic() - started < 3


def test_meter_stops_answering_mid_session_and_drops() -> None:
    with start(1, faults=Faults(silent_after=1)) as fleet:
        with connect(fleet, timeout="0.3") as connection:
            connection.read_registers(["1.8.0"])
            with pytest.raises(MeterTimeout):
                connection.read_registers(["2.8.0"])
    with start(1, faults=Faults(drop_after=1)) as fleet:
        with connect(fleet, timeout="1") as connection:
            connection.read_registers(["1.8.0"])
            with pytest.raises(LinkLost):
                connection.read_registers(["2.8.0"])


def test_latency_is_served() -> None:
    with start(1, faults=Faults(latency=0.2)) as fleet:
        with connect(fleet) as connection:
            started = time.monotonic()
            connection.read_registers(["1.8.0"])
            assert time.monotonic() - started >= 0.2


def test_illegal_address_gives_not_available() -> None:
    with start(1, map="int32-lw") as fleet:
        with connect(fleet) as connection:
            assert connection.read_block(3, 0x0100, 2) == 2
            assert connection.write_block(0x0000, [1, 2]) == 2


def test_driver_opens_its_own_tcp_medium(sdm_fleet: ModbusFleet) -> None:
    endpoint = sdm_fleet.endpoints[0]
    with ModbusDriver().connect(endpoint.address, endpoint.settings) as connection:
        assert connection.read_registers(["1.8.0"])[0].quality is Quality.VALID


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"unit": "300"}, "settings.unit"),
        ({"map": "nope"}, "settings.map"),
        ({"framing": "ascii"}, "settings.framing"),
        ({"speed": "1"}, "settings"),
        ({"map": "sdm630", "map_file": "x.toml"}, "settings"),
    ],
)
def test_bad_settings(settings: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        ModbusDriver().connect("127.0.0.1:1", settings)
    assert caught.value.field == field or str(caught.value).startswith(field)


def test_plan_reads_merges_within_gap() -> None:
    # the registers of the first, eight-register sdm630 map
    old = {0x00, 0x06, 0x0C, 0x34, 0x46, 0x48, 0x4A, 0x156}
    registers = [r for r in shipped_map("sdm630").registers if r.address in old]
    assert len(registers) == 8
    blocks = plan_reads(registers, 64)
    assert [(function, address, len(members)) for function, address, members in blocks] == [
        (4, 0x0000, 7),
        (4, 0x0156, 1),
    ]
    assert len(plan_reads(registers, 0)) == 6  # 0x46, 0x48 and 0x4A are adjacent


def test_plugin_contributes_driver_and_simulator() -> None:
    host = build_plugin_host(development_license(), load_settings())
    assert host.drivers()["modbus"] is ModbusDriver
    assert host.simulators()["modbus"] is ModbusSimulator
    assert Action.SET_CLOCK in ModbusDriver.info().actions
    assert Action.READ_LOAD_PROFILE not in ModbusDriver.info().actions
