"""Defects 29–33: short name referencing on gurux's server (base names, the SN association,
ReadRequest and WriteRequest).

See the defect table in :mod:`meterhub.plugins.drivers.dlms.gurux_compat`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from gurux_dlms import GXByteBuffer
from gurux_dlms.ConfirmedServiceError import ConfirmedServiceError
from gurux_dlms.ConnectionState import ConnectionState
from gurux_dlms.enums import AccessMode, Command, DataType, ErrorCode, MethodAccessMode, Service
from gurux_dlms.GXDLMS import GXDLMS
from gurux_dlms.GXDLMSLongTransaction import GXDLMSLongTransaction
from gurux_dlms.GXDLMSSNCommandHandler import GXDLMSSNCommandHandler
from gurux_dlms.GXDLMSSNParameters import GXDLMSSNParameters
from gurux_dlms.internal._GXCommon import _GXCommon
from gurux_dlms.internal._GXDataInfo import _GXDataInfo
from gurux_dlms.objects import GXDLMSAssociationShortName
from gurux_dlms.ServiceError import ServiceError
from gurux_dlms.SingleReadResponse import SingleReadResponse
from gurux_dlms.ValueEventArgs import ValueEventArgs
from gurux_dlms.VariableAccessSpecification import VariableAccessSpecification

from meterhub.plugins.drivers.dlms.gurux_compat.hls import hls_reply

__all__ = [
    "FIRST_BASE_NAME",
    "CompatSNAssociation",
    "CompatSNCommandHandler",
    "assign_short_names",
    "find_short_name",
    "span",
]

log = logging.getLogger(__name__)

#: The first base name the simulated meters give out (0xFA00 is the association's).
FIRST_BASE_NAME = 0x0A00


def span(obj: Any) -> int:
    """The base names one object takes: its attributes and its methods, 8 apart."""
    offset, count = [0], [0]
    GXDLMS.getActionInfo(obj.objectType, offset, count)
    attributes = 8 * int(obj.getAttributeCount())
    methods = offset[0] + 8 * count[0] if count[0] else 0
    return max(attributes, methods, 8 * (int(obj.getAttributeCount()) + obj.getMethodCount()))


def assign_short_names(objects: Iterable[Any], first: int = FIRST_BASE_NAME) -> None:
    """Defect 33: give every object but the association a base name, past the last one's names.

    gurux's ``updateShortNames`` spaces objects by ``GXDLMS.getActionInfo``, whose missing
    ``elif`` gives the clock and the profile generic the method table of their last branch
    (0x38/1 and 0x28/2): their last attributes share base names with the next object. The
    span here covers every attribute and method (:func:`span`).
    """
    name = first
    for obj in objects:
        if isinstance(obj, GXDLMSAssociationShortName):
            continue
        obj.shortName = name
        name += span(obj)


class CompatSNAssociation(GXDLMSAssociationShortName):
    """The current association with short names (class 12, base name 0xFA00).

    Defect 29: gurux's ``getValue`` ends by setting read-write-denied for every attribute, and
    encodes the object list calling ``e.isSkipMaxPduSize()`` (a flag, not a method: defect 4
    makes it a property, as the LN association reads it) and version 0 for every object. This
    one encodes the object list whole — ``{base_name long, class_id, version, logical_name}``
    per object — and lets attributes 1, 3 and 4 keep gurux's value without the error.
    """

    def invoke(self, settings: Any, e: Any) -> Any:
        """Method 8 (reply_to_HLS_authentication): defects 18 and 27 as on the LN association;
        the association opens when the client's answer is right."""
        if e.index != _REPLY_TO_HLS:
            return super().invoke(settings, e)
        answer = hls_reply(settings, self.secret, e.parameters)
        if answer is None:
            settings.setConnected(settings.connected & ~ConnectionState.DLMS)
            e.error = ErrorCode.READ_WRITE_DENIED
            return None
        settings.setConnected(settings.connected | ConnectionState.DLMS)
        return answer

    def getValue(self, settings: Any, e: Any) -> Any:
        """Attribute 2 encoded here; the others as gurux does, without its blanket error."""
        if e.index == 2:
            return self.object_list(settings)
        value = super().getValue(settings, e)
        e.error = ErrorCode.OK
        return value

    def object_list(self, settings: Any) -> bytearray:
        """``object_list`` (attribute 2) as an encoded array."""
        data = GXByteBuffer()
        data.setUInt8(DataType.ARRAY)
        _GXCommon.setObjectCount(len(self.objectList), data)
        for obj in self.objectList:
            data.setUInt8(DataType.STRUCTURE)
            data.setUInt8(4)
            _GXCommon.setData(settings, data, DataType.INT16, int(obj.shortName) & 0xFFFF)
            _GXCommon.setData(settings, data, DataType.UINT16, int(obj.objectType))
            _GXCommon.setData(settings, data, DataType.UINT8, int(obj.version))
            name = _GXCommon.logicalNameToBytes(obj.logicalName)
            _GXCommon.setData(settings, data, DataType.OCTET_STRING, name)
        return data.array()


