"""Short name referencing (SN) over the wrapper and HDLC, every action, against gurux's server.

The simulator's SN meter (option ``referencing=sn``) is gurux's server with
``useLogicalNameReferencing=False``: objects have base names, the association is class 12 at
0xFA00. Values are checked exactly against the meter's model, as the LN tests do.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from dlms_expected import as_rows, expected_profile, past_day

from meterhub.errors import InvalidValue
from meterhub.extensions.driver import AuthenticationFailed, BillingPeriod, LoadLimit, Quality
from meterhub.extensions.driverkit import SimulatedMeter
from meterhub.plugins.drivers.dlms.classes import ObjectList
from meterhub.plugins.drivers.dlms.driver import DlmsConnection, DlmsDriver
from meterhub.plugins.drivers.dlms.settings import DlmsSettings
from meterhub.plugins.drivers.dlms.simulator import DlmsFleet, DlmsSimulator

pytestmark = pytest.mark.timeout(60)

FRAMINGS = ["wrapper", "hdlc"]


@pytest.fixture(scope="module", params=FRAMINGS)
def sn_fleet(request: pytest.FixtureRequest) -> Iterator[DlmsFleet]:
    """One SN meter per framing, no authentication, shared by the read-only tests."""
    fleet = DlmsSimulator().start(1, options={"referencing": "sn", "framing": request.param})
    yield fleet
    fleet.stop()


@pytest.fixture(scope="module")
def kept_lists(sn_fleet: DlmsFleet) -> dict[str, str]:
    """The meter's object list as a first session hands it back (read once per module)."""
    endpoint = sn_fleet.endpoints[0]
    with DlmsDriver().connect(endpoint.address, endpoint.settings) as connection:
        connection.read_object_list()
    return {"object_list": connection.state["object_list"]}


def connect(fleet: DlmsFleet, **extra: str) -> DlmsConnection:
    endpoint = fleet.endpoints[0]
    return DlmsDriver().connect(endpoint.address, {**endpoint.settings, **extra})


def notes(connection: DlmsConnection) -> list[str]:
    return [entry.text for entry in connection.trace.entries if entry.direction == "note"]


def test_the_endpoint_says_short_names(sn_fleet: DlmsFleet) -> None:
    assert sn_fleet.endpoints[0].settings["referencing"] == "sn"


def test_object_list_with_base_names(sn_fleet: DlmsFleet) -> None:
    with connect(sn_fleet) as connection:
        objects = connection.read_object_list()
    classes = {obis: class_id for class_id, obis, _ in objects}
    assert len(objects) >= 100
    assert classes["0-0:1.0.0*255"] == 8
    assert classes["1-0:1.8.0*255"] == 3
    assert classes["1-0:1.6.0*255"] == 4
    assert classes["1-0:1.4.0*255"] == 5
    assert classes["1-0:99.1.0*255"] == 7
    assert classes["0-0:96.3.10*255"] == 70
    assert classes["0-0:40.0.0*255"] == 12  # the SN association
    kept = ObjectList.parse(connection.state["object_list"])
    names = dict(kept.base_names)
    assert set(names) == set(classes)
    assert names["0-0:40.0.0*255"] == 0xFA00
    assert all(name % 8 == 0 for name in names.values())
    assert len(set(names.values())) == len(names)  # no two objects share a base name
    # The compact form carries them: "<class>/<version> <OBIS> 0x<base name>".
    assert f"8/0 0-0:1.0.0*255 0x{names['0-0:1.0.0*255']:04X}" in connection.state["object_list"]


def test_a_first_session_reads_the_list_once_and_hands_it_back(sn_fleet: DlmsFleet) -> None:
    with connect(sn_fleet) as connection:
        clock = connection.read_clock()
        energy = connection.read_registers(["1-0:1.8.0"])[0]
    assert clock.quality is Quality.VALID and energy.quality is Quality.VALID
    assert sum("reading the object list once" in text for text in notes(connection)) == 1
    assert "object_list" in connection.state
    sent = b"".join(entry.data for entry in connection.trace.entries if entry.direction == "tx")
    assert sent.count(b"\x05\x01\x02\xfa\x08") == 1  # ReadRequest of 0xFA00's attribute 2


