"""The simulated driver: a real Driver implementation with deterministic values and no I/O."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta

import pytest

from meterhub.errors import InvalidValue
from meterhub.extensions.driver import (
    Action,
    Driver,
    DriverConnection,
    LinkLost,
    Quality,
    UnsupportedAction,
)
from meterhub.plugins.drivers.simulated import (
    ACTIVE_ENERGY,
    ACTIVE_PROFILE,
    CLOCK,
    DISCONNECT_CONTROL,
    REACTIVE_ENERGY,
    REACTIVE_PROFILE,
    SERIAL_NUMBER,
    SimulatedDriver,
)

NOW = datetime(2026, 3, 4, 10, 7, 30, tzinfo=UTC)
DAY = datetime(2026, 3, 3, tzinfo=UTC)


def driver(now: datetime = NOW) -> SimulatedDriver:
    return SimulatedDriver(clock=lambda: now)


def connect(serial: str = "SIM-0001", now: datetime = NOW, **settings: str) -> DriverConnection:
    return driver(now).connect(serial, settings)


def test_is_a_complete_driver() -> None:
    assert issubclass(SimulatedDriver, Driver)
    info = SimulatedDriver.info()
    assert info.name == SimulatedDriver.name == "simulated"
    assert Action.READ_LOAD_PROFILE in info.actions
    assert Action.SET_RELAY not in info.actions
    assert info.address_syntax and info.settings_syntax
    assert info.media == ()


def test_quarter_hour_load_profile_of_a_day() -> None:
    with connect() as connection:
        profile = connection.read_load_profile(DAY, DAY + timedelta(days=1))
    assert profile.quality is Quality.VALID
    assert profile.interval == timedelta(minutes=15)
    active = [r for r in profile.readings if r.obis == ACTIVE_PROFILE]
    reactive = [r for r in profile.readings if r.obis == REACTIVE_PROFILE]
    assert len(active) == len(reactive) == 96
    assert active[0].timestamp == DAY + timedelta(minutes=15), "labelled by the interval end"
    assert active[-1].timestamp == DAY + timedelta(days=1)
    assert all(r.unit == "Wh" and r.scaler == 0 and r.quality is Quality.VALID for r in active)
    assert all(isinstance(r.value, int) and r.value > 0 for r in active)
    assert len({r.value for r in active}) > 10, "the values follow a daily shape"


def test_profile_adds_up_to_the_register_advance() -> None:
    start, end = DAY, DAY + timedelta(days=1)
    with connect(now=start) as connection:
        (before,) = connection.read_registers([ACTIVE_ENERGY])
    with connect(now=end) as connection:
        (after,) = connection.read_registers([ACTIVE_ENERGY])
        profile = connection.read_load_profile(start, end)
    total = sum(r.value for r in profile.readings if r.obis == ACTIVE_PROFILE)  # type: ignore[misc]
    assert total == after.value - before.value  # type: ignore[operator]


def test_values_are_deterministic_per_serial_and_time() -> None:
    def read(serial: str) -> list[object]:
        with connect(serial) as connection:
            profile = connection.read_load_profile(DAY, DAY + timedelta(hours=6))
            registers = connection.read_registers([ACTIVE_ENERGY, REACTIVE_ENERGY])
            return [r.value for r in (*profile.readings, *registers)]

    assert read("SIM-0001") == read("SIM-0001")
    assert read("SIM-0001") != read("SIM-0002")


def test_known_values_do_not_drift() -> None:
    """Pinned values: a change to the simulation must be deliberate (demos and tests use it)."""
    with connect("SIM-0001", now=DAY) as connection:
        (register,) = connection.read_registers([ACTIVE_ENERGY])
        profile = connection.read_load_profile(DAY - timedelta(minutes=30), DAY)
    assert register.value == 379_591_007
    assert [(r.obis, r.value) for r in profile.readings] == [
        (ACTIVE_PROFILE, 133),
        (REACTIVE_PROFILE, 36),
        (ACTIVE_PROFILE, 133),
        (REACTIVE_PROFILE, 36),
    ]


def test_other_intervals_and_no_future_data() -> None:
    with connect(interval="60") as connection:
        profile = connection.read_load_profile(NOW - timedelta(hours=5), NOW + timedelta(hours=5))
    active = [r for r in profile.readings if r.obis == ACTIVE_PROFILE]
    assert profile.interval == timedelta(hours=1)
    assert [r.timestamp.hour for r in active] == [6, 7, 8, 9, 10]
    with pytest.raises(InvalidValue, match="settings.interval"):
        connect(interval="7")


def test_registers_in_order_with_quality() -> None:
    with connect(missing="1-0:3.8.0") as connection:
        readings = connection.read_registers(["1.8.0", REACTIVE_ENERGY, SERIAL_NUMBER, "99.99.9"])
    assert [r.obis for r in readings] == [
        ACTIVE_ENERGY,
        REACTIVE_ENERGY,
        SERIAL_NUMBER,
        "1-0:99.99.9*255",
    ]
    assert [r.quality for r in readings] == [
        Quality.VALID,
        Quality.NOT_AVAILABLE,
        Quality.VALID,
        Quality.NOT_AVAILABLE,
    ]
    assert readings[1].value is None
    assert readings[2].value == "SIM-0001"
    assert all(r.timestamp == NOW.replace(microsecond=0) for r in readings)


def test_missing_profile_channel_is_left_out() -> None:
    with connect(missing=REACTIVE_PROFILE) as connection:
        profile = connection.read_load_profile(DAY, DAY + timedelta(hours=1))
    assert {r.obis for r in profile.readings} == {ACTIVE_PROFILE}


def test_instantaneous_values() -> None:
    with connect() as connection:
        power, voltage, current = connection.read_instantaneous()
    assert (power.unit, voltage.unit, current.unit) == ("W", "V", "A")
    assert 225.0 <= voltage.scaled <= 235.0  # type: ignore[operator]
    assert current.scaled == pytest.approx(power.value / voltage.scaled, abs=0.01)  # type: ignore[operator]


def test_clock_drift_and_set_clock_persist_per_meter() -> None:
    simulated = driver()
    with simulated.connect("SIM-0001", {}) as connection:
        clock = connection.read_clock()
        assert clock.obis == CLOCK
        assert clock.timestamp == NOW.replace(microsecond=0)
        assert abs((clock.value - clock.timestamp).total_seconds()) <= 30  # type: ignore[operator]
        assert connection.set_clock(NOW + timedelta(seconds=5)) is Quality.VALID
    with simulated.connect("SIM-0001", {}) as connection:
        assert connection.read_clock().value == NOW.replace(microsecond=0) + timedelta(seconds=5)
    with simulated.connect("SIM-0001", {"clock_offset": "99"}) as connection:
        assert connection.read_clock().value == NOW.replace(microsecond=0) + timedelta(seconds=5)
    with driver().connect("SIM-0001", {"clock_offset": "-12"}) as connection:
        assert connection.read_clock().value == NOW.replace(microsecond=0) - timedelta(seconds=12)


def test_events_in_range() -> None:
    start = NOW - timedelta(days=60)
    with connect() as connection:
        log = connection.read_events(start, NOW)
    assert log.quality is Quality.VALID
    assert log.events, "about one day in ten has a power failure"
    stamps = [event.timestamp for event in log.events]
    assert stamps == sorted(stamps)
    assert all(start <= stamp < NOW for stamp in stamps)
    assert {event.code for event in log.events} <= {1, 2}
    assert log.events[0].log == "0-0:99.98.0*255"


def test_supply_switch() -> None:
    simulated = driver()
    with simulated.connect("SIM-0001", {}) as connection:
        assert connection.disconnect_supply() is Quality.VALID
        assert connection.read_registers([DISCONNECT_CONTROL])[0].value == 0
        assert connection.reconnect_supply() is Quality.VALID
        assert connection.read_registers([DISCONNECT_CONTROL])[0].value == 1


def test_unsupported_action_raises_a_clear_error() -> None:
    with connect() as connection:
        with pytest.raises(UnsupportedAction) as caught:
            connection.set_relay(1, closed=True)
    assert str(caught.value) == "driver 'simulated' does not support the action 'set_relay'"
    assert caught.value.action is Action.SET_RELAY


def test_only_a_lost_link_raises() -> None:
    connection = connect(link_lost_after="2")
    connection.read_clock()
    connection.read_instantaneous()
    with pytest.raises(LinkLost, match="link lost"):
        connection.read_clock()
    closed = connect()
    closed.close()
    with pytest.raises(LinkLost, match="closed"):
        closed.read_clock()
    with pytest.raises(LinkLost, match="does not answer"):
        connect(unreachable="true")


@pytest.mark.parametrize(
    ("address", "settings", "field"),
    [
        ("", {}, "address"),
        ("has space", {}, "address"),
        ("SIM-1", {"colour": "red"}, "settings"),
        ("SIM-1", {"link_lost_after": "soon"}, "settings.link_lost_after"),
        ("SIM-1", {"missing": "not-obis"}, "settings.missing"),
    ],
)
def test_bad_configuration_is_invalid_value(
    address: str, settings: dict[str, str], field: str
) -> None:
    with pytest.raises(InvalidValue) as caught:
        driver().connect(address, settings)
    assert caught.value.field == field


def test_naive_times_are_refused() -> None:
    with connect() as connection, pytest.raises(InvalidValue, match="aware"):
        connection.read_load_profile(datetime(2026, 3, 3), datetime(2026, 3, 4))


def test_plugin_modules_do_no_io_at_import() -> None:
    code = textwrap.dedent(
        """
        import builtins, socket

        def refuse(*args, **kwargs):
            raise AssertionError("I/O at import time")

        builtins.open = refuse
        socket.socket = refuse
        socket.create_connection = refuse
        import meterhub.plugins.drivers.simulated
        import meterhub.plugins.exports.memory
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
