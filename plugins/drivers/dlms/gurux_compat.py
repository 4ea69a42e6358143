"""COMPATIBILITY MODULE: every workaround for the server side of gurux-dlms 1.0.203.

The simulator builds on gurux-dlms' server classes (:class:`GXDLMSSecureServer`), whose
released Python port has defects (``../shared/PITFALLS.md``). Every workaround lives here, and
nowhere else, under the number of its defect. ``tests/plugins/drivers/dlms/test_gurux_compat.py``
has one test per defect that shows the defect still exists in the pinned version: when gurux fixes
one, its test fails and tells us to drop the workaround.

==  =========================================================================================
#   Defect (gurux-dlms 1.0.203) → workaround
==  =========================================================================================
1   ``GXServerReply`` lacks ``setReply``, ``getConnectionInfo``, ``getCount``, ``setCount``,
    which ``GXDLMSServer.handleRequest`` calls → :class:`CompatServerReply` adds them.
2   The LN command handler calls ``notifyRead``, ``notifyConnected``, ``getTransaction`` and
    ``setTransaction`` on the server, which ``GXDLMSServer`` does not define →
    :class:`CompatServer` defines them.
3   ``onPostRead()`` is called with no arguments → :meth:`CompatServer.onPostRead` takes an
    optional argument.
4   ``ValueEventArgs.isSkipMaxPduSize`` is read (association object list) but never defined
    → :func:`install` adds it as a read-only property over ``skipMaxPduSize``.
5   ``initialize()`` raises ``TypeError: item is not of type GXDLMSObject`` unless the
    association's object list is filled first → :meth:`CompatServer.add_objects` fills the
    association's ``GXDLMSObjectCollection`` before ``initialize()``.
6   ``GXNet.send(data)`` in server mode writes to the *listening* socket; it needs the
    receive event object to reply on the right client socket → the simulator does not use
    ``GXNet`` as a server: it runs its own socket loop and feeds :meth:`CompatServer.reply`.
7   HDLC: ``handleSnrmRequest`` uses ``self.hdlc.maxInfoTX`` while ``self.hdlc`` is ``None``;
    the error is swallowed and a malformed UA goes out. With ``self.hdlc`` set, it calls
    ``settings.hdlc.update()``, which ``GXHdlcSettings`` lacks (it has ``_update``) →
    :class:`CompatServer` sets ``self.hdlc`` to :class:`HdlcLimits`, which has every name the
    SNRM/DISC code reads, and gives its ``settings.hdlc`` an ``update`` that restores the
    meter's defaults before the client's SNRM parameters are parsed.
8   When the server's own error path fails (``receivedData.size(0)`` calls an ``int``;
    ``reportError`` builds a PDU from ``None``), it sends nothing and a client without a
    timeout hangs (and a frame it cannot parse is answered with an *HDLC* frame even on the
    wrapper) → :meth:`CompatServer.reply` catches what escapes and answers with a
    confirmed-service-error, so a client always gets an answer.
9   ``GXDLMSSecureServer`` stores its ciphering in ``settings.ciphering``, but the server
    code reads ``settings.cipher`` (always ``None``): no ciphered association is possible →
    :class:`CompatServer` sets ``settings.cipher``.
10  The SET and ACTION handlers call ``list(e)`` on one ``ValueEventArgs``, which is not
    iterable, so every write and every method fails (hardware fault, or no answer) →
    :func:`install` makes ``ValueEventArgs`` iterate over itself.
11  The next-data-block handler reads ``settings.gbtWndowSize`` (sic), which does not exist, so
    a GET answer longer than one PDU cannot continue → :class:`CompatServer` sets it.
12  ``GXDLMSProfileGeneric`` selective access calls ``e.getRowEndIndex()``, which
    ``ValueEventArgs`` lacks, and by range compares the row's ``datetime`` with ``0``
    (``TypeError``) → the simulator's profile objects select and encode their rows
    themselves (``meterhub.plugins.drivers.dlms.simulator``).
13  The SET handler calls ``p.isMultipleBlocks()`` and ``p.setStatus()`` on
    ``GXDLMSLNParameters``, which has only the attributes ``multipleBlocks`` and ``status``:
    every SET fails → :func:`install` adds the two accessors.
14  gurux prints to stdout: ``GXDLMSChippering.decryptAesGcm`` "Encryption is applied." for
    every ciphered APDU, ``GXDLMSClient.parseApplicationAssociationResponse`` "Server did not
    accept CtoS." (client side too, so a worker's output fills up) → :func:`install` gives
    those two modules a silent ``print``.
15  ``_GXAPDU.generateAARE`` writes the responding AP title (the server's system title, needed
    by HLS GMAC) with a wrong length and then calls ``data.setUInt8()`` without a value
    (``TypeError``): no AARE for HIGH_GMAC can be built → :class:`CompatServer` gives gurux
    an :class:`AareBuffer` as its reply buffer, which turns that call into the missing inner
    length and corrects the outer one.
16  ``GXDLMS.getPdu`` calls ``GXReplyData.getCipherIndex()`` for a ciphered request (glo-get,
    glo-set, glo-action) on the server side; ``GXReplyData`` has only the attribute
    ``cipherIndex``: no ciphered request after the AARQ can be served → :func:`install` adds
    the accessor.
17  ``GXDLMS.handleGloDedRequest`` (server side only) builds its ``AesGcmParameter`` with the
    tag left out, so the client's system title lands in ``tag``, the block cipher key in
    ``systemTitle`` and the authentication key in ``blockCipherKey``: every ciphered request
    fails to decrypt → :func:`install` binds ``GXDLMS``'s name ``AesGcmParameter`` to
    :class:`ShiftTolerantAesGcmParameter`, which puts the arguments of exactly that call
    (a byte string as the tag) where they belong and is the original for every other call.
18  ``GXDLMSAssociationLogicalName.invoke`` (reply_to_HLS_authentication) calls
    ``int(e.parameters)`` on the client's byte string (``ValueError``): HLS pass 3 can never
    succeed → :class:`CompatAssociation` checks the client's answer with gurux's own
    ``GXSecure.secure`` and answers the server's.
19  After reply_to_HLS_authentication the ACTION handler calls
    ``association.getAssociationStatus()`` and ``settings.setConnected()``, neither of which
    exists, so the association never becomes usable → :class:`CompatAssociation` has the
    getter and :class:`CompatServer` gives its settings object the setter.
20  The next-data-block handler calls ``GXDLMSLongTransaction.setData()``, which does not
    exist, whenever a GET answer needs a third block: the meter then sends an empty frame →
    :func:`install` adds the setter.
21  ``GXDLMSImageTransfer.invoke`` (image_transfer_initiate) appends the activate info list to
    a new list *as one item*, so image_activate_info (attribute 7) can never be read again
    (``AttributeError: 'list' object has no attribute 'size'``: hardware fault) →
    :class:`CompatImageTransfer` keeps a flat list of ``GXDLMSImageActivateInfo``.
22  ``GXDLMSImageTransfer.invoke`` (image_block_transfer) calls Java's ``longValue()`` on the
    block number (an ``int``), then assigns into an immutable ``bytes`` and stores the block
    through ``imageData.put`` on ``None``: no block can ever be transferred →
    :class:`CompatImageTransfer` records blocks by number and keeps the blocks status bit
    string and image_first_not_transferred_block_number.
23  ``_GXAPDU.generateAARE`` writes the responding-authentication-value (the HLS challenge
    StoC) as ``AA <n> 80 <n> <StoC>``: the outer length lacks the inner tag and length, so the
    AARE is malformed BER (gurux's own client reads past it; a strict one refuses it) →
    :class:`AareBuffer` corrects the outer length.
24  ``GXDLMSLNCommandHandler.getRequestWithList`` (GET-request-with-list) answers an item it
    cannot give (object undefined, read-write denied) with ``01`` alone instead of ``01 <data-
    access-result>``, and writes the error code before the data of a refused but existing
    object: one refused item garbles the whole answer → :class:`CompatLNCommandHandler`
    encodes every item as a proper Get-Data-Result; :func:`install` binds the name
    ``GXDLMSLNCommandHandler`` in ``gurux_dlms.GXDLMSServer`` (the server's only caller) to it.
==  =========================================================================================

:func:`install` changes gurux classes of the process (defects 4, 10, 13, 14, 16, 17, 20, 24):
it only *adds* members the classes lack (defects 17 and 24 rebind one module name each to a
subclass that behaves like the original for every call but the broken one), never replaces
one, and is idempotent. The client side of gurux never uses the additions (except the silenced
``print``). The tests of
those defects therefore run in a fresh interpreter (:func:`probe_unpatched`).
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from gurux_dlms import GXByteBuffer
from gurux_dlms.AesGcmParameter import AesGcmParameter
from gurux_dlms.ConfirmedServiceError import ConfirmedServiceError
from gurux_dlms.enums import Authentication, Command, ErrorCode, InterfaceType, ObjectType
from gurux_dlms.enums.AccessMode import AccessMode
from gurux_dlms.GXDLMS import GXDLMS
from gurux_dlms.GXDLMSLNCommandHandler import GXDLMSLNCommandHandler
from gurux_dlms.GXDLMSLNParameters import GXDLMSLNParameters
from gurux_dlms.GXDLMSLongTransaction import GXDLMSLongTransaction
from gurux_dlms.GXHdlcSettings import GXHdlcSettings
from gurux_dlms.GXReplyData import GXReplyData
from gurux_dlms.GXSecure import GXSecure
from gurux_dlms.GXServerReply import GXServerReply
from gurux_dlms.internal._GXCommon import _GXCommon
from gurux_dlms.internal._GXDataInfo import _GXDataInfo
from gurux_dlms.objects import GXDLMSAssociationLogicalName, GXDLMSImageTransfer
from gurux_dlms.objects.enums import ImageTransferStatus
from gurux_dlms.objects.enums.AssociationStatus import AssociationStatus
from gurux_dlms.objects.GXDLMSImageActivateInfo import GXDLMSImageActivateInfo
from gurux_dlms.secure import GXDLMSSecureServer
from gurux_dlms.ServiceError import ServiceError
from gurux_dlms.ValueEventArgs import ValueEventArgs

__all__ = [
    "CompatServer",
    "CompatServerReply",
    "AareBuffer",
    "CompatAssociation",
    "CompatImageTransfer",
    "CompatLNCommandHandler",
    "HdlcLimits",
    "ShiftTolerantAesGcmParameter",
    "install",
    "probe_unpatched",
]

log = logging.getLogger(__name__)

#: The module (not the class of the same name) whose ``print`` defect 14 silences.
_chippering = importlib.import_module("gurux_dlms.GXDLMSChippering")
#: The module ``GXDLMSClient`` (not the class) whose ``print`` defect 14 silences.
_client = importlib.import_module("gurux_dlms.GXDLMSClient")
#: The module ``GXDLMS`` (not the class) whose ``AesGcmParameter`` defect 17 rebinds.
_gxdlms = importlib.import_module("gurux_dlms.GXDLMS")
#: The server module whose name ``GXDLMSLNCommandHandler`` defect 24 rebinds.
_server_module = importlib.import_module("gurux_dlms.GXDLMSServer")
_install_lock = threading.Lock()
_installed = False


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


# -- defects 4, 10, 13, 14 ---------------------------------------------------------------------


def _is_skip_max_pdu_size(self: ValueEventArgs) -> bool:
    return bool(self.skipMaxPduSize)


def _iterate_self(self: ValueEventArgs) -> Iterator[ValueEventArgs]:
    yield self


def _is_multiple_blocks(self: GXDLMSLNParameters) -> bool:
    return bool(self.multipleBlocks)


def _set_status(self: GXDLMSLNParameters, value: int) -> None:
    self.status = value


def _cipher_index(self: GXReplyData) -> int:
    return int(self.cipherIndex)


class ShiftTolerantAesGcmParameter(AesGcmParameter):
    """Defect 17: an ``AesGcmParameter`` that repairs the call that leaves out the tag."""

    def __init__(
        self,
        tag: Any = 0,
        systemTitle: Any = None,
        blockCipherKey: Any = None,
        authenticationKey: Any = None,
    ) -> None:
        if isinstance(tag, bytes | bytearray) and authenticationKey is None:
            tag, systemTitle, blockCipherKey, authenticationKey = (
                0,
                tag,
                systemTitle,
                blockCipherKey,
            )
        super().__init__(tag, systemTitle, blockCipherKey, authenticationKey)


class CompatLNCommandHandler(GXDLMSLNCommandHandler):
    """Defect 24: GET-request-with-list answered with a Get-Data-Result per item.

    Each item is ``00 <data>`` or ``01 <data-access-result>`` (object undefined, read-write
    denied, or hardware fault when the object fails to give its value). The answer must fit
    one PDU (a list of registers does); every other request is the original's.
    """

    @classmethod
    def getRequestWithList(
        cls, settings: Any, invokeID: int, server: Any, data: Any, replyData: Any, xml: Any
    ) -> None:
        """Read the attribute descriptors, answer each one."""
        if xml:
            super().getRequestWithList(settings, invokeID, server, data, replyData, xml)
            return
        count = _GXCommon.getObjectCount(data)
        items = []
        for _ in range(count):
            class_id = ObjectType(data.getUInt16())
            name = bytearray(6)
            data.get(name)
            attribute = data.getUInt8()
            selector, parameters = 0, None
            if data.getUInt8():
                selector = data.getUInt8()
                parameters = _GXCommon.getData(settings, data, _GXDataInfo())
            ln = _GXCommon.toLogicalName(name)
            target = settings.objects.findByLN(class_id, ln) or server.onFindObject(class_id, 0, ln)
            item = ValueEventArgs(server, target, attribute, selector, parameters)
            item.invokeId = invokeID
            if target is None:
                item.error = ErrorCode.UNDEFINED_OBJECT
            elif server.onGetAttributeAccess(item) == AccessMode.NO_ACCESS:
                item.error = ErrorCode.READ_WRITE_DENIED
            items.append(item)
        server.onPreRead(items)
        answer = GXByteBuffer()
        _GXCommon.setObjectCount(count, answer)
        for item in items:
            encoded = GXByteBuffer()
            if not item.error:
                try:
                    value = item.value if item.handled else item.target.getValue(settings, item)
                    if item.byteArray:
                        encoded.set(value)
                    else:
                        GXDLMS.appendData(settings, item.target, item.index, encoded, value)
                except Exception:
                    log.debug("get-with-list: %s failed", item.target, exc_info=True)
                    item.error = ErrorCode.HARDWARE_FAULT
            if item.error:
                answer.setUInt8(1)
                answer.setUInt8(int(item.error))
            else:
                answer.setUInt8(0)
                answer.set(encoded)
        server.onPostRead(items)
        parameters = GXDLMSLNParameters(
            settings, invokeID, Command.GET_RESPONSE, 3, None, answer, 0xFF
        )
        GXDLMS.getLNPdu(parameters, replyData)


def _set_transaction_data(self: GXDLMSLongTransaction, value: Any) -> None:
    self.data = value


def _silent_print(*args: Any, **kwargs: Any) -> None:
    """Defect 14: what ``GXDLMSChippering`` prints goes nowhere."""


def install() -> None:
    """Defects 4, 10, 13, 14, 16, 17, 20 and 24: add what gurux's server code calls but lacks.

    Idempotent; adds only members a class lacks (a fixed gurux keeps its own).
    """
    global _installed
    with _install_lock:
        if _installed:
            return
        if not hasattr(ValueEventArgs, "isSkipMaxPduSize"):
            ValueEventArgs.isSkipMaxPduSize = property(_is_skip_max_pdu_size)
        if not hasattr(ValueEventArgs, "__iter__"):
            ValueEventArgs.__iter__ = _iterate_self
        if not hasattr(GXDLMSLNParameters, "isMultipleBlocks"):
            GXDLMSLNParameters.isMultipleBlocks = _is_multiple_blocks
        if not hasattr(GXDLMSLNParameters, "setStatus"):
            GXDLMSLNParameters.setStatus = _set_status
        if not hasattr(GXReplyData, "getCipherIndex"):
            GXReplyData.getCipherIndex = _cipher_index
        if not hasattr(GXDLMSLongTransaction, "setData"):
            GXDLMSLongTransaction.setData = _set_transaction_data
        if _gxdlms.AesGcmParameter is AesGcmParameter:
            _gxdlms.AesGcmParameter = ShiftTolerantAesGcmParameter
        if _server_module.GXDLMSLNCommandHandler is GXDLMSLNCommandHandler:
            _server_module.GXDLMSLNCommandHandler = CompatLNCommandHandler
        for module in (_chippering, _client):
            if "print" not in vars(module):
                module.print = _silent_print
        _installed = True


_PROBE = """
import json
from gurux_dlms.enums import Command, ObjectType
from gurux_dlms.enums.AccessMode import AccessMode
from gurux_dlms.GXDLMS import GXDLMS
from gurux_dlms.GXDLMSLNCommandHandler import GXDLMSLNCommandHandler
from gurux_dlms.GXDLMSLNParameters import GXDLMSLNParameters
from gurux_dlms.internal._GXCommon import _GXCommon
from gurux_dlms.internal._GXDataInfo import _GXDataInfo
from gurux_dlms.GXDLMSSettings import GXDLMSSettings
import importlib
chippering = importlib.import_module("gurux_dlms.GXDLMSChippering")
client = importlib.import_module("gurux_dlms.GXDLMSClient")
from gurux_dlms.ValueEventArgs import ValueEventArgs
from gurux_dlms.GXReplyData import GXReplyData
from gurux_dlms.GXDLMSLongTransaction import GXDLMSLongTransaction

