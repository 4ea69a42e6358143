"""Sessions that must leave nothing behind, and HLS invocation counters that resynchronise.

The one-client peer is the simulator with ``max_clients=1``: a second connection waits, unserved,
until the first one ends — as a meter that takes one client at a time. A line leaked by a failed
connect would block every later session.
"""

from __future__ import annotations

import socket

import pytest

from meterhub.errors import InvalidValue
from meterhub.extensions.driver import AuthenticationFailed, DeviceError, MeterTimeout, Quality
from meterhub.extensions.driverkit import open_medium
from meterhub.extensions.simulator import Faults
from meterhub.extensions.trace import FrameTrace
from meterhub.plugins.drivers.dlms.driver import DlmsConnection, DlmsDriver
from meterhub.plugins.drivers.dlms.simulator import DlmsFleet

pytestmark = pytest.mark.timeout(60)


def connect(fleet: DlmsFleet, **extra: str) -> DlmsConnection:
    endpoint = fleet.endpoints[0]
    return DlmsDriver().connect(endpoint.address, {**endpoint.settings, **extra})


def notes(connection: DlmsConnection) -> list[str]:
    return [entry.text for entry in connection.trace.entries if entry.direction == "note"]


def test_the_one_client_peer_blocks_while_a_line_is_open(start_fleet) -> None:
    """The control: without this, the tests below could not see a leaked line."""
    fleet = start_fleet(max_clients="1")
    host, port = fleet.endpoints[0].address.rsplit(":", 1)
    with socket.create_connection((host, int(port))):
        with pytest.raises(MeterTimeout):
            connect(fleet, timeout="1")
    with connect(fleet, timeout="2") as connection:
        assert connection.read_clock().quality is Quality.VALID


def test_a_bad_setting_is_refused_before_the_line_opens(start_fleet) -> None:
    fleet = start_fleet(max_clients="1", authentication="low")
    with pytest.raises(InvalidValue) as caught:
        connect(fleet, timeout="abc")
    assert caught.value.field == "settings.timeout"
    with pytest.raises(InvalidValue, match="settings"):
        connect(fleet, no_such_setting="1")
    with pytest.raises(InvalidValue, match="settings.physical_address"):
        connect(fleet, framing="hdlc", address_size="2", physical_address="500")
    with connect(fleet, timeout="2") as connection:
        assert connection.read_clock().quality is Quality.VALID


@pytest.mark.parametrize("framing", ["wrapper", "hdlc"])
def test_a_refused_association_closes_the_line(start_fleet, framing: str) -> None:
    fleet = start_fleet(max_clients="1", authentication="low", framing=framing)
    with pytest.raises(AuthenticationFailed):
        connect(fleet, password="wrong", timeout="2")
    with pytest.raises(AuthenticationFailed):  # and again: nothing was left open
        connect(fleet, password="wrong", timeout="2")
    with connect(fleet, timeout="2") as connection:
        assert connection.read_clock().quality is Quality.VALID


def test_a_meter_that_stops_answering_leaves_no_line_behind(start_fleet) -> None:
    fleet = start_fleet(max_clients="1", faults=Faults(silent_after=1))  # answers the AARQ only
    connection = connect(fleet, timeout="1")
    with pytest.raises(MeterTimeout):
        connection.read_clock()
    connection.close()
    with connect(fleet, timeout="1") as again:  # associated: the first line was closed
        with pytest.raises(MeterTimeout):
            again.read_clock()


# -- invocation counters ------------------------------------------------------------------------


@pytest.mark.parametrize("framing", ["wrapper", "hdlc"])
def test_a_stale_invocation_counter_is_resynchronised(start_fleet, framing: str) -> None:
    fleet = start_fleet(authentication="high", framing=framing)
    state = fleet.state(fleet.endpoints[0].serial)
    with connect(fleet) as connection:  # the meter has seen counters up to this session's
        connection.read_clock()
    seen = state.invocation_counter  # the counter of the last AARQ the meter accepted
    assert seen >= 1
    with connect(fleet, invocation_counter="1") as connection:  # a stale one
        clock = connection.read_clock()
    assert clock.quality is Quality.VALID
    following = int(connection.state["invocation_counter"])
    assert state.invocation_counter > seen  # the resynchronised AARQ was accepted
    assert following > state.invocation_counter
    assert any(text.startswith("invocation counter resynchronised") for text in notes(connection))
    assert any(text == "AARQ (public client)" for text in notes(connection))
    # The counter in ``state`` is the one the next session starts with: no resync needed.
    with connect(fleet, invocation_counter=str(following)) as connection:
        assert connection.read_clock().quality is Quality.VALID
    assert not any("resynchronised" in text for text in notes(connection))


def test_the_frame_counter_is_read_by_the_public_client(start_fleet) -> None:
    fleet = start_fleet(authentication="high", framing="hdlc")
    endpoint = fleet.endpoints[0]
    with connect(fleet) as connection:
        connection.read_clock()
    state = fleet.state(endpoint.serial)
    counter = DlmsDriver().read_invocation_counter(endpoint.address, endpoint.settings)
    assert counter == state.invocation_counter + 1  # the one the meter expects next
    with connect(fleet, invocation_counter=str(counter)) as connection:
        assert connection.read_clock().quality is Quality.VALID


def test_resynchronisation_can_be_switched_off(start_fleet) -> None:
    fleet = start_fleet(authentication="high")
    with connect(fleet) as connection:
        connection.read_clock()
    with pytest.raises(AuthenticationFailed):
        connect(fleet, invocation_counter="1", invocation_counter_resync="false")


@pytest.mark.parametrize("counter", ["1", None])
def test_wrong_keys_are_not_taken_for_a_stale_counter(start_fleet, counter: str | None) -> None:
    # HDLC: on a line the driver was given, the public client comes in after a DISC.
    fleet = start_fleet(authentication="high", framing="hdlc", faults=Faults(wrong_password=True))
    endpoint = fleet.endpoints[0]
    if counter is None:  # make the counter stale too
        fleet.state(endpoint.serial).invocation_counter = 50
    trace = FrameTrace()
    medium = open_medium("tcp", endpoint.address, {}, timeout=5, trace=trace)
    try:
        with pytest.raises(AuthenticationFailed):
            DlmsDriver().connect(endpoint.address, endpoint.settings, medium)
    finally:
        medium.close()
    texts = [entry.text for entry in trace.entries if entry.direction == "note"]
    resynchronised = [text for text in texts if text.startswith("invocation counter resync")]
    # A fresh counter is accepted and HLS fails on the keys; a stale one is resynchronised,
    # and HLS still fails on the keys: either way the error is the authentication's.
    assert bool(resynchronised) is (counter is None)
    assert any(text.startswith("HLS pass 4 failed") or "HLS" in text for text in texts)


def test_a_meter_without_a_frame_counter_object(start_fleet) -> None:
    fleet = start_fleet(authentication="high")
    endpoint = fleet.endpoints[0]
    with pytest.raises(DeviceError, match="no frame counter"):
        DlmsDriver().read_invocation_counter(
            endpoint.address, {**endpoint.settings, "invocation_counter_object": "0-0:43.1.7"}
        )
