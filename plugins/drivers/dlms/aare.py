"""The AARQ and AARE (IEC 62056-5-3, ACSE): what the driver checks and masks itself.

gurux parses an AARE leniently: it prints ``Unknown tag: 255.`` on stdout for a field it does
not know, skips it, and may even take a garbled answer for an accepted association.
:func:`check_aare` reads the AARE's BER structure first and raises :class:`ProtocolError` naming
the first thing that is wrong (an unknown tag and where it is, a length past the end, a missing
mandatory field), so gurux only ever sees a well-formed AARE.

:func:`authentication_value` finds the calling-authentication-value of an AARQ (the LLS
password or the HLS challenge), which the session masks in its trace.
"""

from __future__ import annotations

from meterhub.extensions.driver import ProtocolError

__all__ = ["AARE_FIELDS", "authentication_value", "check_aare", "read_tlv"]

_AARE = 0x61
_AARQ = 0x60
#: The fields an AARE may carry (ACSE AARE-apdu, tag → name).
AARE_FIELDS = {
    0x80: "protocol-version",
    0xA1: "application-context-name",
    0xA2: "result",
    0xA3: "result-source-diagnostic",
    0xA4: "responding-AP-title",
    0xA5: "responding-AE-qualifier",
    0xA6: "responding-AP-invocation-id",
    0xA7: "responding-AE-invocation-id",
    0x88: "responder-acse-requirements",
    0x89: "mechanism-name",
    0xAA: "responding-authentication-value",
    0x9D: "implementation-information",
    0xBE: "user-information",
}
_MANDATORY = (0xA1, 0xA2, 0xA3)
#: calling-authentication-value of an AARQ.
_CALLING_AUTHENTICATION_VALUE = 0xAC


def read_tlv(data: bytes, at: int) -> tuple[int, int, int]:
    """``(tag, start of the value, end of the value)`` of the BER field at ``at``.

    :raises ValueError: the length is missing, not a definite length of 1–2 bytes, or runs
        past the end of ``data``.
    """
    if at + 2 > len(data):
        raise ValueError(f"field at byte {at} is cut short")
    tag, first = data[at], data[at + 1]
    start = at + 2
    if first & 0x80:
        count = first & 0x7F
        if count not in (1, 2) or start + count > len(data):
            raise ValueError(f"field 0x{tag:02X} at byte {at} has a bad length")
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    else:
        length = first
    end = start + length
    if end > len(data):
        raise ValueError(
            f"field 0x{tag:02X} at byte {at} announces {length} bytes, {len(data) - start} left"
        )
    return tag, start, end


def check_aare(apdu: bytes) -> None:
    """Raise :class:`ProtocolError` unless ``apdu`` is a well-formed AARE.

    Checks the AARE tag (0x61) and its length, that every field inside is one an AARE may
    carry with a length that fits, and that application-context-name, result and
    result-source-diagnostic are present.
    """
    data = bytes(apdu)
    if not data:
        raise ProtocolError("malformed AARE: the answer to the AARQ is empty", frame=data)
    if data[0] != _AARE:
        raise ProtocolError(
            f"malformed AARE: the answer to the AARQ starts with 0x{data[0]:02X}, not 0x61",
            frame=data,
        )
    try:
        _, at, end = read_tlv(data, 0)
        if end != len(data):
            raise ValueError(f"the AARE announces {end} bytes but {len(data)} arrived")
        seen = set()
        while at < end:
            tag, _, after = read_tlv(data, at)
            if tag not in AARE_FIELDS:
                raise ValueError(f"unknown tag 0x{tag:02X} at byte {at}")
            seen.add(tag)
            at = after
    except ValueError as exc:
        raise ProtocolError(f"malformed AARE: {exc}", frame=data) from None
    missing = [AARE_FIELDS[tag] for tag in _MANDATORY if tag not in seen]
    if missing:
        raise ProtocolError(f"malformed AARE: no {', '.join(missing)}", frame=data)


def authentication_value(apdu: bytes) -> tuple[int, int] | None:
    """The ``(start, end)`` span of an AARQ's calling-authentication-value, or ``None``.

    That is the value inside ``AC len 80 len <value>``: the LLS password or the HLS
    challenge (CtoS).
    """
    data = bytes(apdu)
    if not data or data[0] != _AARQ:
        return None
    try:
        _, at, end = read_tlv(data, 0)
        while at < end:
            tag, start, after = read_tlv(data, at)
            if tag == _CALLING_AUTHENTICATION_VALUE:
                _, value_start, value_end = read_tlv(data, start)
                return value_start, value_end
            at = after
    except ValueError:
        return None
    return None
