"""Every shipped map read register by register from pymodbus' server laid out from the same map."""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest

from meterhub.extensions.driver import Quality
from meterhub.extensions.driverkit import SimulatedMeter, line_settings
from meterhub.extensions.trace import Direction, FrameTrace
from meterhub.identifiers import ObisCode
from meterhub.plugins.drivers.modbus.driver import ModbusConnection, ModbusDriver, plan_reads
from meterhub.plugins.drivers.modbus.obiscatalog import (
    MANUFACTURER_CODES,
    is_manufacturer_specific,
)
from meterhub.plugins.drivers.modbus.registermap import (
    TIME_INTEGRALS,
    RegisterMap,
    shipped_map,
    shipped_map_names,
)
from meterhub.plugins.drivers.modbus.simmodel import UNIT_FACTORS, quantities
from meterhub.plugins.drivers.modbus.simulator import ModbusFleet, ModbusSimulator, expected_raw
from meterhub.plugins.media.serial import SerialMedium
from meterhub.plugins.media.tcp import TcpMedium

pytestmark = pytest.mark.timeout(60)

FROZEN = "2026-03-02T12:00:00Z"
AT = int(datetime(2026, 3, 2, 12, tzinfo=UTC).timestamp())
METER_MAPS = ["sdm630", "sdm120", "em24", "umg96rm"]
ENERGY_UNITS = {"Wh", "kWh", "MWh", "varh", "kvarh", "VAh", "kVAh", "Ah"}


@contextmanager
def session(
    map_name: str, framing: str = "tcp"
) -> Iterator[tuple[ModbusConnection, FrameTrace, RegisterMap]]:
    options = {"time": FROZEN, "map": map_name, "framing": framing}
    with ModbusSimulator().start(1, options=options) as fleet:
        endpoint = fleet.endpoints[0]
        trace = FrameTrace()
        cls = TcpMedium if endpoint.medium == "tcp" else SerialMedium
        medium = cls(endpoint.address, line_settings(endpoint.medium, endpoint.settings), trace)
        medium.open(2)
        try:
            connection = ModbusDriver().connect(endpoint.address, endpoint.settings, medium)
            yield connection, trace, connection.map
        finally:
            medium.close()


def _tcp_requests(trace: FrameTrace) -> list[tuple[int, int, int]]:
    """``(function, address, count)`` of every Modbus TCP read request in the trace."""
    found = []
    for entry in trace.entries:
        if entry.direction is Direction.TX and entry.data[7] in (3, 4):
            function, address, count = struct.unpack(">BHH", entry.data[7:12])
            found.append((function, address, count))
    return found


def test_every_shipped_map_is_listed() -> None:
    assert shipped_map_names() == sorted([*METER_MAPS, "int32-lw"])


@pytest.mark.parametrize("map_name", [*METER_MAPS, "int32-lw"])
def test_every_register_reads_what_the_simulator_put_there(map_name: str) -> None:
    meter = SimulatedMeter("MB-0001")
    with session(map_name) as (connection, trace, register_map):
        registers = [r for r in register_map.registers if r.kind != "clock"]
        readings = connection.read_registers([r.obis for r in registers])
    assert len(readings) == len(registers)
    for register, reading in zip(registers, readings, strict=True):
        expected = expected_raw(register, meter, AT)
        assert expected is not None, f"{map_name}: the simulator has no value for {register.obis}"
        assert reading.quality is Quality.VALID, (register.name, reading)
        assert (reading.obis, reading.unit) == (register.obis, register.unit)
        if register.data_type.startswith("int") or register.data_type.startswith("uint"):
            # exact: the raw integer and the map's scale as a power of ten
            assert isinstance(reading.value, int) and reading.value == expected, register.name
            assert reading.scaler == register.scaler
        else:
            # float32-exact: the float the meter sent, bit for bit
            assert isinstance(reading.value, float) and reading.value == expected, register.name
            assert reading.scaler == 0
            if register.data_type == "float32":
                assert struct.unpack(">f", struct.pack(">f", reading.value))[0] == reading.value
    # the requests kept to the meter's limits, in as few requests as the map allows
    requests = _tcp_requests(trace)
    assert requests and all(count <= register_map.max_read for _f, _a, count in requests)
    assert len(requests) == len(plan_reads(registers, register_map.max_gap, register_map.max_read))


