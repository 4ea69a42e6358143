"""Interface classes without an object list per session: conventions, settings, kept lists.

The simulated meter lists about 110 objects; one of them (``1-0:15.8.0``, an extended register)
departs from the OBIS conventions on purpose.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from meterhub.errors import InvalidValue
from meterhub.extensions.driver import Quality
from meterhub.plugins.drivers.dlms.classes import (
    ClassDirectory,
    ClassSource,
    ObjectList,
    parse_object_classes,
    standard_class,
)
from meterhub.plugins.drivers.dlms.driver import DlmsConnection, DlmsDriver
from meterhub.plugins.drivers.dlms.simulator import DlmsFleet
from meterhub.plugins.drivers.dlms.simulator.catalog import UNCONVENTIONAL

pytestmark = pytest.mark.timeout(30)


def connect(fleet: DlmsFleet, **extra: str) -> DlmsConnection:
    endpoint = fleet.endpoints[0]
    return DlmsDriver().connect(endpoint.address, {**endpoint.settings, **extra})


def notes(connection: DlmsConnection) -> list[str]:
    return [entry.text for entry in connection.trace.entries if entry.direction == "note"]


@pytest.mark.parametrize(
    ("obis", "class_id"),
    [
        ("1-0:1.8.0*255", 3),  # cumulative energy (D = 8)
        ("1-0:1.8.1*255", 3),  # rate 1
        ("1-0:2.8.0*255", 3),
        ("1-0:5.8.0*255", 3),  # reactive, quadrant I
        ("1-0:1.29.0*255", 3),  # energy of the last capture period
        ("1-0:32.7.0*255", 3),  # instantaneous voltage L1
        ("1-0:13.7.0*255", 3),  # power factor
        ("1-0:14.7.0*255", 3),  # frequency
        ("1-0:91.7.0*255", 3),  # neutral current
        ("1-1:1.8.0*255", 3),  # channel B does not change the class
        ("1-0:1.8.0*101", 3),  # nor a billing period F
        ("1-0:1.6.0*255", 4),  # maximum demand, with its capture time
        ("1-0:9.6.0*255", 4),
        ("1-0:1.4.0*255", 5),  # current average: demand register
        ("1-0:1.5.0*255", 5),  # last average
        ("0-0:1.0.0*255", 8),  # clock
        ("0-0:96.1.0*255", 1),  # serial number
        ("0-0:96.10.1*255", 1),  # status word
        ("0-0:96.11.0*255", 1),  # event code
        ("0-0:42.0.0*255", 1),  # logical device name
        ("0-0:43.1.0*255", 1),  # invocation counter
        ("1-0:0.2.0*255", 1),  # firmware version
        ("0-0:96.3.10*255", 70),  # disconnect control
        ("0-0:17.0.0*255", 71),  # limiter
        ("0-0:13.0.0*255", 20),  # activity calendar
        ("0-0:44.0.0*255", 18),  # image transfer
        ("0-0:40.0.0*255", 15),  # current association
        ("0-0:22.0.0*255", 23),  # HDLC setup
        ("0-0:43.0.0*255", 64),  # security setup
        ("0-0:10.0.100*255", 9),  # tariffication script table
        ("1-0:99.1.0*255", 7),  # load profile
        ("1-0:98.1.0*255", 7),  # billing profile
        ("0-0:99.98.0*255", 7),  # standard event log
        ("7-0:99.1.0*255", 7),  # a gas load profile is a profile too
    ],
)
def test_classes_of_well_known_codes(obis: str, class_id: int) -> None:
    assert standard_class(obis) == class_id


@pytest.mark.parametrize(
    "obis",
    [
        "1-0:96.50.0*255",  # manufacturer-specific
        "0-0:96.50.0*255",
        "1-0:1.128.0*255",  # manufacturer-specific processing
        "1-0:1.2.0*255",  # cumulative maximum: no single convention
        "0-0:96.3.1*255",  # I/O control signals: data, register or extended register
        "7-0:3.0.0*255",  # gas volume: other media are not guessed
        "8-0:1.0.0*255",
    ],
)
def test_codes_without_a_convention_are_unknown(obis: str) -> None:
    assert standard_class(obis) is None


def test_the_simulated_meter_lists_a_realistic_object_list(wrapper_fleet: DlmsFleet) -> None:
    with connect(wrapper_fleet) as connection:
        objects = connection.read_object_list()
        listing = connection.state["object_list"]
    assert len(objects) >= 100
    classes = {obis: class_id for class_id, obis, _ in objects}
    # Every object the conventions know has the conventional class, but the deliberate one.
    disagree = {
        obis: class_id
        for obis, class_id in classes.items()
        if standard_class(obis) not in (None, class_id)
    }
    assert disagree == UNCONVENTIONAL
    assert {"1-0:1.8.4*255", "1-0:72.7.0*255", "1-0:8.8.0*255", "1-0:14.7.0*255"} <= set(classes)
    kept = ObjectList.parse(listing)
    assert kept.entries() == objects
    assert (datetime.now(UTC) - kept.read_at).total_seconds() < 60


def test_standard_codes_need_no_object_list(wrapper_fleet: DlmsFleet) -> None:
    codes = ["1-0:1.8.0", "1-0:1.8.1", "1-0:32.7.0", "1-0:1.6.0", "1-0:1.4.0", "0-0:96.1.0"]
    with connect(wrapper_fleet) as connection:
        readings = connection.read_registers(codes)
    assert all(reading.quality is Quality.VALID for reading in readings)
    assert not any("object list" in text for text in notes(connection))
    assert "object_list" not in connection.state
    # Six codes: 13 attributes with the scalers and capture times, by list: two requests.
    gets = [text for text in notes(connection) if text.startswith("GET")]
    assert len(gets) == 2 and all(text.startswith("GET with list") for text in gets)


def test_a_wrong_guess_is_corrected_from_the_object_list_once(wrapper_fleet: DlmsFleet) -> None:
    with connect(wrapper_fleet) as connection:
        absolute, active = connection.read_registers(["1-0:15.8.0", "1-0:1.8.0"])
        again = connection.read_registers(["1-0:15.8.0"])[0]
        listing = connection.state["object_list"]
    assert absolute.quality is Quality.VALID and active.quality is Quality.VALID
    assert (absolute.unit, absolute.scaler) == ("Wh", 0)
    assert absolute.value >= active.value
    assert again.quality is Quality.VALID
    assert sum("GET association object list" in text for text in notes(connection)) == 1
    # The next session of that meter takes the class from the kept list: no guess, no list.
    with connect(wrapper_fleet, object_list=listing) as connection:
        assert connection.read_registers(["1-0:15.8.0"])[0].quality is Quality.VALID
    assert not any("object list" in text for text in notes(connection))
    assert not any("refused" in text for text in notes(connection))
    assert "object_list" not in connection.state


def test_the_class_from_the_request_and_from_the_settings(wrapper_fleet: DlmsFleet) -> None:
    with connect(wrapper_fleet, object_list_on_demand="false") as connection:
        guessed = connection.read_registers(["1-0:15.8.0"])[0]
        told = connection.read_registers(["1-0:15.8.0"], classes={"1.0.15.8.0.255": 4})[0]
    assert guessed.quality is Quality.NOT_AVAILABLE  # class 3 guessed, list not allowed
    assert told.quality is Quality.VALID
    with connect(
        wrapper_fleet, object_classes="1-0:15.8.0=4", object_list_on_demand="false"
    ) as connection:
        assert connection.read_registers(["1-0:15.8.0"])[0].quality is Quality.VALID


def test_a_kept_list_answers_for_codes_it_lacks(wrapper_fleet: DlmsFleet) -> None:
    with connect(wrapper_fleet) as connection:
        listing = (
            connection.state.get("object_list")
            or ObjectList.from_entries(connection.read_object_list()).text()
        )
    with connect(wrapper_fleet, object_list=listing) as connection:
        missing, present = connection.read_registers(["1-0:96.51.0", "1-0:1.8.0"])
    assert missing.quality is Quality.NOT_AVAILABLE and present.quality is Quality.VALID
    assert any("not in the object list read at" in text for text in notes(connection))
    assert not any("GET association object list" in text for text in notes(connection))


def test_unknown_codes_read_the_list_once_and_hand_it_back(wrapper_fleet: DlmsFleet) -> None:
    before = time.time()
    with connect(wrapper_fleet) as connection:
        first = connection.read_registers(["1-0:96.50.0"])[0]
        second = connection.read_registers(["1-0:96.51.0"])[0]
    assert first.quality is Quality.ACCESS_DENIED  # listed as class 1, no association may read
    assert second.quality is Quality.NOT_AVAILABLE
    assert sum("GET association object list" in text for text in notes(connection)) == 1
    kept = ObjectList.parse(connection.state["object_list"])
    assert kept.read_at.timestamp() >= int(before)


def test_object_list_text_round_trip_and_errors() -> None:
    listing = ObjectList.from_entries(
        [(8, "0-0:1.0.0*255", 0), (3, "1-0:1.8.0*255", 0), (7, "1-0:99.1.0*255", 1)],
        datetime(2026, 11, 28, 12, 0, 0, 500_000, tzinfo=UTC),
    )
    text = listing.text()
    assert text == "2026-11-28T12:00:00Z;8/0 0-0:1.0.0*255;3/0 1-0:1.8.0*255;7/1 1-0:99.1.0*255"
    assert ObjectList.parse(text) == listing
    assert ObjectList.parse("2026-11-28T12:00:00Z;3 1.8.0").objects == {"1-0:1.8.0*255": (3, 0)}
    for bad, reason in [
        ("yesterday;3/0 1.8.0", "time it was read"),
        ("2026-11-28T12:00:00;3/0 1.8.0", "zone"),
        ("2026-11-28T12:00:00Z;three 1.8.0", "entry 1"),
        ("2026-11-28T12:00:00Z;3/0", "entry 1"),
        ("2026-11-28T12:00:00Z;3/0 1.x.0", "settings.object_list"),
    ]:
        with pytest.raises(InvalidValue, match=reason):
            ObjectList.parse(bad)
    directory = ClassDirectory({"1-0:2.8.0*255": 4}, listing)
    assert directory.resolve("1-0:1.8.0*255") == (3, ClassSource.OBJECT_LIST)
    assert directory.resolve("1-0:2.8.0*255") == (4, ClassSource.SETTING)
    assert directory.resolve("1-0:3.8.0*255") == (None, ClassSource.OBJECT_LIST)
    assert directory.resolve("1-0:3.8.0*255", 4) == (4, ClassSource.REQUEST)
    assert ClassDirectory({}).resolve("1-0:3.8.0*255") == (3, ClassSource.STANDARD)
    assert ClassDirectory({}).resolve("1-0:96.50.0*255") == (None, ClassSource.UNKNOWN)


def test_object_classes_setting() -> None:
    assert parse_object_classes("1.8.0=4, 0-0:96.1.0*255=1,") == {
        "1-0:1.8.0*255": 4,
        "0-0:96.1.0*255": 1,
    }
    for bad in ("1.8.0", "1.8.0=x", "1.8.0=0", "1.x=3"):
        with pytest.raises(InvalidValue, match="settings.object_classes"):
            parse_object_classes(bad)
    with pytest.raises(InvalidValue, match="settings.object_classes"):
        DlmsDriver().connect("127.0.0.1:1", {"object_classes": "1.8.0=three"})
    with pytest.raises(InvalidValue, match="settings.object_list"):
        DlmsDriver().connect("127.0.0.1:1", {"object_list": "3/0 1.8.0"})
