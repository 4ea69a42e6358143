"""A DLMS meter behind a dial-up modem: HDLC over the modem emulator's line."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from meterhub.extensions.driver import Quality
from meterhub.extensions.driverkit import SimulatedMeter
from meterhub.extensions.trace import FrameTrace
from meterhub.plugins.drivers.dlms.driver import DlmsDriver
from meterhub.plugins.media.modem import ModemMedium
from meterhub.plugins.media.modem_emulator import ModemEmulator

pytestmark = pytest.mark.timeout(30)


def test_clock_and_register_through_the_modem_emulator(start_fleet) -> None:
    fleet = start_fleet(transport="serial")  # HDLC on a pty: the meter's serial port
    endpoint = fleet.endpoints[0]
    with ModemEmulator({"0123": f"serial:{endpoint.address}"}, guard_time=0.1) as emulator:
        trace = FrameTrace()
        medium = ModemMedium(
            "0123", {"port": emulator.port, "guard_time": "0.1", "dial_timeout": "2"}, trace
        )
        medium.open(2)
        try:
            with DlmsDriver().connect("0123", endpoint.settings, medium) as connection:
                clock = connection.read_clock()
                before = int(time.time())
                energy = connection.read_registers(["1-0:1.8.0"])[0]
                after = int(time.time())
        finally:
            medium.close()
    assert connection.framing == "hdlc"
    assert clock.quality is Quality.VALID
    meter = SimulatedMeter(endpoint.serial)
    drift = timedelta(seconds=meter.clock_drift)  # the meter clock runs off by its drift
    assert abs(clock.value - (clock.timestamp + drift)) < timedelta(seconds=2)
    assert energy.quality is Quality.VALID and energy.unit == "Wh"
    assert energy.value in {meter.active_energy(at) for at in range(before, after + 1)}
    sent = bytes.fromhex("".join(r["hex"] for r in trace.as_records() if r["direction"] == "tx"))
    assert b"ATD0123" in sent
    text = trace.text()
    assert "SNRM" in text and "GET 0-0:1.0.0*255 class 8 attr 2" in text
