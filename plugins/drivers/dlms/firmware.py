"""Firmware upgrade over the image transfer object (class 18), IEC 62056-6-2's sequence."""

from __future__ import annotations

import time
from typing import Any

from gurux_dlms.objects import GXDLMSImageTransfer
from gurux_dlms.objects.enums import ImageTransferStatus

from meterhub.errors import InvalidValue
from meterhub.extensions.driver import Action, DeviceError, Quality
from meterhub.plugins.drivers.dlms.cosem import logical_name
from meterhub.plugins.drivers.dlms.session import DlmsSession
from meterhub.plugins.drivers.dlms.session import number as _number

__all__ = ["FirmwareUpgrade", "ImageTransferFailed"]

#: How often a block the meter reports missing is sent again before the transfer fails.
_BLOCK_RETRIES = 3


class ImageTransferFailed(DeviceError):
    """A firmware image transfer the meter started failed (class 18, ``upgrade_firmware``).

    ``step`` is where: ``initiate``, ``transfer``, ``verify`` or ``activate``; ``status`` the
    last image_transfer_status the meter reported (IEC 62056-6-2: 1 initiated, 2 verification
    initiated, 3 verified, 4 verification failed, 5 activation initiated, 6 activated,
    7 activation failed), or ``None`` when it was not read.
    """

    def __init__(
        self, message: str, step: str, status: int | None = None, *, frame: bytes | None = None
    ) -> None:
        super().__init__(message, frame=frame)
        self.step = step
        self.status = status


