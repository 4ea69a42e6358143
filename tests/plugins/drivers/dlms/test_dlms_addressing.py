"""HDLC server addresses of 1, 2 and 4 bytes, against a simulated meter that answers only its own.

A meter on a bus ignores frames for other stations: a wrong address is silence (MeterTimeout),
and so is the right number in another size of address field.
"""

from __future__ import annotations

import pytest
from gurux_dlms.GXDLMS import GXDLMS
from gurux_dlms.GXDLMSClient import GXDLMSClient

from meterhub.errors import InvalidValue
from meterhub.extensions.driver import MeterTimeout, Quality
from meterhub.plugins.drivers.dlms.addressing import address_bytes, resolve_size, server_address
from meterhub.plugins.drivers.dlms.driver import DlmsDriver

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize(
    ("logical", "physical", "size", "expected"),
    [
        (1, 17, 1, "03"),  # upper address only: logical device 1
        (1, 17, 2, "0223"),  # upper 1, lower 17 (0x11)
        (1, 17, 0, "0223"),  # automatic: both parts fit 7 bits
        (1, 1234, 4, "000212A5"),  # lower 1234 = last digits of a serial number
        (1, 1234, 0, "000212A5"),  # automatic: a part above 127 needs four bytes
        (0x3FFF, 0x3FFF, 4, "FEFEFEFF"),  # all stations
        (1, 0x7F, 2, "02FF"),  # all stations of the lower address, two-byte form
    ],
)
def test_address_bytes(logical: int, physical: int, size: int, expected: str) -> None:
    assert address_bytes(logical, physical, size).hex().upper() == expected
    value, used = server_address(logical, physical, size)
    assert used == resolve_size(logical, physical, size)
    # gurux builds the same field from the value and the size.
    assert bytes(GXDLMS.getAddressBytes(value, used)).hex().upper() == expected


def test_gurux_helper_agrees_where_it_can() -> None:
    # GXDLMSClient.getServerAddress packs 7 bits per part below 128, 14 bits otherwise.
    assert server_address(1, 17, 2)[0] == GXDLMSClient.getServerAddress(1, 17)
    assert server_address(1, 1234, 4)[0] == GXDLMSClient.getServerAddress(1, 1234, 4)


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"address_size": "3"}, "settings.address_size"),
        ({"address_size": "2", "physical_address": "200"}, "settings.physical_address"),
        ({"address_size": "1", "logical_address": "200"}, "settings.logical_address"),
        ({"address_size": "4", "physical_address": "0x4000"}, "settings.physical_address"),
    ],
)
def test_addresses_that_do_not_fit_are_refused(settings: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        DlmsDriver().connect("127.0.0.1:1", {"framing": "hdlc", **settings})
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("options", "wrong"),
    [
        ({"address_size": "1", "logical_address": "1"}, {"logical_address": "2"}),
        ({"address_size": "2", "physical_address": "17"}, {"physical_address": "18"}),
        ({"address_size": "2", "physical_address": "17"}, {"address_size": "1"}),
        ({"address_size": "4", "physical_address": "1234"}, {"physical_address": "1235"}),
        ({"address_size": "4", "physical_address": "100"}, {"address_size": "2"}),
    ],
)
def test_each_size_against_a_meter_that_answers_only_its_address(
    start_fleet, options: dict[str, str], wrong: dict[str, str]
) -> None:
    fleet = start_fleet(framing="hdlc", **options)
    endpoint = fleet.endpoints[0]
    assert {key: endpoint.settings[key] for key in options} == options
    with DlmsDriver().connect(endpoint.address, endpoint.settings) as connection:
        assert connection.read_clock().quality is Quality.VALID
    frames = [entry.data for entry in connection.trace.entries if entry.direction == "tx"]
    field = address_bytes(
        int(endpoint.settings["logical_address"]),
        int(endpoint.settings["physical_address"]),
        int(endpoint.settings["address_size"]),
    )
    assert all(frame[3 : 3 + len(field)] == field for frame in frames)
    with pytest.raises(MeterTimeout):
        DlmsDriver().connect(endpoint.address, {**endpoint.settings, **wrong, "timeout": "1"})


def test_the_documented_defaults_reach_a_default_meter(start_fleet) -> None:
    """docs/drivers/dlms.md: client 16 (public), logical 1, physical 17, two-byte address."""
    hdlc = start_fleet(framing="hdlc").endpoints[0]
    with DlmsDriver().connect(hdlc.address, {"framing": "hdlc"}) as connection:
        assert connection.read_clock().quality is Quality.VALID
    wrapper = start_fleet().endpoints[0]
    with DlmsDriver().connect(wrapper.address, {}) as connection:
        assert connection.read_clock().quality is Quality.VALID
    serial = start_fleet(transport="serial").endpoints[0]  # HDLC by default on a device
    with DlmsDriver().connect(serial.address, {}) as connection:
        assert connection.read_clock().quality is Quality.VALID


def test_the_simulator_refuses_addresses_that_do_not_fit(start_fleet) -> None:
    with pytest.raises(ValueError, match="physical_address"):
        start_fleet(framing="hdlc", address_size="2", physical_address="300")
