"""The simulated meter's registers: values from its model, parts that add up, over HDLC too."""

from __future__ import annotations

import time

import pytest

from meterhub.extensions.driver import Quality
from meterhub.plugins.drivers.dlms.driver import DlmsDriver
from meterhub.plugins.drivers.dlms.simulator import DlmsFleet
from meterhub.plugins.drivers.dlms.simulator.catalog import TARIFF_SHARES, Quantities, part

pytestmark = pytest.mark.timeout(30)


def read(fleet: DlmsFleet, codes: list[str], **extra: str):
    endpoint = fleet.endpoints[0]
    before = int(time.time())
    with DlmsDriver().connect(endpoint.address, {**endpoint.settings, **extra}) as connection:
        readings = connection.read_registers(codes)
    seconds = range(before, int(time.time()) + 1)
    return {reading.obis: reading for reading in readings}, seconds


def test_energies_by_rate_phase_and_quadrant(wrapper_fleet: DlmsFleet) -> None:
    q = Quantities(wrapper_fleet.state(wrapper_fleet.endpoints[0].serial))
    codes = [f"1-0:1.8.{rate}" for rate in range(5)]
    codes += ["1-0:21.8.0", "1-0:41.8.0", "1-0:61.8.0", "1-0:3.8.0", "1-0:4.8.0"]
    codes += [f"1-0:{c}.8.0" for c in (5, 6, 7, 8)]
    got, seconds = read(wrapper_fleet, codes)
    assert all(reading.quality is Quality.VALID for reading in got.values())
    assert all(
        (reading.unit, reading.scaler) in {("Wh", 0), ("varh", 0)} for reading in got.values()
    )
    total = got["1-0:1.8.0*255"].value
    assert total in {q.import_energy(at) for at in seconds}
    for rate in range(1, 5):
        value = got[f"1-0:1.8.{rate}*255"].value
        assert value in {part(q.import_energy(at), TARIFF_SHARES, rate - 1) for at in seconds}
    if len(seconds) == 1:  # read within one second: the parts add up exactly
        assert sum(got[f"1-0:1.8.{rate}*255"].value for rate in range(1, 5)) == total
        phases = sum(got[f"1-0:{c}.8.0*255"].value for c in (21, 41, 61))
        assert phases == total
        quadrants = [got[f"1-0:{c}.8.0*255"].value for c in (5, 6, 7, 8)]
        assert quadrants[0] + quadrants[1] == got["1-0:3.8.0*255"].value
        assert quadrants[2] + quadrants[3] == got["1-0:4.8.0*255"].value


def test_instantaneous_values_per_phase(start_fleet) -> None:
    fleet = start_fleet(framing="hdlc")  # over HDLC, the 110-object meter reads as well
    q = Quantities(fleet.state(fleet.endpoints[0].serial))
    codes = ["1-0:32.7.0", "1-0:52.7.0", "1-0:72.7.0", "1-0:31.7.0", "1-0:51.7.0", "1-0:71.7.0"]
    codes += ["1-0:14.7.0", "1-0:13.7.0", "1-0:21.7.0", "1-0:9.7.0", "1-0:9.6.0", "1-0:3.4.0"]
    got, seconds = read(fleet, codes)
    assert all(reading.quality is Quality.VALID for reading in got.values())
    for phase, c in ((1, 32), (2, 52), (3, 72)):
        voltage = got[f"1-0:{c}.7.0*255"]
        assert (voltage.unit, voltage.scaler) == ("V", -1)
        assert voltage.value in {q.voltage(phase, at) for at in seconds}
        current = got[f"1-0:{c - 1}.7.0*255"]
        assert (current.unit, current.scaler) == ("A", -2)
        assert current.value in {q.current(phase, at) for at in seconds}
    frequency = got["1-0:14.7.0*255"]
    assert (frequency.unit, frequency.scaler) == ("Hz", -2)
    assert 4997 <= frequency.value <= 5003
    factor = got["1-0:13.7.0*255"]
    # Unit code 255 ("no unit, count" in IEC 62056-62), thousandths.
    assert (factor.unit, factor.scaler) == ("count", -3) and 0 < factor.value <= 1000
    assert got["1-0:9.6.0*255"].unit == "VA"  # maximum apparent demand, class 4
    assert got["1-0:3.4.0*255"].unit == "var"  # reactive demand register, class 5


def test_the_object_list_over_hdlc(start_fleet) -> None:
    fleet = start_fleet(framing="hdlc")
    endpoint = fleet.endpoints[0]
    with DlmsDriver().connect(endpoint.address, endpoint.settings) as connection:
        objects = connection.read_object_list()
    assert len(objects) >= 100
    assert any(class_id == 23 and obis == "0-0:22.0.0*255" for class_id, obis, _ in objects)
