"""The ``p1`` driver reading simulated push meters through real media: ptys and TCP bridges."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from meterhub.config import load_settings
from meterhub.errors import InvalidValue
from meterhub.extensions.driver import (
    Action,
    BillingPeriod,
    MeterTimeout,
    Quality,
    UnsupportedAction,
)
from meterhub.extensions.driverkit import SimulatedMeter, line_settings
from meterhub.extensions.simulator import Faults
from meterhub.extensions.trace import FrameTrace
from meterhub.licensing import development_license
from meterhub.pluginhost import build_plugin_host
from meterhub.plugins.drivers.iec62056_21.p1.compose import (
    capture_time,
    gas_litres,
    monthly_peaks,
    tariff_registers,
    telegram,
    water_litres,
)
from meterhub.plugins.drivers.iec62056_21.p1.driver import P1Connection, P1Driver
from meterhub.plugins.drivers.iec62056_21.p1.simulator import P1Fleet, P1Simulator
from meterhub.plugins.drivers.iec62056_21.p1.telegram import TelegramError
from meterhub.plugins.media.serial import SerialMedium
from meterhub.plugins.media.tcp import TcpMedium

pytestmark = pytest.mark.timeout(60)

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
AT = int(NOW.timestamp())
SERIAL = "P1-0001"


def start(
    version: str,
    *,
    transport: str = "pty",
    interval: str = "0.2",
    faults: Faults | None = None,
    **more: str,
) -> P1Fleet:
    options = {"version": version, "interval": interval, "transport": transport, **more}
    return P1Simulator().start(1, faults=faults, options={"time": NOW.isoformat(), **options})


@contextmanager
def connected(fleet: P1Fleet, **settings: str) -> Iterator[P1Connection]:
    endpoint = fleet.endpoints[0]
    medium_class = TcpMedium if endpoint.medium == "tcp" else SerialMedium
    medium = medium_class(
        endpoint.address, line_settings(endpoint.medium, endpoint.settings), FrameTrace()
    )
    medium.open(2)
    try:
        with P1Driver().connect(endpoint.address, {"timeout": "3", **settings}, medium) as conn:
            yield conn
    finally:
        medium.close()


@pytest.mark.parametrize("transport", ["pty", "tcp"])
@pytest.mark.parametrize("version", ["2.2", "4.2", "5.0", "emucs"])
def test_every_version_through_a_real_line(version: str, transport: str) -> None:
    meter = SimulatedMeter(SERIAL)
    low, normal = tariff_registers(meter, AT)
    captured = capture_time(version, AT)
    with start(version, transport=transport) as fleet, connected(fleet) as connection:
        tariff1, tariff2, power = connection.read_registers(["1.8.1", "1-0:1.8.2", "1.7.0"])
        submeters = connection.read_submeters()
        clock = connection.read_clock()
        assert connection.last_telegram is not None
        assert (connection.last_telegram.crc is None) == (version == "2.2")
    assert (
        tariff1.value * 10 ** (tariff1.scaler + 3),
        tariff2.value * 10 ** (tariff2.scaler + 3),
    ) == (
        low,
        normal,
    )
    assert power.scaled == pytest.approx(meter.power(AT) / 1000, abs=0.01)
    if version == "2.2":
        assert clock.quality is Quality.NOT_AVAILABLE
    else:
        assert clock.value == NOW
    gas = submeters[0]
    assert (gas.channel, gas.device_type) == (1, 3)
    (volume,) = [r for r in gas.readings if r.obis.startswith("0-1:24.2.")]
    assert volume.value == gas_litres(SERIAL, captured)
    assert volume.scaler == -3 and volume.unit == "m3"
    assert volume.timestamp == datetime.fromtimestamp(captured, UTC)
    if version in ("5.0", "emucs"):
        water = submeters[1]
        assert (water.channel, water.device_type) == (2, 7)
        assert water.readings[-1].value == water_litres(SERIAL, captured)
    else:
        assert len(submeters) == 1


def test_mode_d_through_a_pty_at_2400_bd() -> None:
    with start("moded", pace="true") as fleet, connected(fleet) as connection:
        endpoint = fleet.endpoints[0]
        assert (endpoint.settings["baudrate"], endpoint.settings["parity"]) == ("2400", "E")
        started = time.monotonic()
        telegram_ = connection.next_telegram()
        took = time.monotonic() - started
        energy = connection.read_registers(["1.8.0"])[0]
        clock = connection.read_clock()
    assert telegram_.kind == "mode_d"
    # about 240 bytes at 2400 Bd, 10 bits a character: a tenth of a second
    assert took >= len(telegram("moded", SERIAL, AT)) * 10 / 2400 * 0.9
    assert energy.value == SimulatedMeter(SERIAL).active_energy(AT)
    assert clock.value == NOW


def test_paced_dsmr_22_at_9600_bd_7e1() -> None:
    with start("2.2", pace="true") as fleet, connected(fleet) as connection:
        started = time.monotonic()
        connection.next_telegram()
        took = time.monotonic() - started
    assert took >= len(telegram("2.2", SERIAL, AT)) * 10 / 9600 * 0.9


def test_emucs_billing_from_the_monthly_maxima() -> None:
    meter = SimulatedMeter(SERIAL)
    with start("emucs") as fleet, connected(fleet) as connection:
        billing = connection.read_billing(NOW - timedelta(days=400), NOW, BillingPeriod.MONTHLY)
    expected = sorted(
        (datetime.fromtimestamp(end, UTC), watts) for end, _, watts in monthly_peaks(meter, AT)
    )
    assert [(r.timestamp, r.value) for r in billing.readings] == expected
    assert {r.obis for r in billing.readings} == {"1-0:1.6.0*255"}


def test_power_failures_are_events() -> None:
    meter = SimulatedMeter(SERIAL)
    with start("5.0") as fleet, connected(fleet) as connection:
        log = connection.read_events(NOW - timedelta(days=30), NOW)
    expected = [(e.timestamp, e.code) for e in meter.events(AT - 30 * 86_400, AT)]
    # the log holds whole failures; one cut by the 30-day window's start is left out
    assert [(e.timestamp, e.code) for e in log.events] == expected[len(expected) % 2 :]


def test_a_damaged_telegram_is_refused_and_the_next_one_reads() -> None:
    with start("5.0", faults=Faults(corrupt_every=2)) as fleet:
        with connected(fleet) as connection:
            results = []
            for _ in range(4):
                try:
                    results.append(connection.next_telegram().crc is not None)
                except TelegramError as exc:
                    assert "CRC mismatch" in str(exc)
                    results.append(False)
    # every second telegram pushed is damaged; which one the connection meets first varies
    assert results.count(False) >= 1 and results.count(True) >= 1


def test_a_silent_meter_times_out() -> None:
    with start("5.0", faults=Faults(silent_after=0)) as fleet:
        with connected(fleet, timeout="0.5") as connection:
            started = time.monotonic()
            with pytest.raises(MeterTimeout, match="no telegram began within 0.5 s"):
                connection.read_clock()
            assert time.monotonic() - started < 2


def test_joining_midway_waits_for_the_next_telegram() -> None:
    with start("4.2", interval="0.3", pace="true") as fleet:
        time.sleep(0.35)  # the pty holds a telegram; the driver drops what the line buffered
        with connected(fleet) as connection:
            assert connection.read_clock().value == NOW
            first = connection.last_telegram
            second = connection.next_telegram()
    assert first is not None and first.raw == second.raw


def test_the_driver_opens_its_own_line_at_115200_8n1() -> None:
    with start("5.0") as fleet:
        path = fleet.endpoints[0].address
        with P1Driver().connect(path, {"timeout": "3"}) as connection:
            assert connection.read_clock().value == NOW
            trace = connection.medium.trace
            assert trace is not None and "opened at 115200 8N1" in trace.text()
            assert "p1 telegram of" in trace.text()


def test_settings_and_unsupported_actions() -> None:
    for bad in ({"timeout": "soon"}, {"timezone": "Mars/Olympus"}, {"require_crc": "maybe"}):
        with pytest.raises(InvalidValue, match="settings"):
            P1Driver().connect("/dev/null-not-there", bad)
    with pytest.raises(InvalidValue, match="unknown setting 'password'"):
        P1Driver().connect("/dev/null-not-there", {"password": "x"})
    info = P1Driver.info()
    assert Action.READ_SUBMETERS in info.actions and Action.SET_CLOCK not in info.actions
    with start("5.0") as fleet, connected(fleet) as connection:
        with pytest.raises(UnsupportedAction):
            connection.set_clock(NOW)
        with pytest.raises(UnsupportedAction):
            connection.read_load_profile(NOW - timedelta(hours=1), NOW)
    host = build_plugin_host(development_license(), load_settings())
    assert host.drivers()["p1"] is P1Driver
    assert host.simulators()["p1"] is P1Simulator


def test_simulator_options_are_checked() -> None:
    for options, field in (
        ({"version": "6.0"}, "options.version"),
        ({"interval": "fast"}, "options.interval"),
        ({"transport": "radio"}, "options.transport"),
        ({"colour": "red"}, "options"),
        ({"time": "noon"}, "options.time"),
    ):
        with pytest.raises(InvalidValue) as caught:
            P1Simulator().start(1, options=options)
        assert caught.value.field == field
