"""The DLMS driver against the gurux-based simulator over real sockets and a pty.

Expected values come from the simulator's model, ``SimulatedMeter`` of the same serial.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from meterhub.extensions.driver import Action, BillingPeriod, LoadLimit, Quality
from meterhub.extensions.driverkit import SimulatedMeter
from meterhub.plugins.drivers.dlms import bench_read_one
from meterhub.plugins.drivers.dlms.driver import DlmsConnection, DlmsDriver
from meterhub.plugins.drivers.dlms.simulator import DlmsFleet

pytestmark = pytest.mark.timeout(30)

QUARTER = 900


def connect(fleet: DlmsFleet, index: int = 0, **extra: str) -> DlmsConnection:
    endpoint = fleet.endpoints[index]
    return DlmsDriver().connect(endpoint.address, {**endpoint.settings, **extra})


def past_day() -> tuple[datetime, datetime]:
    """A day of whole quarter-hours ending an hour ago (nothing of it is still open)."""
    now = int(time.time())
    end = now - now % QUARTER - 3600
    return datetime.fromtimestamp(end - 86_400, UTC), datetime.fromtimestamp(end, UTC)


def expected_profile(meter: SimulatedMeter, start: datetime, end: datetime) -> list[tuple]:
    rows = []
    edge = int(start.timestamp()) + QUARTER
    while edge <= int(end.timestamp()):
        active = meter.active_energy(edge) - meter.active_energy(edge - QUARTER)
        reactive = meter.reactive_energy(edge) - meter.reactive_energy(edge - QUARTER)
        stamp = datetime.fromtimestamp(edge, UTC)
        rows.append(("1-0:1.29.0*255", active, "Wh", 0, stamp))
        rows.append(("1-0:3.29.0*255", reactive, "varh", 0, stamp))
        edge += QUARTER
    return rows


def as_rows(readings) -> list[tuple]:
    return [(r.obis, r.value, r.unit, r.scaler, r.timestamp) for r in readings]


def test_info_describes_the_driver() -> None:
    info = DlmsDriver.info()
    assert info.name == "dlms"
    assert {Action.READ_LOAD_PROFILE, Action.SET_CLOCK, Action.UPLOAD_TARIFF} <= info.actions
    assert "authentication=none" in info.settings_syntax


def test_load_profile_by_range_is_exactly_what_the_meter_generated(
    wrapper_fleet: DlmsFleet,
) -> None:
    start, end = past_day()
    meter = SimulatedMeter(wrapper_fleet.endpoints[0].serial)
    with connect(wrapper_fleet) as connection:
        profile = connection.read_load_profile(start, end)
    assert profile.quality is Quality.VALID
    assert profile.interval == timedelta(minutes=15)
    assert len(profile.readings) == 2 * 96
    assert as_rows(profile.readings) == expected_profile(meter, start, end)


def test_profile_by_entry_matches_the_newest_intervals(wrapper_fleet: DlmsFleet) -> None:
    meter = SimulatedMeter(wrapper_fleet.endpoints[0].serial)
    with connect(wrapper_fleet) as connection:
        entries = connection.profile_entries("1-0:99.1.0")
        assert entries == 40 * 96
        readings, quality = connection.read_profile_entries("1-0:99.1.0", entries - 3, 4)
    assert quality is Quality.VALID
    assert len(readings) == 8
    last = readings[-1].timestamp
    start = last - timedelta(hours=1)
    assert as_rows(readings) == expected_profile(meter, start, last)
    assert int(last.timestamp()) % QUARTER == 0
    assert time.time() - last.timestamp() < QUARTER + 5


def test_registers_with_scaler_and_unit(wrapper_fleet: DlmsFleet) -> None:
    endpoint = wrapper_fleet.endpoints[0]
    meter = SimulatedMeter(endpoint.serial)
    state = wrapper_fleet.state(endpoint.serial)
    codes = ["1-0:1.8.0", "1-0:2.8.0", "1-0:32.7.0", "1-0:31.7.0", "1-0:1.7.0", "0-0:96.1.0"]
    before = int(time.time())
    with connect(wrapper_fleet) as connection:
        readings = connection.read_registers(codes)
    after = int(time.time())
    seconds = range(before, after + 1)
    by_code = {reading.obis: reading for reading in readings}
    assert [reading.obis for reading in readings] == [
        "1-0:1.8.0*255", "1-0:2.8.0*255", "1-0:32.7.0*255", "1-0:31.7.0*255",
        "1-0:1.7.0*255", "0-0:96.1.0*255",
    ]  # fmt: skip
    assert all(reading.quality is Quality.VALID for reading in readings)
    active = by_code["1-0:1.8.0*255"]
    assert (active.unit, active.scaler) == ("Wh", 0)
    assert active.value in {meter.active_energy(at) for at in seconds}
    export = by_code["1-0:2.8.0*255"]
    assert (export.unit, export.scaler) == ("Wh", 1)
    assert export.value in {state.export_energy(at) // 10 for at in seconds}
    voltage = by_code["1-0:32.7.0*255"]
    assert (voltage.unit, voltage.scaler) == ("V", -1)
    assert voltage.value in {meter.voltage(at) for at in seconds}
    assert voltage.scaled == pytest.approx(voltage.value / 10)
    current = by_code["1-0:31.7.0*255"]
    assert (current.unit, current.scaler) == ("A", -2)
    assert current.value in {meter.current(at) for at in seconds}
    assert by_code["1-0:1.7.0*255"].value in {meter.power(at) for at in seconds}
    assert by_code["0-0:96.1.0*255"].value == endpoint.serial


def test_extended_and_demand_registers_carry_their_capture_time(
    wrapper_fleet: DlmsFleet,
) -> None:
    meter = SimulatedMeter(wrapper_fleet.endpoints[0].serial)
    with connect(wrapper_fleet) as connection:
        peak, demand = connection.read_registers(["1-0:1.6.0", "1-0:1.4.0"])
    now = int(time.time())
    day = now - now % 86_400
    assert (peak.unit, peak.scaler, peak.quality) == ("W", 0, Quality.VALID)
    assert peak.value == max(meter.power(hour) for hour in range(day, now + 1, 3600))
    assert int(peak.timestamp.timestamp()) % 3600 == 0
    assert int(demand.timestamp.timestamp()) == now - now % QUARTER
    assert demand.value == meter.power(now)


def test_unsupported_objects_are_qualities_not_exceptions(wrapper_fleet: DlmsFleet) -> None:
    with connect(wrapper_fleet) as connection:
        missing, denied, present = connection.read_registers(
            ["1-0:96.51.0", "1-0:96.50.0", "1-0:1.8.0"]
        )
    assert (missing.quality, missing.value) == (Quality.NOT_AVAILABLE, None)
    assert (denied.quality, denied.value) == (Quality.ACCESS_DENIED, None)
    assert present.quality is Quality.VALID


def test_object_list(wrapper_fleet: DlmsFleet) -> None:
    with connect(wrapper_fleet) as connection:
        objects = connection.read_object_list()
    classes = {obis: class_id for class_id, obis, _ in objects}
    assert classes["0-0:1.0.0*255"] == 8
    assert classes["1-0:1.8.0*255"] == 3
    assert classes["1-0:1.6.0*255"] == 4
    assert classes["1-0:1.4.0*255"] == 5
    assert classes["1-0:99.1.0*255"] == 7
    assert classes["0-0:96.3.10*255"] == 70
    assert classes["0-0:17.0.0*255"] == 71
    assert classes["0-0:13.0.0*255"] == 20
    assert classes["0-0:40.0.0*255"] == 15


def test_daily_and_monthly_billing(wrapper_fleet: DlmsFleet) -> None:
    meter = SimulatedMeter(wrapper_fleet.endpoints[0].serial)
    state = wrapper_fleet.state(wrapper_fleet.endpoints[0].serial)
    now = datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    with connect(wrapper_fleet) as connection:
        daily_values = connection.read_billing(
            midnight - timedelta(days=2), now, BillingPeriod.DAILY
        )
        monthly_values = connection.read_billing(now - timedelta(days=70), now)
    assert daily_values.period is BillingPeriod.DAILY and daily_values.quality is Quality.VALID
    assert monthly_values.period is BillingPeriod.MONTHLY
    daily, monthly = daily_values.readings, monthly_values.readings
    expected = []
    for days in (2, 1, 0):
        at = midnight - timedelta(days=days)
        seconds = int(at.timestamp())
        expected.append(("1-0:1.8.0*255", meter.active_energy(seconds), "Wh", 0, at))
        expected.append(("1-0:2.8.0*255", state.export_energy(seconds) // 10, "Wh", 1, at))
    assert as_rows(daily) == expected
    stamps = sorted({reading.timestamp for reading in monthly})
    assert 2 <= len(stamps) <= 3
    assert all(stamp.day == 1 and stamp.hour == 0 for stamp in stamps)


def test_event_log(wrapper_fleet: DlmsFleet) -> None:
    meter = SimulatedMeter(wrapper_fleet.endpoints[0].serial)
    now = datetime.now(UTC)
    start = now - timedelta(days=59)
    with connect(wrapper_fleet) as connection:
        log = connection.read_events(start, now)
    expected = meter.events(int(start.timestamp()), int(now.timestamp()))
    assert log.quality is Quality.VALID
    assert [(e.timestamp, e.code, e.description) for e in log.events] == [
        (e.timestamp, e.code, e.description) for e in expected
    ]
    assert all(event.log == "0-0:99.98.0*255" for event in log.events)


def test_clock_read_and_set(start_fleet) -> None:
    fleet = start_fleet()
    meter = SimulatedMeter(fleet.endpoints[0].serial)
    with connect(fleet) as connection:
        clock = connection.read_clock()
        deviation = (clock.value - clock.timestamp).total_seconds()
        assert clock.obis == "0-0:1.0.0*255"
        assert abs(deviation - meter.clock_drift) <= 2
        target = datetime.now(UTC) + timedelta(hours=2)
        assert connection.set_clock(target) is Quality.VALID
        again = connection.read_clock()
    assert abs((again.value - again.timestamp).total_seconds() - 7200) <= 2


def test_disconnect_and_reconnect(start_fleet) -> None:
    fleet = start_fleet()
    serial = fleet.endpoints[0].serial
    with connect(fleet) as connection:
        assert connection.disconnect_supply() is Quality.VALID
        assert fleet.state(serial).supply_connected is False
        assert connection.read_registers(["0-0:96.3.10"])[0].value == 0
        assert connection.reconnect_supply() is Quality.VALID
        assert fleet.state(serial).supply_connected is True
        assert connection.read_registers(["0-0:96.3.10"])[0].value == 1


def test_load_limiter_thresholds(start_fleet) -> None:
    fleet = start_fleet()
    with connect(fleet) as connection:
        assert connection.read_load_limit() == LoadLimit(normal=10000, emergency=5000, active=10000)
        assert connection.set_load_limit(7000, 3000) is Quality.VALID
        assert connection.read_load_limit() == LoadLimit(normal=7000, emergency=3000, active=7000)


CALENDAR = {
    "name": "TOU-2026",
    "seasons": [
        {"name": "winter", "start": "01-01", "week": "wk1"},
        {"name": "summer", "start": "04-01", "week": "wk2"},
    ],
    "weeks": [
        {"name": "wk1", "days": [1, 1, 1, 1, 1, 2, 2]},
        {"name": "wk2", "days": [1, 1, 1, 1, 1, 1, 2]},
    ],
    "days": [
        {
            "id": 1,
            "actions": [
                {"start": "06:00", "script": "0-0:10.0.100*255", "selector": 1},
                {"start": "22:00", "script": "0-0:10.0.100*255", "selector": 2},
            ],
        },
        {"id": 2, "actions": [{"start": "00:00", "script": "0-0:10.0.100*255", "selector": 2}]},
    ],
}


def test_tou_upload_then_read_back(start_fleet) -> None:
    fleet = start_fleet()
    with connect(fleet) as connection:
        assert connection.upload_tariff(CALENDAR) is Quality.VALID
        assert connection.read_tariff() == CALENDAR
    with connect(fleet) as connection:  # the meter keeps it across associations
        assert connection.read_tariff(passive=True) == CALENDAR


def test_hdlc_over_tcp(start_fleet) -> None:
    fleet = start_fleet(framing="hdlc")
    start, end = past_day()
    meter = SimulatedMeter(fleet.endpoints[0].serial)
    with connect(fleet) as connection:
        profile = connection.read_load_profile(start, end)
        voltage = connection.read_registers(["1-0:32.7.0"])[0]
    assert as_rows(profile.readings) == expected_profile(meter, start, end)
    assert (voltage.unit, voltage.scaler, voltage.quality) == ("V", -1, Quality.VALID)
    hdlc = [entry.data for entry in connection.trace.entries if entry.direction == "rx"]
    assert hdlc and all(frame[:1] == b"\x7e" for frame in hdlc[:1])


def test_hdlc_over_a_serial_line(start_fleet) -> None:
    fleet = start_fleet(transport="serial")
    endpoint = fleet.endpoints[0]
    assert endpoint.medium == "serial" and endpoint.address.startswith("/dev/")
    start, end = past_day()
    meter = SimulatedMeter(endpoint.serial)
    with connect(fleet) as connection:
        profile = connection.read_load_profile(start, end)
        clock = connection.read_clock()
    assert as_rows(profile.readings) == expected_profile(meter, start, end)
    assert clock.quality is Quality.VALID


def test_every_frame_is_in_the_trace(wrapper_fleet: DlmsFleet) -> None:
    with connect(wrapper_fleet) as connection:
        connection.read_clock()
    directions = [entry.direction.value for entry in connection.trace.entries]
    assert "tx" in directions and "rx" in directions
    notes = [entry.text for entry in connection.trace.entries if entry.direction == "note"]
    assert any(text.startswith("AARQ") for text in notes)
    assert any("GET 0-0:1.0.0*255" in text for text in notes)
    assert "RLRQ" in notes


def test_bench_read_one(wrapper_fleet: DlmsFleet) -> None:
    assert bench_read_one(wrapper_fleet.endpoints[0]) == 96 * 2 + 1 + 4


def test_the_plugin_host_offers_driver_and_simulator(tmp_path) -> None:
    from meterhub.config import load_settings
    from meterhub.pluginhost import build_plugin_host

    class Everything:
        customer = "test"
        development = True

        def allows(self, feature: str) -> bool:
            return True

    host = build_plugin_host(Everything(), load_settings(data_dir=tmp_path / "var"))
    assert host.drivers()["dlms"] is DlmsDriver
    assert host.simulators()["dlms"].name == "dlms"