# -- defects 30, 31, 32 ------------------------------------------------------------------------

#: Room left in a PDU for the read-response header and glo-ciphering around a block.
_BLOCK_OVERHEAD = 40


def find_short_name(objects: Iterable[Any], base_name: int) -> tuple[Any, int, bool] | None:
    """``(object, attribute or method index, is a method)`` addressed by ``base_name``.

    Attribute *n* of an object is at its base name + 8 (n − 1); method *m* at its base name +
    the class's first method offset + 8 (m − 1) (gurux's ``getActionInfo``, which the client
    uses too). gurux's ``findSNObject`` gives the index as a float.
    """
    for obj in objects:
        start = int(obj.shortName)
        if base_name < start or (base_name - start) % 8:
            continue
        attributes = int(obj.getAttributeCount())
        if base_name < start + 8 * attributes:
            return obj, (base_name - start) // 8 + 1, False
        offset, count = [0], [0]
        GXDLMS.getActionInfo(obj.objectType, offset, count)
        first = start + offset[0]
        if count[0] and first <= base_name < first + 8 * count[0]:
            return obj, (base_name - first) // 8 + 1, True
    return None


class CompatSNCommandHandler(GXDLMSSNCommandHandler):
    """Defects 30, 31 and 32: ReadRequest and WriteRequest served as IEC 62056-53 describes.

    Each request is answered here with gurux's encoders (``GXDLMS.appendData``,
    ``GXDLMS.getSNPdu``): an unknown base name is object-undefined, every result of a list has
    its own choice (30), an answer longer than the negotiated PDU goes out in data blocks the
    client asks for one by one with block-number-access (31), and a method addressed by a
    ReadRequest (parameterised access, e.g. reply_to_HLS_authentication) or a WriteRequest is
    invoked (32). gurux's client takes the first result's choice from the data-block-result, so
    the blocks carry the answer without it, as gurux's own server means to send them.
    :func:`install` binds ``GXDLMSServer``'s name ``GXDLMSSNCommandHandler`` to this class.
    """

    @classmethod
    def handleReadRequest(
        cls, settings: Any, server: Any, data: Any, replyData: Any, xml: Any
    ) -> None:
        """A ReadRequest: attributes read, methods invoked, the answer in one PDU or blocks."""
        if xml is not None:
            super().handleReadRequest(settings, server, data, replyData, xml)
            return
        count = _GXCommon.getObjectCount(data)
        events = []
        for _ in range(count):
            kind = data.getUInt8()
            if kind == VariableAccessSpecification.BLOCK_NUMBER_ACCESS:
                cls.next_block(settings, server, data.getUInt16(), replyData)
                return
            if kind not in (
                VariableAccessSpecification.VARIABLE_NAME,
                VariableAccessSpecification.PARAMETERISED_ACCESS,
            ):
                cls.returnSNError(
                    settings, Command.READ_RESPONSE, ErrorCode.READ_WRITE_DENIED, replyData
                )
                return
            base_name = data.getUInt16()
            selector, parameters = 0, None
            if kind == VariableAccessSpecification.PARAMETERISED_ACCESS:
                selector = data.getUInt8()
                parameters = _GXCommon.getData(settings, data, _GXDataInfo())
            events.append(cls.event(settings, server, base_name, selector, parameters))
        if not settings.acceptConnection() and not all(_opens_hls(e) for e in events):
            replyData.set(
                server.generateConfirmedServiceError(
                    ConfirmedServiceError.INITIATE_ERROR, ServiceError.SERVICE, Service.UNSUPPORTED
                )
            )
            return
        reads = [e for e in events if not e.action and not e.error]
        actions = [e for e in events if e.action and not e.error]
        if reads:
            server.onPreRead(reads)
        if actions:
            server.onPreAction(actions)
        answer = GXByteBuffer()
        first_choice = SingleReadResponse.DATA
        for number, event in enumerate(events):
            encoded = cls.result(settings, event)
            choice = (
                SingleReadResponse.DATA_ACCESS_ERROR if event.error else SingleReadResponse.DATA
            )
            if number == 0:
                first_choice = choice
            else:
                answer.setUInt8(choice)
            answer.set(encoded)
        if reads:
            server.onPostRead(reads)
        if actions:
            server.onPostAction(actions)
        cls.respond(settings, server, count, first_choice, answer, replyData)

    @classmethod
    def event(
        cls, settings: Any, server: Any, base_name: int, selector: int, parameters: Any
    ) -> ValueEventArgs:
        """The event of one variable name, its access checked (``error`` set when refused)."""
        found = find_short_name(settings.objects, base_name)
        if found is None:
            event = ValueEventArgs(server, None, 0, selector, parameters)
            event.error = ErrorCode.UNDEFINED_OBJECT
            return event
        obj, index, action = found
        event = ValueEventArgs(server, obj, index, selector, parameters)
        event.action = action
        if action:
            if server.onGetMethodAccess(event) == MethodAccessMode.NO_ACCESS:
                event.error = ErrorCode.READ_WRITE_DENIED
        elif server.onGetAttributeAccess(event) == AccessMode.NO_ACCESS:
            event.error = ErrorCode.READ_WRITE_DENIED
        return event

    @classmethod
    def result(cls, settings: Any, event: Any) -> bytes:
        """The encoded value of one read (or of a method's return), or its error code."""
        if not event.error:
            try:
                if event.action:
                    value = event.target.invoke(settings, event)
                    encoded = GXByteBuffer()
                    if not event.error:
                        kind = _GXCommon.getDLMSDataType(value)
                        _GXCommon.setData(settings, encoded, kind, value)
                else:
                    value = event.target.getValue(settings, event)
                    encoded = GXByteBuffer()
                    if not event.error:
                        GXDLMS.appendData(settings, event.target, event.index, encoded, value)
            except Exception:
                log.debug("SN read of %s failed", event.target, exc_info=True)
                event.error = ErrorCode.HARDWARE_FAULT
        if event.error:
            return bytes([int(event.error)])
        return bytes(encoded.array())

    @classmethod
    def respond(
        cls,
        settings: Any,
        server: Any,
        count: int,
        choice: int,
        answer: GXByteBuffer,
        replyData: Any,
    ) -> None:
        """The ReadResponse in one PDU, or its first data block (the rest kept for later)."""
        server.transaction = None
        if answer.size + _BLOCK_OVERHEAD <= settings.maxPduSize:
            parameters = GXDLMSSNParameters(
                settings, Command.READ_RESPONSE, count, choice, None, answer
            )
            GXDLMS.getSNPdu(parameters, replyData)
            return
        # gurux's client keeps the first result's choice out of the blocks (it is DATA).
        server.transaction = GXDLMSLongTransaction([], Command.READ_REQUEST, answer)
        server.sn_block = 0
        cls.send_block(settings, server, replyData)

    @classmethod
    def next_block(cls, settings: Any, server: Any, number: int, replyData: Any) -> None:
        """The block after ``number`` (the client acknowledges the block it received)."""
        transaction = server.transaction
        if transaction is None or number != getattr(server, "sn_block", -1):
            cls.returnSNError(
                settings, Command.READ_RESPONSE, ErrorCode.DATA_BLOCK_NUMBER_INVALID, replyData
            )
            server.transaction = None
            return
        cls.send_block(settings, server, replyData)

    @classmethod
    def send_block(cls, settings: Any, server: Any, replyData: Any) -> None:
        """Send the next data block of the kept answer (data-block-result)."""
        data = server.transaction.data
        size = min(data.size - data.position, settings.maxPduSize - _BLOCK_OVERHEAD)
        last = data.position + size >= data.size
        server.sn_block += 1
        header = GXByteBuffer()
        header.setUInt8(1 if last else 0)
        header.setUInt16(server.sn_block)
        _GXCommon.setObjectCount(size, header)
        chunk = GXByteBuffer()
        chunk.set(data, data.position, size)
        parameters = GXDLMSSNParameters(
            settings,
            Command.READ_RESPONSE,
            1,
            SingleReadResponse.DATA_BLOCK_RESULT,
            header,
            chunk,
        )
        GXDLMS.getSNPdu(parameters, replyData)
        if last:
            server.transaction = None

    @classmethod
    def handleWriteRequest(
        cls, settings: Any, server: Any, data: Any, replyData: Any, xml: Any
    ) -> None:
        """A WriteRequest: attributes written, methods invoked with the data as parameter."""
        if xml is not None:
            super().handleWriteRequest(settings, server, data, replyData, xml)
            return
        if not settings.acceptConnection():
            replyData.set(
                server.generateConfirmedServiceError(
                    ConfirmedServiceError.INITIATE_ERROR, ServiceError.SERVICE, Service.UNSUPPORTED
                )
            )
            return
        count = _GXCommon.getObjectCount(data)
        events: list[ValueEventArgs | None] = []
        for _ in range(count):
            if data.getUInt8() != VariableAccessSpecification.VARIABLE_NAME:
                events.append(None)  # write-data-block-access is not served
                continue
            events.append(cls.event(settings, server, data.getUInt16(), 0, None))
        values = _GXCommon.getObjectCount(data)
        results = GXByteBuffer()
        for number in range(values):
            value = _GXCommon.getData(settings, data, _GXDataInfo())
            event = events[number] if number < len(events) else None
            error = cls.write(settings, server, event, value)
            if error:
                results.setUInt8(1)
            results.setUInt8(int(error))
        parameters = GXDLMSSNParameters(
            settings, Command.WRITE_RESPONSE, values, 0xFF, None, results
        )
        GXDLMS.getSNPdu(parameters, replyData)

    @classmethod
    def write(cls, settings: Any, server: Any, event: Any, value: Any) -> int:
        """Write one attribute or invoke one method; the error code (0: success)."""
        if event is None:
            return int(ErrorCode.HARDWARE_FAULT)
        if event.error:
            return int(event.error)
        target = event.target
        try:
            if event.action:
                event.parameters = value
                server.onPreAction([event])
                if not event.error and not event.handled:
                    target.invoke(settings, event)
                server.onPostAction([event])
                return int(event.error)
            if server.onGetAttributeAccess(event) not in (AccessMode.WRITE, AccessMode.READ_WRITE):
                return int(ErrorCode.READ_WRITE_DENIED)
            if isinstance(value, bytearray):
                kind = target.getDataType(event.index)
                if kind not in (DataType.NONE, DataType.OCTET_STRING):
                    value = _GXCommon.changeType(settings, value, kind)
            event.value = value
            server.onPreWrite([event])
            if not event.error and not event.handled:
                target.setValue(settings, event)
            server.onPostWrite([event])
        except Exception:
            log.debug("SN write of %s failed", target, exc_info=True)
            return int(ErrorCode.HARDWARE_FAULT)
        return int(event.error)


def _opens_hls(event: Any) -> bool:
    """Whether ``event`` is reply_to_HLS_authentication (method 8 of the SN association), the
    one request a client may send before its association is open."""
    return bool(
        event.action
        and isinstance(event.target, GXDLMSAssociationShortName)
        and event.index == _REPLY_TO_HLS
    )


_REPLY_TO_HLS = 8
