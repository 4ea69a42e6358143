"""Defects 26 and 28: AAREs gurux's server builds wrong, repaired after ``generateAARE``.

See the defect table in :mod:`meterhub.plugins.drivers.dlms.gurux_compat`. Both repairs work on
the server's reply buffer once :meth:`GXDLMSServer.handleAarqRequest` has written the AARE
(after the HDLC LLC header, if any), and leave any other reply alone.
"""

from __future__ import annotations

from typing import Any

from gurux_dlms import GXByteBuffer
from gurux_dlms._GXAPDU import _GXAPDU
from gurux_dlms.AesGcmParameter import AesGcmParameter
from gurux_dlms.enums import Command
from gurux_dlms.GXCiphering import GXCiphering

__all__ = ["add_responding_ap_title", "cipher_initiate_response_in_suite", "aare_fields"]

_AARE = 0x61
_RESULT_SOURCE_DIAGNOSTIC = 0xA3
_RESPONDING_AP_TITLE = 0xA4
_USER_INFORMATION = 0xBE
_LLC_REPLY = b"\xe6\xe7\x00"


def aare_fields(data: bytes) -> tuple[int, list[tuple[int, int, int]]] | None:
    """``(start of the AARE, [(tag, start, end) per field])`` for short-form lengths, or
    ``None`` when ``data`` is not an AARE gurux built."""
    start = len(_LLC_REPLY) if data.startswith(_LLC_REPLY) else 0
    if len(data) < start + 2 or data[start] != _AARE or data[start + 1] & 0x80:
        return None
    at, end = start + 2, start + 2 + data[start + 1]
    if end != len(data):
        return None
    fields = []
    while at + 1 < end:
        tag, size = data[at], data[at + 1]
        if size & 0x80 or at + 2 + size > end:
            return None
        fields.append((tag, at, at + 2 + size))
        at += 2 + size
    return start, fields


def _replace(reply: GXByteBuffer, data: bytes) -> None:
    reply.clear()
    reply.set(bytearray(data))


# -- defect 26 ---------------------------------------------------------------------------------


def add_responding_ap_title(reply: GXByteBuffer, title: bytes) -> bool:
    """Defect 26: put ``A4 0A 04 08 <title>`` after the AARE's result-source-diagnostic.

    ``generateAARE`` writes the responding-AP-title only for GMAC or a ciphered association;
    HLS SHA-256 hashes both system titles, so the client needs the server's. The AARE's length
    is corrected. Returns whether a title was added (not when the AARE has one already).
    """
    data = bytes(reply.array())
    found = aare_fields(data)
    if found is None:
        return False
    start, fields = found
    if any(tag == _RESPONDING_AP_TITLE for tag, _, _ in fields):
        return False
    after = next((end for tag, _, end in fields if tag == _RESULT_SOURCE_DIAGNOSTIC), None)
    field = bytes([_RESPONDING_AP_TITLE, len(title) + 2, 0x04, len(title)]) + title
    if after is None or data[start + 1] + len(field) > 0x7F:
        return False
    fixed = bytearray(data[:after] + field + data[after:])
    fixed[start + 1] += len(field)
    _replace(reply, bytes(fixed))
    return True


# -- defect 28 ---------------------------------------------------------------------------------


def cipher_initiate_response_in_suite(reply: GXByteBuffer, settings: Any) -> bool:
    """Defect 28: cipher the AARE's glo-initiate-response in the association's security suite.

    ``_GXAPDU.getUserInformation`` ciphers the initiate response without setting the
    ``AesGcmParameter``'s suite, so its security control byte says suite 0 whatever suite the
    client's AARQ used (and the tag is computed over that byte): gurux's client then takes
    suite 0 for the rest of the association and its HLS GMAC answer no longer matches. The
    response is ciphered again with gurux's own ``GXCiphering.encrypt``, the same security,
    invocation counter and keys, and the suite of ``settings.cipher``. Returns whether it was.
    """
    cipher = settings.cipher
    data = bytes(reply.array())
    found = aare_fields(data)
    if found is None:
        return False
    _, fields = found
    info = next(((s, e) for tag, s, e in fields if tag == _USER_INFORMATION), None)
    if info is None:
        return False
    start, end = info
    # BE <len> 04 <len> 28 <len> SC IC(4) ciphertext tag
    body = start + 2
    if data[body] != 0x04 or data[body + 2] != Command.GLO_INITIATE_RESPONSE:
        return False
    control_at = body + 4
    control = data[control_at]
    if control & 0x0F == cipher.securitySuite:
        return False
    counter = int.from_bytes(data[control_at + 1 : control_at + 5], "big")
    parameter = AesGcmParameter(
        Command.GLO_INITIATE_RESPONSE,
        cipher.systemTitle,
        cipher.blockCipherKey,
        cipher.authenticationKey,
    )
    parameter.security = control & 0x30
    parameter.securitySuite = cipher.securitySuite
    parameter.invocationCounter = counter
    plain = _GXAPDU.getUserInformation(settings, None)
    ciphered = bytes(GXCiphering.encrypt(parameter, plain))
    if len(ciphered) != end - body - 2:
        return False
    _replace(reply, data[: body + 2] + ciphered + data[end:])
    return True