settings = GXDLMSSettings(True, None)
e = ValueEventArgs(settings, None, 2)
p = GXDLMSLNParameters(settings, 0, 0, 1, None, None, 0)
probes = {
    "isSkipMaxPduSize": lambda: e.isSkipMaxPduSize,
    "list": lambda: list(e),
    "isMultipleBlocks": lambda: p.isMultipleBlocks(),
    "setStatus": lambda: p.setStatus(0),
    "getCipherIndex": lambda: GXReplyData().getCipherIndex(),
    "setData": lambda: GXDLMSLongTransaction(None, 0, None).setData(None),
}
out = {}
for name, probe in probes.items():
    try:
        probe()
        out[name] = ""
    except Exception as error:
        out[name] = f"{type(error).__name__}: {error}"
out["print"] = "print(" if "print(" in open(chippering.__file__).read() else ""
out["client_print"] = "print(" if "print(" in open(client.__file__).read() else ""
print(json.dumps(out))
"""


def probe_unpatched() -> dict[str, str]:
    """Run in a fresh interpreter: what unpatched gurux does (defects 4, 10, 13, 14, 16, 17, 20).

    Returns, per probe, the error text (or the offending source text), or ``""`` where the
    operation worked: the defect is fixed and its workaround can go.
    """
    import subprocess

    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


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
        answer = bytearray(e.parameters or b"")
        if settings.authentication == Authentication.HIGH_GMAC:
            if len(answer) < 5:
                self.associationStatus = AssociationStatus.NON_ASSOCIATED
                return None
            counter = int.from_bytes(answer[1:5], "big")
            secret = settings.sourceSystemTitle
        else:
            counter = 0
            secret = self.secret
        expected = GXSecure.secure(
            settings, settings.cipher, counter, settings.stoCChallenge, secret
        )
        if bytes(expected) != bytes(answer):
            self.associationStatus = AssociationStatus.NON_ASSOCIATED
            return None
        if settings.authentication == Authentication.HIGH_GMAC:
            secret = settings.cipher.systemTitle
            counter = settings.cipher.invocationCounter
        self.associationStatus = AssociationStatus.ASSOCIATED
        return GXSecure.secure(settings, settings.cipher, counter, settings.ctoSChallenge, secret)


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
    ) -> None:
        install()
        self._association = CompatAssociation()
        super().__init__(self._association, interface_type)
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

    @property
    def association(self) -> GXDLMSAssociationLogicalName:
        """The current association object (0.0.40.0.0.255)."""
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
