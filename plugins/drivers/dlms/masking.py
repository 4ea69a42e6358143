"""What a DLMS session keeps out of its frame trace, and where it sits in the frames.

Masked (replaced by ``*`` bytes of the same length in :class:`FrameTrace`, marked masked):

* the AARQ's **calling-authentication-value**: the LLS password, or the HLS challenge CtoS;
* the HLS **pass 3** answer f(StoC) when it travels in clear (an unciphered ACTION on the
  current association): with the challenge and the answer both in a trace, a secret made from a
  password (HLS MD5, SHA-1) could be found offline. With CtoS and f(StoC) masked, the StoC and
  f(CtoS) the meter sends are worthless on their own and stay visible for debugging;
* every **secret setting** wherever it would appear: password, authentication key, block cipher
  key and the client **system title**. The system title is not confidential on the wire (the
  AARQ carries it in clear, and it is part of every nonce), but MeterHub declares it a
  credential and keeps it in the encrypted store with the keys, so the trace follows the
  declaration: nothing the credential store protects is ever in a trace.

A value to mask is located in the APDU and mapped onto the frames that carry it: a wrapper frame
carries the APDU after an 8-byte header; HDLC frames carry it in their information fields,
possibly split over several frames, the first one after the LLC header (``E6 E6 00``).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["action_parameter", "apdu_of", "frame_spans", "payload_ranges", "read_parameter"]

_WRAPPER_HEADER = 8
_LLC_REQUEST = b"\xe6\xe6\x00"


def payload_ranges(frame: bytes, framing: str) -> tuple[int, int] | None:
    """``(start, end)`` of the information a frame carries (``None``: none, or not a frame)."""
    if framing == "wrapper":
        return (_WRAPPER_HEADER, len(frame)) if len(frame) > _WRAPPER_HEADER else None
    if len(frame) < 9 or frame[0] != 0x7E:
        return None
    at = 3
    for _ in range(2):  # destination, then source address: up to the byte with bit 0 set
        while at < len(frame) and not frame[at] & 1:
            at += 1
        at += 1
    at += 1 + 2  # control, header check sequence
    end = len(frame) - 3  # frame check sequence and the closing flag
    return (at, end) if at < end else None


def _pieces(frames: Sequence[bytes], framing: str) -> list[tuple[int, int, int, int]]:
    """Per frame with information: (frame index, start, end, offset in the APDU)."""
    pieces: list[tuple[int, int, int, int]] = []
    offset = 0
    for index, frame in enumerate(frames):
        found = payload_ranges(bytes(frame), framing)
        if found is None:
            continue
        start, end = found
        if framing == "hdlc" and offset == 0 and bytes(frame[start : start + 3]) == _LLC_REQUEST:
            start += 3
        pieces.append((index, start, end, offset))
        offset += end - start
    return pieces


def apdu_of(frames: Sequence[bytes], framing: str) -> bytes:
    """The APDU that ``frames`` carry (their information fields joined, the LLC header off)."""
    return b"".join(
        bytes(frames[index][start:end]) for index, start, end, _ in _pieces(frames, framing)
    )


def frame_spans(
    frames: Sequence[bytes], framing: str, pdu_spans: Sequence[tuple[int, int]]
) -> list[list[tuple[int, int]]]:
    """Map byte spans of an APDU onto the frames that carry it: spans per frame."""
    pieces = _pieces(frames, framing)
    result: list[list[tuple[int, int]]] = [[] for _ in frames]
    for low, high in pdu_spans:
        for index, frame_start, frame_end, pdu_start in pieces:
            pdu_end = pdu_start + frame_end - frame_start
            overlap_low, overlap_high = max(low, pdu_start), min(high, pdu_end)
            if overlap_low < overlap_high:
                result[index].append(
                    (frame_start + overlap_low - pdu_start, frame_start + overlap_high - pdu_start)
                )
    return result


def _octet_string(data: bytes, at: int) -> tuple[int, int] | None:
    """The value span of the octet string (``09 <length> <value>``) at ``at``."""
    if len(data) < at + 2 or data[at] != 0x09:
        return None
    size, at = data[at + 1], at + 2
    if size & 0x80:
        count = size & 0x7F
        if count not in (1, 2) or len(data) < at + count:
            return None
        size, at = int.from_bytes(data[at : at + count], "big"), at + count
    end = at + size
    return (at, end) if end <= len(data) else None


def read_parameter(apdu: bytes) -> tuple[int, int] | None:
    """The span of the octet-string parameter of an unciphered SN ReadRequest with
    parameterised access: ``05 01 04 <base name 2> <selector> 09 <length> <value>`` — the
    HLS pass 3 answer with short names (reply_to_HLS_authentication, base name 0xFA58)."""
    data = bytes(apdu)
    if len(data) < 8 or data[0] != 0x05 or data[1] != 0x01 or data[2] != 0x04:
        return None
    return _octet_string(data, 6)


def action_parameter(apdu: bytes) -> tuple[int, int] | None:
    """The span of the octet-string parameter of an unciphered ACTION-request-normal.

    ``C3 01 <invoke-id> <class 2> <LN 6> <method> 01 09 <length> <value>``: the value is the
    HLS pass 3 answer when the method is the association's reply_to_HLS_authentication.
    """
    data = bytes(apdu)
    if len(data) < 15 or data[0] != 0xC3 or data[1] != 0x01 or data[12] != 0x01:
        return None
    if data[13] != 0x09:
        return None
    size, at = data[14], 15
    if size & 0x80:
        count = size & 0x7F
        if count not in (1, 2) or len(data) < at + count:
            return None
        size, at = int.from_bytes(data[at : at + count], "big"), at + count
    end = at + size
    return (at, end) if end <= len(data) else None