def test_a_kept_object_list_means_no_list_read(
    sn_fleet: DlmsFleet, kept_lists: dict[str, str]
) -> None:
    with connect(sn_fleet, **kept_lists) as connection:
        assert connection.read_clock().quality is Quality.VALID
        assert connection.read_registers(["1-0:1.8.0"])[0].quality is Quality.VALID
    assert not any("object list" in text for text in notes(connection))
    assert "object_list" not in connection.state
    sent = b"".join(entry.data for entry in connection.trace.entries if entry.direction == "tx")
    assert b"\x05\x01\x02\xfa\x08" not in sent  # ReadRequest of 0xFA00's attribute 2


def test_base_names_from_the_setting(sn_fleet: DlmsFleet, kept_lists: dict[str, str]) -> None:
    clock_name = ObjectList.parse(kept_lists["object_list"]).base_names["0-0:1.0.0*255"]
    with connect(
        sn_fleet, short_names=f"0-0:1.0.0={clock_name:#x}", object_list_on_demand="false"
    ) as connection:
        clock = connection.read_clock()
        unknown = connection.read_registers(["1-0:1.8.0"])[0]
    assert clock.quality is Quality.VALID
    assert unknown.quality is Quality.NOT_AVAILABLE  # no base name, no list to read
    assert any("no base name known" in text for text in notes(connection))


def test_registers_with_scaler_and_unit(sn_fleet: DlmsFleet, kept_lists: dict[str, str]) -> None:
    endpoint = sn_fleet.endpoints[0]
    meter = SimulatedMeter(endpoint.serial)
    state = sn_fleet.state(endpoint.serial)
    codes = ["1-0:1.8.0", "1-0:2.8.0", "1-0:32.7.0", "1-0:31.7.0", "1-0:1.7.0", "0-0:96.1.0"]
    before = int(time.time())
    with connect(sn_fleet, **kept_lists) as connection:
        readings = connection.read_registers(codes)
        instantaneous = connection.read_instantaneous()
    after = int(time.time())
    seconds = range(before, after + 1)
    by_code = {reading.obis: reading for reading in readings}
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
    current = by_code["1-0:31.7.0*255"]
    assert (current.unit, current.scaler) == ("A", -2)
    assert current.value in {meter.current(at) for at in seconds}
    assert by_code["1-0:1.7.0*255"].value in {meter.power(at) for at in seconds}
    assert by_code["0-0:96.1.0*255"].value == endpoint.serial
    assert [reading.obis for reading in instantaneous] == [
        "1-0:1.7.0*255", "1-0:32.7.0*255", "1-0:31.7.0*255",
    ]  # fmt: skip
    assert instantaneous[1].value in {meter.voltage(at) for at in seconds}


def test_extended_and_demand_registers_carry_their_capture_time(
    sn_fleet: DlmsFleet, kept_lists: dict[str, str]
) -> None:
    meter = SimulatedMeter(sn_fleet.endpoints[0].serial)
    with connect(sn_fleet, **kept_lists) as connection:
        peak, demand, absolute = connection.read_registers(["1-0:1.6.0", "1-0:1.4.0", "1-0:15.8.0"])
    now = int(time.time())
    day = now - now % 86_400
    assert (peak.unit, peak.scaler, peak.quality) == ("W", 0, Quality.VALID)
    assert peak.value == max(meter.power(hour) for hour in range(day, now + 1, 3600))
    assert int(peak.timestamp.timestamp()) % 3600 == 0
    assert int(demand.timestamp.timestamp()) == now - now % 900
    assert demand.value == meter.power(now)
    # The list says 15.8.0 is an extended register: no guess, its capture time is read.
    assert absolute.quality is Quality.VALID and abs(absolute.timestamp.timestamp() - now) <= 2


