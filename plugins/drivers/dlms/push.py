"""Data notifications a meter pushes (DLMS "push", APDU tag 0x0F): read, identify, interpret.

**Reading** (:func:`read_push`): the first bytes tell the framing (``00 01``: the wrapper,
``7E``: HDLC); :class:`~.link.FrameLink` reads one whole, checked frame, and gurux's client
(``GXDLMSClient.getData``) decodes the APDU. Anything but a data-notification is a
:class:`~meterhub.extensions.driver.ProtocolError` naming what came instead.

**Identities**: a push carries no address the head-end could trust, so the meter is named by
what it sends: the system title of a ciphered APDU (16 hex digits) and every text among the
values (the logical device name ``0-0:42.0.0``, a serial number ``0-0:96.1.x``), in order.

**Meaning** (:func:`decode_push`): the values of a data-notification carry no OBIS codes: they
follow the capture objects of the meter's push setup (class 40, attribute 3 ``push_object_list``).
The setting ``push_objects`` lists them, ``class/OBIS/attribute`` separated by commas; several
push setups (a periodic and an alarm push) are separated by ``;`` and told apart by their
number of values and, when the list starts with the push setup's own logical name (attribute
1 of class 40, as IDIS pushes do), by that name. Then:

* attribute 2 of a register (class 3, 4) or data object (class 1) is a reading; when the list
  also holds the register's attribute 3 (scaler and unit), the reading has them, otherwise
  scaler 0 and no unit;
* an **alarm register** (``0-0:97.98.x``, attribute 2) becomes one event per set bit, in the
  event log named by the alarm register's OBIS code, with the bit number (0 = least
  significant) as the code;
* an **event code** object ``0-0:96.11.n`` becomes an event of the event log ``0-0:99.98.n``
  with its code (0: no event), described by the meter's ``event_table``;
* the push setup's name, the logical device name, serial numbers and the clock identify or
  time the message and are not stored.

Every value takes the message's time stamp, or the time it was received when it has none.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gurux_dlms import GXByteBuffer, GXReplyData
from gurux_dlms.enums import InterfaceType
from gurux_dlms.GXDLMSClient import GXDLMSClient

from meterhub.errors import InvalidValue
from meterhub.extensions.driver import MeterEvent, MeterTimeout, ProtocolError, Quality, Reading
from meterhub.extensions.medium import Medium
from meterhub.extensions.push import PushContent, PushMessage
from meterhub.extensions.trace import FrameTrace
from meterhub.plugins.drivers.dlms.cosem import (
    canonical,
    from_cosem_time,
    obis_text,
    unit_text,
)
from meterhub.plugins.drivers.dlms.events import event_table
from meterhub.plugins.drivers.dlms.link import FrameLink

__all__ = ["PushLayout", "decode_push", "parse_push_objects", "read_push"]

#: The largest pushed frame accepted (bytes).
MAX_PUSH_FRAME = 4096
#: APDU tags: data-notification, general-glo-ciphering, general-ded-ciphering.
_DATA_NOTIFICATION = 0x0F
_GLO_CIPHERING = (0xDB, 0xDC)
_APDU_NAMES = {0x60: "an AARQ", 0x62: "a release request", 0xC0: "a get-request",
               0xC2: "an event-notification", 0xC4: "a get-response"}  # fmt: skip
#: Identity objects: not stored as readings.
_IDENTITY_PREFIXES = ("0-0:42.0.0", "0-0:96.1.")
_CLOCK_CLASS = 8
_PUSH_SETUP_CLASS = 40
_REGISTER_CLASSES = (3, 4)

#: One capture object: ``(class, OBIS, attribute)``.
PushLayout = tuple[tuple[int, str, int], ...]


def parse_push_objects(text: str, field: str = "settings.push_objects") -> tuple[PushLayout, ...]:
    """The push layouts of ``push_objects`` (see the module docstring); ``InvalidValue`` names
    the entry that is wrong."""
    layouts: list[PushLayout] = []
    for part in text.split(";"):
        entries = [entry.strip() for entry in part.split(",") if entry.strip()]
        if not entries:
            continue
        layout = []
        for entry in entries:
            pieces = entry.split("/")
            if (
                len(pieces) != 3
                or not pieces[0].strip().isdigit()
                or not pieces[2].strip().isdigit()
            ):
                raise InvalidValue(field, f"{entry!r} is not class/OBIS/attribute")
            class_id, attribute = int(pieces[0]), int(pieces[2])
            if not 1 <= class_id <= 65535 or not 1 <= attribute <= 255:
                raise InvalidValue(field, f"{entry!r}: class 1..65535, attribute 1..255")
            layout.append((class_id, canonical(pieces[1].strip(), field), attribute))
        layouts.append(tuple(layout))
    return tuple(layouts)


# -- reading ---------------------------------------------------------------------------------


def read_push(medium: Medium, timeout: float) -> PushMessage:
    """Read one data-notification from ``medium`` (see the module docstring).

    :raises ProtocolError: not a DLMS frame, a damaged one, or another APDU than a push.
    :raises LinkLost: the line closed or nothing came within ``timeout``.
    """
    trace = medium.trace if medium.trace is not None else FrameTrace()
    received = datetime.now(UTC)
    first = b""
    link = FrameLink(medium, "wrapper", timeout, MAX_PUSH_FRAME, trace)
    first = medium.read(MAX_PUSH_FRAME, timeout)
    if not first:
        raise MeterTimeout(f"the meter sent nothing within {timeout:g} s")
    if first[0] == 0x7E:
        link.framing = "hdlc"
    elif first[:2] != b"\x00\x01":
        raise ProtocolError(
            f"not a DLMS frame: starts with {first[:8].hex().upper()} (expected the wrapper "
            "version 00 01 or the HDLC flag 7E)",
            frame=first,
        )
    link._pending = first  # the frame reader takes over the bytes already read
    frame = link.receive()
    interface = InterfaceType.HDLC if link.framing == "hdlc" else InterfaceType.WRAPPER
    apdu = _apdu(frame, interface)
    if not apdu:
        raise ProtocolError("the frame carries no APDU", frame=frame)
    if apdu[0] in _GLO_CIPHERING:
        title = _system_title(apdu, frame)
        return PushMessage((title,), None, (), bytes(frame), received)
    if apdu[0] != _DATA_NOTIFICATION:
        what = _APDU_NAMES.get(apdu[0], f"an APDU with tag 0x{apdu[0]:02X}")
        raise ProtocolError(f"expected a data-notification (tag 0x0F), got {what}", frame=frame)
    client = GXDLMSClient(True, 1, 1)
    client.interfaceType = interface
    reply = GXReplyData()
    try:
        complete = client.getData(GXByteBuffer(bytes(frame)), reply, None)
    except Exception as exc:  # gurux raises anything on malformed data
        raise ProtocolError(f"malformed data-notification: {exc}", frame=frame) from None
    if not complete or reply.command != _DATA_NOTIFICATION or not reply.isComplete():
        raise ProtocolError("incomplete data-notification (block transfer is not supported)",
                            frame=frame)  # fmt: skip
    if reply.value is None or reply.value == []:
        raise ProtocolError("malformed data-notification: its body cannot be decoded", frame=frame)
    values = reply.value if isinstance(reply.value, list) else [reply.value]
    identities: list[str] = []
    for value in values:
        text = _text(value)
        if text is not None and text not in identities:
            identities.append(text)
    stamp = from_cosem_time(reply.time)
    return PushMessage(tuple(identities), stamp, tuple(values), bytes(frame), received)


def _apdu(frame: bytes, interface: InterfaceType) -> bytes:
    if interface == InterfaceType.WRAPPER:
        return frame[8:]
    # HDLC: flag, format (2), destination and source addresses (ends: an odd byte), control,
    # header check (2), LLC (3), APDU, FCS (2), flag
    at = 3
    for _ in range(2):
        while at < len(frame) and not frame[at] & 1:
            at += 1
        at += 1
    at += 1 + 2  # control, HCS
    if frame[at : at + 3] in (b"\xe6\xe7\x00", b"\xe6\xe6\x00"):
        at += 3
    return frame[at:-3]


def _system_title(apdu: bytes, frame: bytes) -> str:
    length = apdu[1] if len(apdu) > 1 else 0
    if length != 8 or len(apdu) < 10:
        raise ProtocolError("ciphered APDU without an 8-byte system title", frame=frame)
    return apdu[2:10].hex().upper()


def _text(value: Any) -> str | None:
    """A value that may name the meter: printable text of 2 to 64 characters."""
    if isinstance(value, bytes | bytearray):
        try:
            text = bytes(value).decode("ascii")
        except UnicodeDecodeError:
            return None
    elif isinstance(value, str):
        text = value
    else:
        return None
    text = text.strip()
    if 2 <= len(text) <= 64 and text.isprintable():
        return text
    return None


# -- meaning -----------------------------------------------------------------------------------


def decode_push(
    message: PushMessage, layouts: tuple[PushLayout, ...], table_name: str
) -> PushContent:
    """Readings and events of ``message`` after the meter's push layouts (module docstring)."""
    if not message.values:
        raise ProtocolError(
            "the meter pushed a ciphered data-notification; deciphering pushes is not supported"
            if message.identities and not message.values
            else "the data-notification carries no values",
            frame=message.frame,
        )
    layout = _choose(message, layouts)
    if layout is None:
        described = " or ".join(str(len(layout)) for layout in layouts) or "no"
        return PushContent(warnings=(
            f"the meter pushed {len(message.values)} values, but its push_objects describe "
            f"{described} values: nothing stored",
        ))  # fmt: skip
    at = (message.time or message.received).astimezone(UTC)
    scalers: dict[str, tuple[int, str | None]] = {}
    for (class_id, obis, attribute), value in zip(layout, message.values, strict=True):
        if class_id in _REGISTER_CLASSES and attribute == 3 and isinstance(value, list):
            if len(value) == 2:
                scalers[obis] = (int(value[0]), unit_text(value[1]))
    readings: list[Reading] = []
    events: list[MeterEvent] = []
    warnings: list[str] = []
    table = event_table(table_name)
    for (class_id, obis, attribute), value in zip(layout, message.values, strict=True):
        if class_id in (_PUSH_SETUP_CLASS, _CLOCK_CLASS) or attribute != 2:
            continue
        if obis.startswith(_IDENTITY_PREFIXES):
            continue
        if obis.startswith("0-0:97.98."):
            bits = _whole(value)
            if bits is None:
                warnings.append(f"{obis}: alarm register value {value!r} is not a bit field")
                continue
            events += [
                MeterEvent(at, bit, obis, f"alarm bit {bit}")
                for bit in range(bits.bit_length())
                if bits >> bit & 1
            ]
            continue
        if obis.startswith("0-0:96.11."):
            code = _whole(value)
            if code is None:
                warnings.append(f"{obis}: event code {value!r} is not a number")
            elif code:
                log = "0-0:99.98." + obis.removeprefix("0-0:96.11.")
                events.append(MeterEvent(at, code, log, table.text(code)))
            continue
        number = _number(value)
        if number is None:
            warnings.append(f"{obis}: pushed value {value!r} is not a number; not stored")
            continue
        scaler, unit = scalers.get(obis, (0, None))
        readings.append(Reading(obis, number, unit, scaler, at, Quality.VALID))
    return PushContent(tuple(readings), tuple(events), tuple(warnings))


def _choose(message: PushMessage, layouts: tuple[PushLayout, ...]) -> PushLayout | None:
    for layout in layouts:
        if len(layout) != len(message.values):
            continue
        class_id, obis, attribute = layout[0]
        if class_id == _PUSH_SETUP_CLASS and attribute == 1:
            first = message.values[0]
            if not isinstance(first, bytes | bytearray) or len(first) != 6:
                continue
            if obis_text(bytes(first)) != obis:
                continue
        return layout
    return None


def _whole(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if hasattr(value, "value") and isinstance(value.value, int):  # GXBitString, GXEnum
        return int(value.value)
    if isinstance(value, bytes | bytearray) and len(value) <= 8:
        return int.from_bytes(value, "big")
    return None


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    return None
