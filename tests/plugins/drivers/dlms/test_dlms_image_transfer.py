"""Firmware upgrade over DLMS image transfer (class 18) against the simulator over real sockets.

The simulated meter records what it receives (``MeterState.image``), so the tests compare the
image and its identifier byte for byte with what the driver sent.
"""

from __future__ import annotations

import os

import pytest
from gurux_dlms.objects import GXDLMSImageTransfer
from gurux_dlms.objects.enums import ImageTransferStatus

from meterhub.extensions.driver import Action, DeviceError, ErrorKind, Quality, UnsupportedAction
from meterhub.plugins.drivers.dlms.driver import DlmsConnection, DlmsDriver, ImageTransferFailed
from meterhub.plugins.drivers.dlms.simulator import DlmsFleet

pytestmark = pytest.mark.timeout(30)

BLOCK = 192
#: 3.5 blocks: the last block is a half one.
IMAGE = os.urandom(BLOCK * 3 + BLOCK // 2)


def connect(fleet: DlmsFleet, **extra: str) -> DlmsConnection:
    endpoint = fleet.endpoints[0]
    return DlmsDriver().connect(endpoint.address, {**endpoint.settings, **extra})


@pytest.mark.parametrize(
    "options",
    [{}, {"framing": "hdlc"}, {"authentication": "high"}],
    ids=["wrapper", "hdlc", "wrapper-hls"],
)
def test_multi_block_image_arrives_byte_exact_and_is_activated(
    start_fleet, options: dict[str, str]
) -> None:
    assert Action.UPGRADE_FIRMWARE in DlmsDriver.info().actions
    fleet = start_fleet(**options)
    with connect(fleet) as connection:
        assert connection.upgrade_firmware(IMAGE, "MHSIM-DLMS-2.0") is Quality.VALID
        firmware = connection.read_registers(["1-0:0.2.0"])[0]
        text = connection.trace.text()
    image = fleet.state(fleet.endpoints[0].serial).image
    assert image.received == IMAGE
    assert image.identifier == b"MHSIM-DLMS-2.0" and image.size == len(IMAGE)
    assert sorted(image.blocks) == [0, 1, 2, 3] and len(image.blocks[3]) == BLOCK // 2
    assert image.activated == b"MHSIM-DLMS-2.0" and image.active_image == IMAGE
    assert image.status == ImageTransferStatus.IMAGE_ACTIVATION_SUCCESSFUL
    assert firmware.value == "MHSIM-DLMS-2.0"
    assert "image of 672 bytes in 4 blocks of 192" in text
    assert "ACTION image_verify" in text and "ACTION image_activate" in text


def test_a_lost_block_is_sent_again_and_a_busy_meter_is_polled(start_fleet) -> None:
    fleet = start_fleet(image_lose_block="2", image_busy="0.3")
    with connect(fleet) as connection:
        assert connection.upgrade_firmware(IMAGE, "FW-3") is Quality.VALID
        text = connection.trace.text()
    image = fleet.state(fleet.endpoints[0].serial).image
    assert image.received == IMAGE and image.activated == b"FW-3"
    assert "the meter misses block 2: sending it again" in text
    assert text.count("ACTION image_block_transfer 2") == 2
    assert text.count("GET 0-0:44.0.0*255 class 18 attr 6") >= 2  # polled while busy


def test_refused_verification_is_a_classified_error(start_fleet) -> None:
    fleet = start_fleet(image_verify="fail")
    with connect(fleet) as connection:
        with pytest.raises(ImageTransferFailed) as caught:
            connection.upgrade_firmware(IMAGE, "FW-BAD")
        # The session is still usable after the refusal.
        assert connection.read_clock().quality is Quality.VALID
    assert isinstance(caught.value, DeviceError) and caught.value.kind is ErrorKind.DEVICE
    assert caught.value.step == "verify"
    assert caught.value.status == ImageTransferStatus.IMAGE_VERIFICATION_FAILED
    image = fleet.state(fleet.endpoints[0].serial).image
    assert image.received == IMAGE and image.activated is None


def test_verification_that_never_ends_times_out(start_fleet) -> None:
    fleet = start_fleet(image_busy="5")
    with connect(fleet, firmware_timeout="1") as connection:
        with pytest.raises(ImageTransferFailed, match="did not finish within 1 s") as caught:
            connection.upgrade_firmware(IMAGE, "FW-SLOW")
    assert caught.value.step == "verify"
    assert caught.value.status == ImageTransferStatus.IMAGE_VERIFICATION_INITIATED


def test_the_meter_verifies_size_and_completeness(start_fleet) -> None:
    """The simulated meter itself: a missing block or a wrong size fails verification."""
    fleet = start_fleet()
    image = fleet.state(fleet.endpoints[0].serial).image
    with connect(fleet) as connection:
        obj = GXDLMSImageTransfer()
        obj.imageBlockSize = BLOCK
        client = connection.client
        blocks = obj.imageBlockTransfer(client, IMAGE, None)

        def action(frames) -> Quality:  # type: ignore[no-untyped-def]
            return connection._method(frames, "test action")

        # Block 2 missing: verification fails, and the meter says which block it misses.
        assert action(obj.imageTransferInitiate(client, "FW-4", len(IMAGE))) is Quality.VALID
        for number in (0, 1, 3):
            assert action(blocks[number]) is Quality.VALID
        assert connection._get(obj, 4, raw=True) == (2, Quality.VALID)
        assert action(obj.imageVerify(client)) is not Quality.VALID
        assert image.status == ImageTransferStatus.IMAGE_VERIFICATION_FAILED
        assert action(obj.imageActivate(client)) is not Quality.VALID  # not verified
        # All blocks, but a declared size that does not match them.
        assert action(obj.imageTransferInitiate(client, "FW-4", len(IMAGE) + 1)) is Quality.VALID
        for frames in blocks:
            assert action(frames) is Quality.VALID
        assert action(obj.imageVerify(client)) is not Quality.VALID
        # A block number past the image is refused.
        assert action(obj.imageBlockTransfer(client, IMAGE * 2, None)[5]) is not Quality.VALID
    assert image.activated is None


def test_meter_without_image_transfer_is_unsupported(start_fleet) -> None:
    fleet = start_fleet(image_transfer="no")
    with connect(fleet) as connection:
        with pytest.raises(UnsupportedAction) as caught:
            connection.upgrade_firmware(IMAGE, "FW-5")
        assert connection.read_clock().quality is Quality.VALID
    assert caught.value.action is Action.UPGRADE_FIRMWARE


def test_disabled_transfer_and_public_client(start_fleet) -> None:
    fleet = start_fleet(image_transfer="disabled")
    with connect(fleet) as connection:
        with pytest.raises(ImageTransferFailed, match="disabled") as caught:
            connection.upgrade_firmware(IMAGE, "FW-6")
    assert caught.value.step == "initiate"
    fleet = start_fleet()
    with connect(fleet, client_address="16") as connection:
        assert connection.upgrade_firmware(IMAGE, "FW-6") is Quality.ACCESS_DENIED
    assert fleet.state(fleet.endpoints[0].serial).image.blocks == {}
