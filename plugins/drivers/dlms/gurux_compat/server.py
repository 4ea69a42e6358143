"""Defects 1, 2, 3, 5, 7, 8, 9, 11, 15, 18, 19, 23, 26, 27: the server classes the simulator
builds on.

See the defect table in :mod:`meterhub.plugins.drivers.dlms.gurux_compat`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from gurux_dlms import GXByteBuffer
from gurux_dlms.ConfirmedServiceError import ConfirmedServiceError
from gurux_dlms.enums import Authentication, InterfaceType
from gurux_dlms.GXHdlcSettings import GXHdlcSettings
from gurux_dlms.GXServerReply import GXServerReply
from gurux_dlms.objects import GXDLMSAssociationLogicalName
from gurux_dlms.objects.enums.AssociationStatus import AssociationStatus
from gurux_dlms.secure import GXDLMSSecureServer
from gurux_dlms.ServiceError import ServiceError

from meterhub.plugins.drivers.dlms.gurux_compat._patches import install
from meterhub.plugins.drivers.dlms.gurux_compat.aare import (
    add_responding_ap_title,
    cipher_initiate_response_in_suite,
)
from meterhub.plugins.drivers.dlms.gurux_compat.hls import hls_reply
from meterhub.plugins.drivers.dlms.gurux_compat.short_names import (
    CompatSNAssociation,
    assign_short_names,
)

log = logging.getLogger(__name__)

# -- defect 1 ----------------------------------------------------------------------------------


class CompatServerReply(GXServerReply):
    """Defect 1: the reply object with the accessors ``GXDLMSServer.handleRequest`` calls."""

    def setReply(self, value: Any) -> None:
        """Store the reply frame."""
        self.reply = value

    def getConnectionInfo(self) -> Any:
        """The connection info handed to ``onConnected``/``onDisconnected``."""
        return self.connectionInfo

    def getCount(self) -> int:
        """Frames left to send in general block transfer streaming."""
        return self.count

    def setCount(self, value: int) -> None:
        """Set the frames left to send in general block transfer streaming."""
        self.count = value


# -- defect 7 ----------------------------------------------------------------------------------


class HdlcLimits:
    """Defect 7: what ``handleSnrmRequest`` and ``generateDisconnectRequest`` read from ``hdlc``.

    gurux mixes two objects there: the negotiated settings (``maxInfoTX`` ...) and the meter's
    HDLC setup (``maximumInfoLengthReceive`` ...). This object answers both sets of names: the
    meter's limits are fixed, the negotiated values are read live from ``settings.hdlc``.
    """

    inactivityTimeout = 0

    def __init__(self, settings: Any, max_info: int = GXHdlcSettings.DEFAULT_MAX_INFO_RX) -> None:
        self._hdlc = settings.hdlc
        self.maximumInfoLengthReceive = max_info
        self.maximumInfoLengthTransmit = max_info
        self.windowSizeReceive = 1
        self.windowSizeTransmit = 1

    def restore_defaults(self, _other: Any = None) -> None:
        """Reset the negotiated values to the meter's before an SNRM is parsed (defect 7)."""
        self._hdlc.maxInfoTX = self.maximumInfoLengthTransmit
        self._hdlc.maxInfoRX = self.maximumInfoLengthReceive
        self._hdlc.windowSizeTX = self.windowSizeTransmit
        self._hdlc.windowSizeRX = self.windowSizeReceive

    @property
    def maxInfoTX(self) -> int:
        return int(self._hdlc.maxInfoTX)

    @property
    def maxInfoRX(self) -> int:
        return int(self._hdlc.maxInfoRX)

    @property
    def windowSizeTX(self) -> int:
        return int(self._hdlc.windowSizeTX)

    @property
    def windowSizeRX(self) -> int:
        return int(self._hdlc.windowSizeRX)


# -- defects 2, 3, 5, 7, 8, 9, 11, 15, 23 ------------------------------------------------------


class AareBuffer(GXByteBuffer):
    """Defects 15 and 23: the server's reply buffer, repairing what ``generateAARE`` writes.

    Defect 15: gurux writes ``A4 <len(title)> 04`` and then ``setUInt8()`` with no value where
    the inner length belongs. Here that call writes the inner length and makes the outer one
    ``len(title) + 2``, giving the BER ``A4 0A 04 08 <title>``.

    Defect 23: the responding-authentication-value goes out as ``AA <n> 80 <n> <StoC>``, the
    outer length without the two bytes of the inner tag and length. When an AARE (0x61, after
    the HDLC LLC header if any) ends in that pattern, the outer length becomes ``n + 2``.
    """

    def setUInt8(self, item: Any = None, index: int | None = None) -> None:
        """Append (or put at ``index``) one byte; without a value, repair the AP title."""
        if item is None and index is None:
            inner = self.getUInt8(self.size - 2)
            super().setUInt8(inner + 2, self.size - 2)
            super().setUInt8(inner)
            return
        super().setUInt8(item, index)
        if index is None and self.size >= 5 and self._building_aare():
            end = self.size
            tail = [self.getUInt8(at) for at in range(end - 4, end)]
            if tail[0] == _AUTHENTICATION_VALUE_TAG and tail[2] == 0x80 and tail[1] == tail[3]:
                super().setUInt8(tail[1] + 2, end - 3)

    def _building_aare(self) -> bool:
        """Whether the buffer holds an AARE being built (after the HDLC LLC header or not)."""
        first = self.getUInt8(0)
        if first == _AARE_TAG:
            return True
        return first == 0xE6 and self.size > 3 and self.getUInt8(3) == _AARE_TAG


