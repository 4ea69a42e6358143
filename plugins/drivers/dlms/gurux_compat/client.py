"""Defects 34–36: gurux's *client* with short name referencing.

See the defect table in :mod:`meterhub.plugins.drivers.dlms.gurux_compat`. The driver's SN
sessions go through these helpers (34 is added to gurux's classes by :func:`install`; 37 and
38 are worked around in the driver itself, 39 is refused by its settings):

* 35: ``GXDLMSSNParameters`` never sets ``settings.command`` (``GXDLMSLNParameters`` does), so
  ``receiverReady`` builds the request for the next data block with command 0 instead of a
  ReadRequest: :func:`next_block_request` sets it first.
* 36: ``getApplicationAssociationRequest`` invokes reply_to_HLS_authentication (method 8 of the
  SN association, base name 0xFA58) with a WriteRequest, which has no room for the meter's
  f(CtoS) in its answer; IEC 62056-53 invokes a method with a return value by a ReadRequest
  with parameterised access. :func:`sn_hls_request` lets gurux compute f(StoC) (unciphered, so
  it can be taken out of the WriteRequest), then builds that ReadRequest with gurux's own
  ``_read`` (ciphered as the association is).
"""

from __future__ import annotations

from typing import Any

from gurux_dlms import GXByteBuffer
from gurux_dlms.enums import Command, DataType, ObjectType, Security
from gurux_dlms.internal._GXCommon import _GXCommon
from gurux_dlms.internal._GXDataInfo import _GXDataInfo

__all__ = ["REPLY_TO_HLS", "next_block_request", "sn_hls_request"]

#: Base name of reply_to_HLS_authentication: the SN association 0xFA00, its first method at
#: offset 0x20, method 8.
REPLY_TO_HLS = 0xFA00 + 0x20 + 8 * 7


def next_block_request(client: Any, reply: Any) -> Any:
    """Defect 35: ``client.receiverReady(reply)``, with the command an SN block request needs."""
    if not client.useLogicalNameReferencing and not client.settings.command:
        client.settings.command = Command.READ_REQUEST
    return client.receiverReady(reply)


def _write_parameter(settings: Any, apdu: bytes) -> bytes:
    """The octet string a WriteRequest ``06 01 02 <sn> 01 <data>`` carries."""
    data = GXByteBuffer(bytearray(apdu))
    if data.getUInt8() != Command.WRITE_REQUEST or data.getUInt8() != 1:
        raise ValueError("not a WriteRequest of one variable")
    data.getUInt8()  # variable-name choice
    data.getUInt16()
    data.getUInt8()  # one data
    value = _GXCommon.getData(settings, data, _GXDataInfo())
    return bytes(value or b"")


def sn_hls_request(client: Any, apdu_of: Any) -> list[bytes]:
    """Defect 36: HLS pass 3 over short names as a ReadRequest with parameterised access.

    ``apdu_of(frames)`` gives the APDU that frames carry (wrapper or HDLC). Returns the
    frames to send; gurux's invocation counter advances as it does for LN.
    """
    settings = client.settings
    cipher = settings.cipher
    security, sender = cipher.security, settings.senderFrame
    cipher.security = Security.NONE
    try:
        frames = [bytes(frame) for frame in client.getApplicationAssociationRequest()]
    finally:
        # The WriteRequest is never sent: HDLC's send sequence number stays unused.
        cipher.security, settings.senderFrame = security, sender
    answer = _write_parameter(settings, apdu_of(frames))
    parameters = GXByteBuffer()
    parameters.setUInt8(0)  # selector
    _GXCommon.setData(client.settings, parameters, DataType.OCTET_STRING, bytearray(answer))
    request = client._read(REPLY_TO_HLS, ObjectType.ASSOCIATION_SHORT_NAME, 1, parameters)
    return [bytes(frame) for frame in request]
