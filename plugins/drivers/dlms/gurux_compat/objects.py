"""Defects 21, 22: the image transfer object (class 18) whose methods work.

See the defect table in :mod:`meterhub.plugins.drivers.dlms.gurux_compat`.
"""

from __future__ import annotations

from typing import Any

from gurux_dlms.enums import ErrorCode
from gurux_dlms.objects import GXDLMSImageTransfer
from gurux_dlms.objects.enums import ImageTransferStatus
from gurux_dlms.objects.GXDLMSImageActivateInfo import GXDLMSImageActivateInfo

# -- defects 21, 22 ----------------------------------------------------------------------------


class CompatImageTransfer(GXDLMSImageTransfer):
    """Defects 21 and 22: an image transfer object (class 18) whose methods 1 and 2 work.

    image_transfer_initiate (method 1) resets the transfer for ``(identifier, size)``;
    image_block_transfer (method 2) records ``(number, data)`` in :attr:`blocks`, sets the
    block's bit in image_transferred_blocks_status (attribute 3) and keeps
    image_first_not_transferred_block_number (attribute 4) at the first block not received.
    A block number out of range is refused (data-block-number-invalid). Verify and activate
    (methods 3 and 4) are gurux's (they do nothing): a meter overrides them.
    """

    def __init__(self, ln: str = "0.0.44.0.0.255") -> None:
        super().__init__(ln)
        #: Received blocks by number.
        self.blocks: dict[int, bytes] = {}
        #: The identifier of the image being transferred.
        self.identifier = b""

    def block_count(self) -> int:
        """How many blocks the image being transferred has."""
        size, block = int(self.imageSize or 0), int(self.imageBlockSize or 1)
        return -(-size // block)

    def _mark(self) -> None:
        count = self.block_count()
        bits = "".join("1" if number in self.blocks else "0" for number in range(count))
        self.imageTransferredBlocksStatus = bits
        self.imageFirstNotTransferredBlockNumber = next(
            (number for number in range(count) if number not in self.blocks), count
        )

    def invoke(self, settings: Any, e: Any) -> Any:
        """Methods 1 and 2 as IEC 62056-6-2 describes them; 3 and 4 as gurux does."""
        if e.index == 1:
            parameters = e.parameters or []
            if len(parameters) != 2:
                e.error = ErrorCode.OTHER_REASON
                return None
            self.identifier = bytes(parameters[0] or b"")
            self.imageSize = int(parameters[1])
            self.blocks = {}
            info = next(
                (i for i in self.imageActivateInfo if bytes(i.identification) == self.identifier),
                None,
            )
            if info is None:
                info = GXDLMSImageActivateInfo(0, bytearray(self.identifier), bytearray())
                self.imageActivateInfo = [*self.imageActivateInfo, info]
            info.size = self.imageSize
            self.imageTransferStatus = ImageTransferStatus.IMAGE_TRANSFER_INITIATED
            self._mark()
            return None
        if e.index == 2:
            parameters = e.parameters or []
            number = int(parameters[0]) if len(parameters) == 2 else -1
            if not 0 <= number < self.block_count():
                e.error = ErrorCode.DATA_BLOCK_NUMBER_INVALID
                return None
            self.blocks[number] = bytes(parameters[1] or b"")
            self.imageTransferStatus = ImageTransferStatus.IMAGE_TRANSFER_INITIATED
            self._mark()
            return None
        return super().invoke(settings, e)