_AARE_TAG = 0x61
_AUTHENTICATION_VALUE_TAG = 0xAA


# -- defects 18, 19 ----------------------------------------------------------------------------


class CompatAssociation(GXDLMSAssociationLogicalName):
    """Defects 18 and 19: the current association, with a working HLS pass 3/4."""

    def getAssociationStatus(self) -> Any:
        """Defect 19: the getter the ACTION handler calls."""
        return self.associationStatus

    def invoke(self, settings: Any, e: Any) -> Any:
        """Method 1 checks the client's f(StoC) and returns f(CtoS); others as gurux does."""
        if e.index != 1:
            return super().invoke(settings, e)
        answer = hls_reply(settings, self.secret, e.parameters)
        self.associationStatus = (
            AssociationStatus.NON_ASSOCIATED if answer is None else AssociationStatus.ASSOCIATED
        )
        return answer


class _ServiceErrorReport:
    """The fields ``GXDLMSServer.reportConfirmedServiceError`` reads."""

    confirmedServiceError = ConfirmedServiceError.INITIATE_ERROR
    serviceError = ServiceError.SERVICE
    serviceErrorValue = 2  # Service.UNSUPPORTED


class CompatServer(GXDLMSSecureServer):
    """A ``GXDLMSSecureServer`` with the workarounds for defects 2, 3, 5, 7, 8, 9 and 11.

    Subclasses implement the meter (``onValidateAuthentication``, access rights, ...) and call
    :meth:`add_objects` once, then :meth:`reply` for every chunk of bytes received.
    """

    def __init__(
        self,
        interface_type: InterfaceType,
        system_title: bytes = b"MHSIM001",
        max_info: int = GXHdlcSettings.DEFAULT_MAX_INFO_RX,
        *,
        short_names: bool = False,
    ) -> None:
        install()
        #: Short name referencing: the association is class 12 and objects have base names.
        self.short_names = short_names
        self._association: Any = CompatSNAssociation() if short_names else CompatAssociation()
        super().__init__(not short_names, interface_type)
        # Defect 9: the secure server must keep its ciphering where the server reads it.
        from gurux_dlms.GXCiphering import GXCiphering

        self.settings.cipher = GXCiphering(bytearray(system_title))
        # Defect 19: the ACTION handler sets the connection state through a setter.
        self.settings.setConnected = self._set_connected
        # Defect 15: generateAARE writes the AP title through this buffer.
        self.replyData = AareBuffer()
        # Defect 11: the next-data-block handler reads a misspelt attribute.
        self.settings.gbtWndowSize = self.settings.gbtWindowSize
        # Defect 7: SNRM/DISC handling reads limits from ``self.hdlc``.
        if interface_type == InterfaceType.HDLC:
            limits = HdlcLimits(self.settings, max_info)
            self.hdlc = limits
            self.settings.hdlc.update = limits.restore_defaults

    def _set_connected(self, value: Any) -> None:
        self.settings.connected = value

    def handleAarqRequest(self, data: Any, connectionInfo: Any) -> None:  # noqa: N802, N803
        """Defects 26 and 28: repair the AARE gurux built (see :mod:`.aare`)."""
        super().handleAarqRequest(data, connectionInfo)
        if self.settings.authentication == Authentication.HIGH_SHA256:
            add_responding_ap_title(self.replyData, bytes(self.settings.cipher.systemTitle))
        cipher = self.settings.cipher
        if cipher is not None and cipher.isCiphered() and cipher.securitySuite:
            cipher_initiate_response_in_suite(self.replyData, self.settings)

    @property
    def association(self) -> Any:
        """The current association object (0.0.40.0.0.255; class 15, or 12 with short names)."""
        return self._association

    # -

    def add_objects(self, objects: Iterable[Any]) -> None:
        """Register the meter's objects and initialise the server (defect 5).

        The association's object list is a ``GXDLMSObjectCollection`` filled here, before
        ``initialize()``, which otherwise tries to append the whole collection as one item.
        """
        for item in objects:
            self.items.append(item)
        if self._association not in self.items:
            self.items.append(self._association)
        for item in self.items:
            self._association.objectList.append(item)
        if self.short_names:
            assign_short_names(self.items)
        self.initialize()

    # -

    def notifyRead(self, *args: Any) -> None:
        """Called by the GET handler without the event (defect 2); values are live objects."""

    def notifyConnected(self, connection_info: Any = None) -> None:
        """Called after a successful HLS pass 3/4 (defect 2)."""
        self.onConnected(connection_info)

    def getTransaction(self) -> Any:
        """The long GET transaction in progress (defect 2)."""
        return self.transaction

    def setTransaction(self, value: Any) -> None:
        """Start or end a long GET transaction (defect 2)."""
        self.transaction = value

    # -

    def onPostRead(self, args: Any = None) -> None:
        """Called with no arguments by the GET handler (defect 3)."""

    # -

    def reply(self, data: bytes, connection_info: Any = None) -> bytes | None:
        """Handle received bytes; return the reply frame, or ``None`` when more is needed.

        Defect 8: whatever escapes gurux's own error handling becomes a confirmed service
        error, so the client gets an answer instead of silence.
        """
        answer = CompatServerReply(bytearray(data))
        answer.connectionInfo = connection_info
        try:
            self.handleRequest(answer)
        except Exception:
            log.debug("gurux failed to answer a request; sending a service error", exc_info=True)
            self.transaction = None
            self.receivedData.clear()
            self.info.clear()
            self.replyData.clear()
            try:
                return bytes(self.reportConfirmedServiceError(_ServiceErrorReport()))
            except Exception:
                return None
        if not answer.reply:
            return None
        return bytes(answer.reply)