def test_unsupported_objects_are_qualities(sn_fleet: DlmsFleet, kept_lists: dict[str, str]) -> None:
    with connect(sn_fleet, **kept_lists) as connection:
        missing, denied, present = connection.read_registers(
            ["1-0:96.51.0", "1-0:96.50.0", "1-0:1.8.0"]
        )
    assert (missing.quality, missing.value) == (Quality.NOT_AVAILABLE, None)
    assert (denied.quality, denied.value) == (Quality.ACCESS_DENIED, None)
    assert present.quality is Quality.VALID


def test_load_profile_by_range(sn_fleet: DlmsFleet, kept_lists: dict[str, str]) -> None:
    start, end = past_day()
    meter = SimulatedMeter(sn_fleet.endpoints[0].serial)
    with connect(sn_fleet, **kept_lists) as connection:
        profile = connection.read_load_profile(start, end)
        readings, quality = connection.read_profile("1-0:99.1.0", start, end)
    assert profile.quality is Quality.VALID and quality is Quality.VALID
    assert profile.interval == timedelta(minutes=15)
    assert as_rows(profile.readings) == expected_profile(meter, start, end)
    # read_profile takes [start, end]: the row captured at start too.
    assert as_rows(readings) == expected_profile(meter, start - timedelta(minutes=15), end)


def test_profile_by_entry(sn_fleet: DlmsFleet, kept_lists: dict[str, str]) -> None:
    meter = SimulatedMeter(sn_fleet.endpoints[0].serial)
    with connect(sn_fleet, **kept_lists) as connection:
        entries = connection.profile_entries("1-0:99.1.0")
        assert entries == 40 * 96
        readings, quality = connection.read_profile_entries("1-0:99.1.0", entries - 3, 4)
    assert quality is Quality.VALID
    assert len(readings) == 8
    last = readings[-1].timestamp
    assert as_rows(readings) == expected_profile(meter, last - timedelta(hours=1), last)
    assert time.time() - last.timestamp() < 900 + 5