class FirmwareUpgrade(DlmsSession):
    """``upgrade_firmware``: transfer, verify and activate an image."""

    def upgrade_firmware(self, image: bytes, version: str) -> Quality:
        """Transfer ``image`` to the image transfer object (class 18) and activate it.

        The standard sequence (IEC 62056-6-2, image transfer): read image_block_size and
        image_transfer_enabled; image_transfer_initiate with ``version`` as the image
        identifier and the image size; image_block_transfer for every block; read
        image_first_not_transferred_block_number and send again what the meter is missing;
        image_verify; image_activate; while the meter answers temporary-failure (verifying or
        activating), poll image_transfer_status up to ``firmware_timeout`` seconds.

        :returns: :attr:`Quality.VALID` when the meter activated the image; the quality of the
            refusal when the meter refused before anything started (``access_denied`` for an
            association without the rights, ``device_busy``).
        :raises UnsupportedAction: the meter has no image transfer object.
        :raises ImageTransferFailed: transfer disabled, or a step failed once the transfer
            started (refused initiate or block, blocks still missing, verification or
            activation failed or did not finish in time); ``step`` says which.
        :raises LinkLost: the line broke (a meter may restart when it activates an image).
        """
        if not isinstance(image, bytes | bytearray) or not image:
            raise InvalidValue("image", "must be non-empty bytes")
        if not isinstance(version, str) or not version.strip():
            raise InvalidValue("version", "must be a non-empty text (the image identifier)")
        code = self.settings.image_transfer
        obj = GXDLMSImageTransfer(logical_name(code))
        block_size, quality = self._get(obj, 2, raw=True)
        if quality in (Quality.NOT_AVAILABLE, Quality.UNSUPPORTED):
            self.trace.note(f"no image transfer object {code}")
            raise self.unsupported(Action.UPGRADE_FIRMWARE)
        if quality is not Quality.VALID:
            return quality
        enabled, quality = self._get(obj, 5, raw=True)
        if quality is not Quality.VALID:
            return quality
        if not enabled:
            raise ImageTransferFailed(
                "image transfer is disabled on the meter (image_transfer_enabled is false)",
                "initiate",
            )
        size = _number(block_size)
        if not isinstance(size, int) or size < 1:
            raise ImageTransferFailed(f"the meter's image block size {block_size!r}", "initiate")
        obj.imageBlockSize = size
        try:
            initiate = obj.imageTransferInitiate(self.client, version.strip(), len(image))
        except ValueError as exc:  # block size over the PDU size
            raise ImageTransferFailed(f"cannot initiate: {exc}", "initiate") from exc
        quality = self._method(initiate, f"ACTION image_transfer_initiate {version.strip()!r}")
        if quality is Quality.ACCESS_DENIED or quality is Quality.DEVICE_BUSY:
            return quality
        if quality is not Quality.VALID:
            raise ImageTransferFailed(f"the meter refused the transfer ({quality})", "initiate")
        blocks = obj.imageBlockTransfer(self.client, bytes(image), None)
        self.trace.note(f"image of {len(image)} bytes in {len(blocks)} blocks of {size}")
        for number, frames in enumerate(blocks):
            self._send_block(frames, number)
        self._complete(obj, blocks)
        self._finish_step(obj.imageVerify(self.client), obj, "verify")
        self._finish_step(obj.imageActivate(self.client), obj, "activate")
        self.trace.note(f"image {version.strip()!r} activated")
        return Quality.VALID

    def _send_block(self, frames: Any, number: int) -> None:
        quality = self._method(frames, f"ACTION image_block_transfer {number}")
        if quality is not Quality.VALID:
            raise ImageTransferFailed(f"the meter refused block {number} ({quality})", "transfer")

    def _complete(self, obj: GXDLMSImageTransfer, blocks: list[Any]) -> None:
        """Send again the blocks the meter reports missing (attribute 4), a few times each."""
        sent: dict[int, int] = {}
        while True:
            first, quality = self._get(obj, 4, raw=True)
            missing = _number(first)
            if quality is not Quality.VALID or not isinstance(missing, int):
                self.trace.note("image_first_not_transferred_block_number not readable")
                return
            if missing >= len(blocks):
                return
            sent[missing] = sent.get(missing, 0) + 1
            if sent[missing] > _BLOCK_RETRIES:
                raise ImageTransferFailed(
                    f"the meter still misses block {missing} after {_BLOCK_RETRIES} resends",
                    "transfer",
                )
            self.trace.note(f"the meter misses block {missing}: sending it again")
            self._send_block(blocks[missing], missing)

    def _status(self, obj: GXDLMSImageTransfer) -> int | None:
        value, quality = self._get(obj, 6, raw=True)
        number = _number(value)
        return number if quality is Quality.VALID and isinstance(number, int) else None

    def _finish_step(self, frames: Any, obj: GXDLMSImageTransfer, step: str) -> None:
        """Verify or activate: done when the method succeeds; polled while it is busy."""
        if step == "verify":
            done = ImageTransferStatus.IMAGE_VERIFICATION_SUCCESSFUL
            failed = ImageTransferStatus.IMAGE_VERIFICATION_FAILED
        else:
            done = ImageTransferStatus.IMAGE_ACTIVATION_SUCCESSFUL
            failed = ImageTransferStatus.IMAGE_ACTIVATION_FAILED
        quality = self._method(frames, f"ACTION image_{step}")
        if quality is Quality.VALID:
            return
        if quality is not Quality.DEVICE_BUSY:
            status = self._status(obj)
            raise ImageTransferFailed(
                f"image {step} failed ({quality}, image_transfer_status {status})", step, status
            )
        deadline = time.monotonic() + self.settings.firmware_timeout
        pause = 0.1
        status = None
        while time.monotonic() < deadline:
            time.sleep(min(pause, max(deadline - time.monotonic(), 0)))
            pause = min(pause * 2, 2.0)
            status = self._status(obj)
            if status == done:
                return
            if status == failed:
                raise ImageTransferFailed(
                    f"image {step} failed (image_transfer_status {status})", step, status
                )
        raise ImageTransferFailed(
            f"image {step} did not finish within {self.settings.firmware_timeout:g} s "
            f"(image_transfer_status {status})",
            step,
            status,
        )