def test_em24_over_rtu_on_a_pty_reads_every_register() -> None:
    meter = SimulatedMeter("MB-0001")
    with session("em24", framing="rtu") as (connection, trace, register_map):
        readings = connection.read_registers([r.obis for r in register_map.registers])
    for register, reading in zip(register_map.registers, readings, strict=True):
        assert reading.value == expected_raw(register, meter, AT), register.name
    sent = [e.data for e in trace.entries if e.direction is Direction.TX]
    assert sent and all(frame[1] == 4 and frame[5] <= 11 for frame in sent)  # RTU: count ≤ 11


def test_signed_registers_carry_negative_values() -> None:
    """The model's L3 is capacitive: negative var everywhere, negative PF where lag-lead."""
    with session("em24") as (connection, _trace, _map):
        var_l3, pf_l3, pf_l1, watt_l3 = connection.read_registers(
            ["1-0:63.7.0", "1-0:73.7.0", "1-0:33.7.0", "1-0:76.7.0"]
        )
    assert var_l3.value < 0 and var_l3.scaler == -1
    assert pf_l3.value < 0 and pf_l3.scaler == -3  # lead (C)
    assert pf_l1.value > 0 and watt_l3.value > 0
    with session("sdm630") as (connection, _trace, _map):
        var_l3, pf_l3 = connection.read_registers(["1-0:63.7.0", "1-0:73.7.0"])
        angle_l3, angle_l1 = connection.read_registers(["1-0:81.7.26", "1-0:81.7.4"])
    assert var_l3.value < 0
    assert pf_l3.value > 0  # the Eastron sign follows the direction of the current: import
    assert angle_l3.value < 0 < angle_l1.value


@pytest.mark.parametrize("map_name", METER_MAPS)
def test_read_instantaneous_returns_measurements_not_counters(map_name: str) -> None:
    meter = SimulatedMeter("MB-0001")
    with session(map_name) as (connection, _trace, register_map):
        readings = connection.read_instantaneous()
    registers = register_map.of_kind("instantaneous")
    assert [r.obis for r in readings] == [r.obis for r in registers]
    assert len(registers) > 5
    for register, reading in zip(registers, readings, strict=True):
        assert ObisCode.parse(reading.obis).d == 7, reading.obis
        assert reading.unit not in ENERGY_UNITS, reading.obis
        assert reading.value == expected_raw(register, meter, AT)
    energy = [r for r in register_map.registers if r.unit in ENERGY_UNITS]
    assert energy and all(r.kind == "register" for r in energy)


@pytest.mark.parametrize("map_name", METER_MAPS)
def test_shipped_maps_are_documented_and_consistent(map_name: str) -> None:
    register_map = shipped_map(map_name)
    assert register_map.reference and register_map.description
    names = [r.name for r in register_map.registers]
    assert len(names) == len(set(names))
    values = quantities(SimulatedMeter("MB-0002"), AT)
    for register in register_map.registers:
        code = ObisCode.parse(register.obis)
        assert register.description, register.name
        assert register.unit in UNIT_FACTORS, register.unit
        assert register.obis in values, f"the simulator lacks {register.obis}"
        if is_manufacturer_specific(register.obis):
            assert register.obis in MANUFACTURER_CODES, f"{register.obis} is not catalogued"
        assert (register.kind == "instantaneous") == (code.d == 7), register.name
        assert code.d not in TIME_INTEGRALS or register.kind == "register"
        if register.sign != "none":
            assert register.data_type in {"int16", "int32", "float32", "float64"}