def test_daily_and_monthly_billing(sn_fleet: DlmsFleet, kept_lists: dict[str, str]) -> None:
    meter = SimulatedMeter(sn_fleet.endpoints[0].serial)
    state = sn_fleet.state(sn_fleet.endpoints[0].serial)
    now = datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    with connect(sn_fleet, **kept_lists) as connection:
        daily = connection.read_billing(midnight - timedelta(days=2), now, BillingPeriod.DAILY)
        monthly = connection.read_billing(now - timedelta(days=70), now)
    assert daily.quality is Quality.VALID and monthly.quality is Quality.VALID
    expected = []
    for days in (2, 1, 0):
        at = midnight - timedelta(days=days)
        seconds = int(at.timestamp())
        expected.append(("1-0:1.8.0*255", meter.active_energy(seconds), "Wh", 0, at))
        expected.append(("1-0:2.8.0*255", state.export_energy(seconds) // 10, "Wh", 1, at))
    assert as_rows(daily.readings) == expected
    months = sorted({reading.timestamp for reading in monthly.readings})
    assert 2 <= len(months) <= 3
    for month in months:
        seconds = int(month.timestamp())
        assert month.day == 1 and month.hour == 0
        values = {r.obis: r.value for r in monthly.readings if r.timestamp == month}
        assert values == {
            "1-0:1.8.0*255": meter.active_energy(seconds),
            "1-0:2.8.0*255": state.export_energy(seconds) // 10,
        }


def test_event_log(sn_fleet: DlmsFleet, kept_lists: dict[str, str]) -> None:
    meter = SimulatedMeter(sn_fleet.endpoints[0].serial)
    now = datetime.now(UTC)
    start = now - timedelta(days=59)
    with connect(sn_fleet, **kept_lists) as connection:
        log = connection.read_events(start, now)
    expected = meter.events(int(start.timestamp()), int(now.timestamp()))
    assert log.quality is Quality.VALID and expected
    assert [(e.timestamp, e.code, e.description) for e in log.events] == [
        (e.timestamp, e.code, e.description) for e in expected
    ]


CALENDAR = {
    "name": "TOU-SN",
    "seasons": [{"name": "winter", "start": "01-01", "week": "wk1"}],
    "weeks": [{"name": "wk1", "days": [1, 1, 1, 1, 1, 2, 2]}],
    "days": [
        {"id": 1, "actions": [{"start": "06:00", "script": "0-0:10.0.100*255", "selector": 1}]},
        {"id": 2, "actions": [{"start": "00:00", "script": "0-0:10.0.100*255", "selector": 2}]},
    ],
}


@pytest.mark.parametrize("framing", FRAMINGS)
def test_writes_and_methods(start_fleet, framing: str) -> None:
    """set_clock (WriteRequest), disconnect control and calendar methods, limiter, tariff."""
    fleet = start_fleet(referencing="sn", framing=framing)
    serial = fleet.endpoints[0].serial
    state = fleet.state(serial)
    with connect(fleet) as connection:
        target = datetime.now(UTC) + timedelta(hours=2)
        assert connection.set_clock(target) is Quality.VALID
        clock = connection.read_clock()
        assert abs((clock.value - clock.timestamp).total_seconds() - 7200) <= 2
        assert connection.disconnect_supply() is Quality.VALID
        assert state.supply_connected is False
        assert connection.read_registers(["0-0:96.3.10"])[0].value == 0
        assert connection.reconnect_supply() is Quality.VALID
        assert state.supply_connected is True
        assert connection.read_load_limit() == LoadLimit(normal=10000, emergency=5000, active=10000)
        assert connection.set_load_limit(7000, 3000) is Quality.VALID
        assert connection.read_load_limit() == LoadLimit(normal=7000, emergency=3000, active=7000)
        assert connection.upload_tariff(CALENDAR) is Quality.VALID
        assert connection.read_tariff() == CALENDAR
    assert state.thresholds[4] == 7000


@pytest.mark.parametrize(("framing", "block"), [("wrapper", 192), ("hdlc", 64)])
def test_firmware_upgrade(start_fleet, framing: str, block: int) -> None:
    image = os.urandom(block * 3 + block // 2)
    fleet = start_fleet(referencing="sn", framing=framing, image_block_size=str(block))
    with connect(fleet) as connection:
        assert connection.upgrade_firmware(image, "MHSIM-SN-2.0") is Quality.VALID
        firmware = connection.read_registers(["1-0:0.2.0"])[0]
    received = fleet.state(fleet.endpoints[0].serial).image
    assert received.received == image and received.activated == b"MHSIM-SN-2.0"
    assert firmware.value == "MHSIM-SN-2.0"


def test_over_hdlc_every_pdu_fits_one_frame(start_fleet) -> None:
    """gurux's client cannot put together an SN data block spread over HDLC frames (defect
    36), so over HDLC the driver proposes a PDU that fits one information field."""
    fleet = start_fleet(referencing="sn", framing="hdlc")
    start, end = past_day()
    with connect(fleet) as connection:
        profile = connection.read_load_profile(start, end)
    assert len(profile.readings) == 2 * 96
    received = [entry.data for entry in connection.trace.entries if entry.direction == "rx"]
    frames = [frame for frame in received if frame[:1] == b"\x7e"]
    assert frames and all(not frame[1] & 0x08 for frame in frames)  # no segmented frame
    assert any("max PDU 125" in text for text in notes(connection))


@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize("mechanism", ["low", "manufacturer", "md5", "sha1", "gmac", "sha256"])
def test_authentication_with_short_names(start_fleet, mechanism: str, framing: str) -> None:
    fleet = start_fleet(referencing="sn", authentication=mechanism, framing=framing)
    meter = SimulatedMeter(fleet.endpoints[0].serial)
    before = int(time.time())
    with connect(fleet) as connection:
        energy = connection.read_registers(["1-0:1.8.0"])[0]
    assert energy.value in {meter.active_energy(at) for at in range(before, int(time.time()) + 1)}
    if mechanism != "low":
        sent = [entry for entry in connection.trace.entries if entry.direction == "tx"]
        # pass 3: a ReadRequest (05) on reply_to_HLS_authentication, base name 0xFA58
        assert any(b"\x05\x01\x04\xfa\x58\x00\x09" in entry.data for entry in sent)


@pytest.mark.parametrize("mechanism", ["low", "manufacturer", "md5", "sha1", "sha256"])
def test_a_wrong_secret_with_short_names(start_fleet, mechanism: str) -> None:
    fleet = start_fleet(referencing="sn", authentication=mechanism)
    secret = fleet.endpoints[0].settings["password"]
    with pytest.raises(AuthenticationFailed):
        connect(fleet, password=("0" if secret[0] != "0" else "1") + secret[1:])


def test_gmac_with_short_names_counts_and_reads_the_counter(start_fleet) -> None:
    fleet = start_fleet(referencing="sn", authentication="gmac", framing="hdlc")
    endpoint = fleet.endpoints[0]
    with connect(fleet) as connection:
        connection.read_clock()
    assert int(connection.state["invocation_counter"]) > 1
    # The public client finds the counter's base name in its own object list.
    counter = DlmsDriver().read_invocation_counter(endpoint.address, endpoint.settings)
    assert counter == fleet.state(endpoint.serial).invocation_counter + 1


def test_short_names_cannot_be_ciphered() -> None:
    keys = {"authentication_key": "11" * 16, "block_cipher_key": "22" * 16,
            "system_title": "33" * 8}  # fmt: skip
    with pytest.raises(InvalidValue) as caught:
        DlmsSettings.parse({"referencing": "sn", "authentication": "gmac",
                            "security": "authentication_encryption", **keys})  # fmt: skip
    assert caught.value.field == "settings.security" and "short name" in caught.value.reason
    # GMAC alone (pass 3 with the keys, APDUs in clear) is what SN gets by default.
    settings = DlmsSettings.parse({"referencing": "sn", "authentication": "gmac", **keys})
    assert settings.effective_security == "none"
    with pytest.raises(ValueError, match="ciphered"):
        DlmsSimulator().start(1, options={"referencing": "sn", "security": "encryption"})


@pytest.mark.parametrize(
    ("value", "complaint"),
    [("1-0:1.8.0", "must be <OBIS>=<base name>"), ("1-0:1.8.0=0x0A01", "multiple of 8"),
     ("1-0:1.8.0=big", "not a number"), ("x=0x10", "OBIS")],
)  # fmt: skip
def test_short_names_setting_is_checked(value: str, complaint: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        DlmsSettings.parse({"referencing": "sn", "short_names": value})
    assert caught.value.field == "settings.short_names" and complaint in str(caught.value)


def test_a_kept_list_with_bad_base_names_is_refused() -> None:
    with pytest.raises(InvalidValue, match="entry 1: base name"):
        DlmsSettings.parse({"object_list": "2026-11-28T12:00:00Z;8/0 0-0:1.0.0*255 0x0A03"})


@pytest.mark.parametrize(("meter", "client"), [("sn", "ln"), ("ln", "sn")])
def test_the_other_referencing_is_refused_with_a_hint(start_fleet, meter: str, client: str) -> None:
    fleet = start_fleet(referencing=meter)
    with pytest.raises(AuthenticationFailed, match=f"referencing={meter}"):
        connect(fleet, referencing=client)
