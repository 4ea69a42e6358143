"""Defects 4, 10, 13, 14, 16, 17, 20, 24, 25, 30–32, 34: what :func:`install` adds to gurux.

See the defect table in :mod:`meterhub.plugins.drivers.dlms.gurux_compat`.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
import threading
from collections.abc import Iterator
from typing import Any

from gurux_dlms import GXByteBuffer
from gurux_dlms.AesGcmParameter import AesGcmParameter
from gurux_dlms.enums import Command, ErrorCode, ObjectType
from gurux_dlms.enums.AccessMode import AccessMode
from gurux_dlms.GXDLMS import GXDLMS
from gurux_dlms.GXDLMSLNCommandHandler import GXDLMSLNCommandHandler
from gurux_dlms.GXDLMSLNParameters import GXDLMSLNParameters
from gurux_dlms.GXDLMSLongTransaction import GXDLMSLongTransaction
from gurux_dlms.GXDLMSSettings import GXDLMSSettings
from gurux_dlms.GXDLMSSNCommandHandler import GXDLMSSNCommandHandler
from gurux_dlms.GXReplyData import GXReplyData
from gurux_dlms.internal._GXCommon import _GXCommon
from gurux_dlms.internal._GXDataInfo import _GXDataInfo
from gurux_dlms.ValueEventArgs import ValueEventArgs

from meterhub.plugins.drivers.dlms.gurux_compat.short_names import CompatSNCommandHandler

log = logging.getLogger(__name__)

#: The modules (not the classes of the same names) whose ``print`` defect 14 silences: every
#: one a client session or the simulator runs through that prints.
PRINTING_MODULES = (
    "gurux_dlms.GXDLMSChippering",
    "gurux_dlms.GXDLMSClient",
    "gurux_dlms._GXAPDU",
    "gurux_dlms.GXDLMS",
    "gurux_dlms.GXDLMSSettings",
    "gurux_dlms.GXSecure",
    "gurux_dlms.GXDLMSChipperingStream",
    "gurux_dlms.GXDLMSLNCommandHandler",
    "gurux_dlms.GXDLMSSNCommandHandler",
    "gurux_dlms.objects.GXDLMSProfileGeneric",
    "gurux_dlms.objects.GXDLMSObjectCollection",
    "gurux_dlms.objects.GXDLMSSecuritySetup",
)
#: The module ``GXDLMS`` (not the class) whose ``AesGcmParameter`` defect 17 rebinds.
_gxdlms = importlib.import_module("gurux_dlms.GXDLMS")
#: The server module whose name ``GXDLMSLNCommandHandler`` defect 24 rebinds.
_server_module = importlib.import_module("gurux_dlms.GXDLMSServer")
_install_lock = threading.Lock()
_installed = False


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


def _set_total_count(self: GXReplyData, value: int) -> None:
    self.totalCount = value


def _more_data(self: GXReplyData) -> int:
    return int(self.moreData)


def _set_transaction_data(self: GXDLMSLongTransaction, value: Any) -> None:
    self.data = value


def _max_pdu_size(self: GXDLMSSettings) -> int:
    return int(self.maxPduSize)


def _silent_print(*args: Any, **kwargs: Any) -> None:
    """Defect 14: what gurux prints goes nowhere (stdout belongs to the program)."""


def install() -> None:
    """Defects 4, 10, 13, 14, 16, 17, 20, 24, 25, 30–32, 34: add what gurux calls but lacks.

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
        if not hasattr(GXDLMSSettings, "getMaxPduSize"):
            GXDLMSSettings.getMaxPduSize = _max_pdu_size
        if not hasattr(GXReplyData, "setTotalCount"):
            GXReplyData.setTotalCount = _set_total_count
        if not hasattr(GXReplyData, "getMoreData"):
            GXReplyData.getMoreData = _more_data
        if _gxdlms.AesGcmParameter is AesGcmParameter:
            _gxdlms.AesGcmParameter = ShiftTolerantAesGcmParameter
        if _server_module.GXDLMSLNCommandHandler is GXDLMSLNCommandHandler:
            _server_module.GXDLMSLNCommandHandler = CompatLNCommandHandler
        if _server_module.GXDLMSSNCommandHandler is GXDLMSSNCommandHandler:
            _server_module.GXDLMSSNCommandHandler = CompatSNCommandHandler
        for name in PRINTING_MODULES:
            module = importlib.import_module(name)
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
from gurux_dlms.GXDLMSSNCommandHandler import GXDLMSSNCommandHandler
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
    "getMaxPduSize": lambda: settings.getMaxPduSize(),
    "setTotalCount": lambda: GXReplyData().setTotalCount(0),
    "getMoreData": lambda: GXReplyData().getMoreData(),
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
apdu = importlib.import_module("gurux_dlms._GXAPDU")
out["apdu_print"] = "print(" if "print(" in open(apdu.__file__).read() else ""
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