def test_manual_facts_spot_checks() -> None:
    """Addresses, types and scales taken from the manufacturers' tables."""
    sdm630 = shipped_map("sdm630").by_obis()

    def where(register_map: dict, code: str) -> tuple:
        r = register_map[ObisCode.parse(code).__str__()]
        return (r.address, r.function, r.data_type, r.word_order, r.scale, r.unit, r.sign)

    assert where(sdm630, "32.7.0") == (0x0000, 4, "float32", "big", 1.0, "V", "none")
    assert where(sdm630, "36.7.0") == (0x000C, 4, "float32", "big", 1.0, "W", "import-export")
    assert where(sdm630, "14.7.0")[0] == 0x0046
    assert where(sdm630, "1.8.0")[:1] + where(sdm630, "1.8.0")[5:6] == (0x0048, "kWh")
    assert where(sdm630, "130.7.0")[0] == 0x00C8  # line 1 to line 2 volts
    assert where(sdm630, "91.7.0")[0] == 0x00E0  # neutral current
    assert where(sdm630, "32.7.124")[0] == 0x00EA  # phase 1 L/N volts THD
    assert where(sdm630, "15.8.0")[0] == 0x0156
    assert where(sdm630, "140.8.0")[0] == 0x017C  # L3 total kvarh, the last register
    sdm120 = shipped_map("sdm120").by_obis()
    assert where(sdm120, "1.4.0")[0] == 0x0058 and where(sdm120, "31.6.0")[0] == 0x0108
    em24 = shipped_map("em24").by_obis()
    assert where(em24, "32.7.0") == (0x0000, 4, "int32", "little", 0.1, "V", "none")
    assert where(em24, "31.7.0")[2:5] == ("int32", "little", 0.001)  # Ampere*1000
    pf = where(em24, "33.7.0")  # one register: the word order does not apply
    assert pf[:3] + pf[4:] == (0x0032, 4, "int16", 0.001, None, "lag-lead")
    assert where(em24, "14.7.0")[:3] + (where(em24, "14.7.0")[4],) == (0x0037, 4, "int16", 0.1)
    assert where(em24, "1.8.0")[0] == 0x003E and where(em24, "2.8.0")[0] == 0x005C
    assert where(em24, "0-0:96.8.0")[0] == 0x0060 and where(em24, "0-0:96.8.0")[4] == 0.01
    assert shipped_map("em24").max_read == 11
    umg = shipped_map("umg96rm").by_obis()
    assert where(umg, "16.7.0") == (19026, 3, "float32", "big", 1.0, "W", "import-export")
    assert where(umg, "1.8.0")[0] == 19068 and where(umg, "2.8.0")[0] == 19076
    assert where(umg, "71.7.124")[0] == 19120


def test_a_request_longer_than_max_read_is_refused_like_the_meter_does() -> None:
    with session("em24") as (connection, _trace, _map):
        assert connection.read_block(4, 0x0000, 12) == 3  # illegal data value
        assert isinstance(connection.read_block(4, 0x0000, 11), list)
        assert connection.read_block(4, 0x0200, 2) == 2  # outside the map: illegal address


def test_the_simulator_refuses_an_unknown_map() -> None:
    from meterhub.errors import InvalidValue

    with pytest.raises(InvalidValue, match="options.map: no shipped map 'sdm999'; shipped: em24"):
        ModbusSimulator().start(1, options={"map": "sdm999"})


def test_float32_registers_travel_as_ieee754_big_endian() -> None:
    """The SDM630 voltage on the wire: the float32 of the value, high word first."""
    meter = SimulatedMeter("MB-0001")
    with session("sdm630") as (connection, trace, register_map):
        connection.read_registers(["32.7.0"])
    answer = b"".join(e.data for e in trace.entries if e.direction is Direction.RX)
    value = struct.unpack(">f", answer[9:13])[0]
    assert value == expected_raw(register_map.by_obis()["1-0:32.7.0*255"], meter, AT)
    assert math.isclose(value, meter.voltage(AT) / 10, rel_tol=1e-6)


def test_fleet_type_is_exported() -> None:
    assert ModbusFleet.__name__ == "ModbusFleet"


def test_em24_int32_travels_low_word_first() -> None:
    """The EM24 import energy on the wire: kWh*10 as INT32, least significant word first."""
    meter = SimulatedMeter("MB-0001")
    with session("em24") as (connection, trace, _map):
        (energy,) = connection.read_registers(["1.8.0"])
    answer = b"".join(e.data for e in trace.entries if e.direction is Direction.RX)
    low, high = struct.unpack(">HH", answer[9:13])
    assert high > 0  # a value above 65535, so the word order shows
    assert energy.value == low + (high << 16) == round(meter.active_energy(AT) / 100)
    assert (energy.scaler, energy.unit) == (-1, "kWh")


def test_rtu_frames_over_tcp_like_a_transparent_gateway() -> None:
    meter = SimulatedMeter("MB-0001")
    options = {"time": FROZEN, "map": "em24", "framing": "rtu", "unit": "5"}
    with ModbusSimulator().start(1, options=options) as fleet:
        address = fleet.server_addresses[0]
        settings = {"map": "em24", "framing": "rtu", "unit": "5", "timeout": "2"}
        with ModbusDriver().connect(address, settings) as connection:
            assert connection.framing == "rtu" and connection.medium.name == "tcp"
            voltage, energy = connection.read_registers(["32.7.0", "1.8.0"])
    register_map = shipped_map("em24").by_obis()
    assert voltage.value == expected_raw(register_map["1-0:32.7.0*255"], meter, AT)
    assert energy.value == expected_raw(register_map["1-0:1.8.0*255"], meter, AT)
