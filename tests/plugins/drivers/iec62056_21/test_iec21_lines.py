"""The IEC 62056-21 driver on real lines: timing at real baud rates, quirky meters, billing
values, TCP converters, and frame traces without the password."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from meterhub.extensions.driver import Action, BillingPeriod, MeterTimeout, Quality
from meterhub.extensions.driverkit import SimulatedMeter, line_settings
from meterhub.extensions.trace import FrameTrace
from meterhub.plugins.drivers.iec62056_21.driver import IecConnection, IecDriver
from meterhub.plugins.drivers.iec62056_21.protocol import ETX, STX
from meterhub.plugins.drivers.iec62056_21.simreadout import readout_body, readout_lines
from meterhub.plugins.drivers.iec62056_21.simulator import IecFleet, IecSimulator
from meterhub.plugins.media.serial import SerialMedium
from meterhub.plugins.media.tcp import TcpMedium

pytestmark = pytest.mark.timeout(60)

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
AT = int(NOW.timestamp())
SERIAL = "IEC-0001"


def start(**options: str) -> IecFleet:
    return IecSimulator().start(1, options={"time": NOW.isoformat(), **options})


@contextmanager
def connected(fleet: IecFleet, **settings: str) -> Iterator[tuple[IecConnection, FrameTrace]]:
    endpoint = fleet.endpoints[0]
    trace = FrameTrace()
    medium_class = TcpMedium if endpoint.medium == "tcp" else SerialMedium
    medium = medium_class(
        endpoint.address, line_settings(endpoint.medium, endpoint.settings), trace
    )
    medium.open(2)
    try:
        own = {"password": endpoint.settings["password"], **settings}
        yield IecDriver().connect(endpoint.address, own, medium), trace
    finally:
        medium.close()


def frame_size(**kwargs: object) -> int:
    lines = readout_lines(SimulatedMeter(SERIAL), AT, AT, **kwargs)  # type: ignore[arg-type]
    return len(STX + readout_body(lines, str(kwargs.get("dialect", "standard"))) + ETX) + 1


# -- timing ------------------------------------------------------------------------------------


def test_short_readout_at_the_real_speed_of_the_line() -> None:
    """Identification at 300 Bd, readout at 9600 Bd, 10 bits a character, as on a real line."""
    size = frame_size()
    least = len(f"/MHs5{SERIAL}\r\n") * 10 / 300 + size * 10 / 9600
    with start(pace="true") as fleet, connected(fleet) as (connection, _):
        started = time.monotonic()
        energy = connection.read_registers(["1.8.0"])[0]
        took = time.monotonic() - started
    assert energy.value == SimulatedMeter(SERIAL).active_energy(AT)
    assert took >= least * 0.95  # the bytes took their time on the line


@pytest.mark.slow
def test_a_4_5_kb_readout_at_9600_bd_reads_with_the_default_settings() -> None:
    """About 5 s on the line: more than the 3 s reaction time-out, never more than 1.5 s
    between characters."""
    size = frame_size(billing_periods=30)
    assert size >= 4500
    with start(pace="true", billing_periods="30") as fleet, connected(fleet) as (connection, _):
        started = time.monotonic()
        energy = connection.read_registers(["1.8.0"])[0]
        took = time.monotonic() - started
        billing = connection.read_billing(NOW - timedelta(days=900), NOW)
    assert took >= size * 10 / 9600 * 0.95 and took > 3.0
    assert energy.quality is Quality.VALID
    assert energy.value == SimulatedMeter(SERIAL).active_energy(AT)
    assert len({r.timestamp for r in billing.readings}) == 30


@pytest.mark.parametrize("pace", ["true", "false"])
def test_a_meter_silent_mid_readout_fails_after_the_inter_character_time(pace: str) -> None:
    with (
        start(pace=pace, stall_after="120") as fleet,
        connected(fleet, timeout="5", inter_character_timeout="0.3") as (connection, _),
    ):
        started = time.monotonic()
        with pytest.raises(MeterTimeout, match=r"fell silent for 0\.3 s after 120 bytes") as caught:
            connection.read_registers(["1.8.0"])
        took = time.monotonic() - started
    assert len(caught.value.frame or b"") == 120
    # a whole-answer deadline of 5 s would have waited that long
    assert took < 2.5


def test_a_meter_that_never_reacts_fails_after_the_reaction_time() -> None:
    with start() as fleet, connected(fleet, timeout="0.4", device_address="4242") as (conn, _):
        started = time.monotonic()
        with pytest.raises(MeterTimeout, match=r"identification: no answer within 0\.4 s"):
            conn.read_clock()
        assert time.monotonic() - started < 1.5


# -- what real meters send ---------------------------------------------------------------------


def test_a_quirky_meter_reads_through_a_real_line() -> None:
    meter = SimulatedMeter(SERIAL)
    with start(dialect="quirky") as fleet, connected(fleet) as (connection, _):
        serial, device, demand = connection.read_registers(["0.0.0", "C.1.0", "1.6.0"])
        clock = connection.read_clock()
        measured = {r.obis for r in connection.read_instantaneous()}
        assert connection.identification is not None
        assert connection.identification.identification == f"{SERIAL} Sim Meter v2.10 rev B"
    assert serial.value == "0000000001" and device.value == SERIAL
    assert demand.unit == "kW" and demand.timestamp.date() == NOW.date()
    assert clock.value == NOW + timedelta(seconds=meter.clock_drift)
    assert measured == {"1-0:1.7.0*255", "1-0:32.7.0*255", "1-0:31.7.0*255"}


def test_billing_values_from_the_readout() -> None:
    meter = SimulatedMeter(SERIAL)
    assert Action.READ_BILLING in IecDriver.info().actions
    with start(billing_periods="3") as fleet, connected(fleet) as (connection, _):
        billing = connection.read_billing(
            datetime(2026, 1, 1, tzinfo=UTC), NOW, BillingPeriod.MONTHLY
        )
        daily = connection.read_billing(NOW - timedelta(days=3), NOW, BillingPeriod.DAILY)
    ends = [datetime(2026, month, 1, tzinfo=UTC) for month in (1, 2, 3)]
    energy = [r for r in billing.readings if r.obis == "1-0:1.8.0*255"]
    assert [r.timestamp for r in energy] == ends
    assert [r.value for r in energy] == [meter.active_energy(int(e.timestamp())) for e in ends]
    assert {r.obis for r in billing.readings} == {
        "1-0:1.8.0*255",
        "1-0:2.8.0*255",
        "1-0:3.8.0*255",
        "1-0:1.6.0*255",
    }
    assert daily.quality is Quality.NOT_AVAILABLE


def test_a_meter_behind_a_tcp_converter() -> None:
    with start(transport="tcp") as fleet, connected(fleet) as (connection, _):
        endpoint = fleet.endpoints[0]
        assert endpoint.medium == "tcp" and endpoint.address.startswith("127.0.0.1:")
        energy = connection.read_registers(["1.8.0"])[0]
        assert connection.set_clock(NOW) is Quality.VALID
        assert connection.read_clock().value == NOW
    assert energy.value == SimulatedMeter(SERIAL).active_energy(AT)
    assert fleet.meters[0].client_bauds == [None, None, None]


def test_the_driver_opens_its_own_line() -> None:
    with start() as fleet:
        path = fleet.endpoints[0].address
        with IecDriver().connect(path, {"password": "00000000"}) as connection:
            assert connection.read_registers(["1.8.0"])[0].quality is Quality.VALID
            trace = connection.medium.trace
        assert trace is not None and f"serial {path} opened at 300 7E1" in trace.text()
        assert fleet.meters[0].baud_switches == [9600]


# -- secrets -----------------------------------------------------------------------------------


@pytest.mark.parametrize("wrong", [False, True])
def test_the_password_never_reaches_the_frame_trace(wrong: bool) -> None:
    password = "Zx9#k2Lq"
    settings = {"password": password + "!" if wrong else password}
    with start(password=password) as fleet, connected(fleet, **settings) as (conn, trace):
        if wrong:
            with pytest.raises(Exception, match="refused the password"):
                conn.set_clock(NOW)
        else:
            assert conn.set_clock(NOW) is Quality.VALID
            assert conn.read_load_profile(NOW - timedelta(hours=2), NOW).values == 16
    sent = settings["password"].encode("ascii")
    records = trace.as_records()
    everything = b"".join(bytes.fromhex(record["hex"]) for record in records)
    assert sent not in everything
    assert sent.hex() not in trace.text().replace(" ", "").lower()
    logins = [r for r in records if bytes.fromhex(r["hex"]).startswith(b"\x01P1\x02(")]
    expected = 1 if wrong else 2
    assert len(logins) == expected
    for record in logins:
        frame = bytes.fromhex(record["hex"])
        assert frame == b"\x01P1\x02(" + b"*" * len(sent) + b")\x03*"
        assert record["masked"] == [[5, 5 + len(sent)], [len(frame) - 1, len(frame)]]
    assert "(masked)" in trace.text()


def test_a_half_duplex_line_that_echoes_every_frame() -> None:
    password = "Echo-4711"
    meter = SimulatedMeter(SERIAL)
    with start(echo="true", password=password) as fleet, connected(fleet) as (conn, trace):
        energy = conn.read_registers(["1.8.0"])[0]
        assert conn.set_clock(NOW) is Quality.VALID
        profile = conn.read_load_profile(NOW - timedelta(hours=1), NOW)
    assert energy.value == meter.active_energy(AT)
    assert profile.values == 8
    assert "echoes what the driver sends" in trace.text()
    received = [bytes.fromhex(r["hex"]) for r in trace.as_records() if r["direction"] == "rx"]
    heard = b"".join(received)
    # the meter handed the password command back; the trace holds it masked, block check too
    echoes = [frame for frame in received if frame.startswith(b"\x01P1\x02")]
    assert len(echoes) == 2
    for echo in echoes:
        assert echo.startswith(b"\x01P1\x02(" + b"*" * len(password) + b")\x03")
        assert echo.endswith(b"*")
    assert password.encode("ascii") not in heard
