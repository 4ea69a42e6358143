"""Operations on communication devices and the paths that reach a meter through them.

A device is a ``modem`` (a phone number to dial), an ``ip`` endpoint (host and TCP port) or a
``serial`` port (a local port name and an optional baud rate). A meter has paths in order of
priority: 1 is the main path, 2 the first backup, and so on; acquisition tries them in that
order (:func:`paths_for`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterhub.errors import Conflict, InvalidValue
from meterhub.inventory.common import (
    UNSET,
    Unset,
    check_name,
    clean_int,
    clean_settings,
    delete_unreferenced,
    flush,
    in_session,
    optional_text,
)
from meterhub.model.devices import DEVICE_KINDS, CommunicationDevice, CommunicationPath
from meterhub.model.meters import Meter

__all__ = [
    "BAUD_RATES",
    "MAX_PRIORITY",
    "add_path",
    "change_device",
    "change_path",
    "create_device",
    "delete_device",
    "paths_for",
    "remove_path",
]

#: Baud rates a serial device may use.
BAUD_RATES: tuple[int, ...] = (300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)

#: The lowest priority (highest number) a path may have.
MAX_PRIORITY = 99

#: A dial string: an optional +, then digits; "," is a pause of the modem (Hayes dialling).
_PHONE = re.compile(r"\+?[0-9][0-9,]*")
_PHONE_SEPARATORS = re.compile(r"[ \-()/.]")
_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_SERIAL_PORT = re.compile(r"[A-Za-z0-9/._:\\-]+")


def _phone_number(value: object) -> str:
    text = optional_text(value, field="phone_number", max_length=32)
    if text is None:
        raise InvalidValue("phone_number", "a modem needs the phone number to dial")
    number = _PHONE_SEPARATORS.sub("", text)
    digits = sum(char.isdigit() for char in number)
    if not _PHONE.fullmatch(number) or digits < 3:
        raise InvalidValue(
            "phone_number",
            f"must be digits with an optional leading + and , for pauses, not {text!r}",
        )
    return number


def _host(value: object) -> str:
    text = optional_text(value, field="host", max_length=253)
    if text is None:
        raise InvalidValue("host", "an IP device needs a host name or address")
    candidate = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        pass
    labels = text.rstrip(".").split(".")
    if all(_HOST_LABEL.fullmatch(label) for label in labels) and not labels[-1].isdigit():
        return text.rstrip(".").lower()
    raise InvalidValue("host", f"must be an IP address or a host name, not {text!r}")


def _port(value: object) -> int:
    if value is None:
        raise InvalidValue("port", "an IP device needs a TCP port (1..65535)")
    return clean_int(value, "port", minimum=1, maximum=65535)


def _serial_port(value: object) -> str:
    text = optional_text(value, field="serial_port", max_length=100)
    if text is None:
        raise InvalidValue("serial_port", "a serial device needs a port name such as /dev/ttyUSB0")
    if not _SERIAL_PORT.fullmatch(text):
        raise InvalidValue("serial_port", f"must be a port name such as /dev/ttyUSB0, not {text!r}")
    return text


def _baud_rate(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value not in BAUD_RATES:
        allowed = ", ".join(str(rate) for rate in BAUD_RATES)
        raise InvalidValue("baud_rate", f"must be one of {allowed}, not {value!r}")
    return value


def _not_for(kind: str, **fields: object) -> None:
    for field, value in fields.items():
        if value is not None:
            raise InvalidValue(field, f"does not apply to a {kind} device; leave it empty")


def create_device(
    session: Session,
    *,
    name: str,
    kind: str,
    phone_number: str | None = None,
    host: str | None = None,
    port: int | None = None,
    serial_port: str | None = None,
    baud_rate: int | None = None,
    settings: Mapping[str, Any] | None = None,
) -> CommunicationDevice:
    """Create a communication device named ``name`` (unique among devices).

    Per ``kind``: a ``modem`` needs ``phone_number`` (digits, optional leading ``+``, ``,``
    for a pause; spaces, dashes, dots, slashes and parentheses are dropped); ``ip`` needs
    ``host`` (IP address or host name) and ``port`` (1..65535); ``serial`` needs
    ``serial_port`` and may have ``baud_rate`` (one of :data:`BAUD_RATES`). A field that
    belongs to another kind is refused rather than ignored. ``settings`` is a JSON object.
    """
    name = check_name(name, field="name", max_length=100)
    if kind not in DEVICE_KINDS:
        raise InvalidValue("kind", f"must be one of {', '.join(DEVICE_KINDS)}, not {kind!r}")
    if kind == "modem":
        _not_for(kind, host=host, port=port, serial_port=serial_port, baud_rate=baud_rate)
        phone_number = _phone_number(phone_number)
    elif kind == "ip":
        _not_for(kind, phone_number=phone_number, serial_port=serial_port, baud_rate=baud_rate)
        host, port = _host(host), _port(port)
    else:
        _not_for(kind, phone_number=phone_number, host=host, port=port)
        serial_port, baud_rate = _serial_port(serial_port), _baud_rate(baud_rate)
    checked_settings = clean_settings(
        dict(settings) if isinstance(settings, Mapping) else settings, "settings"
    )
    clash = session.scalars(
        select(CommunicationDevice).where(CommunicationDevice.name == name)
    ).first()
    if clash is not None:
        raise Conflict("name", f"a {clash.kind} device named {name!r} exists (id {clash.id})")
    device = CommunicationDevice(
        name=name,
        kind=kind,
        phone_number=phone_number,
        host=host,
        port=port,
        serial_port=serial_port,
        baud_rate=baud_rate,
        settings=checked_settings,
        enabled=True,
    )
    session.add(device)
    flush(session, field="name")
    return device


def add_path(
    session: Session,
    meter: Meter,
    device: CommunicationDevice,
    priority: int,
    address: str | int | None = None,
    *,
    settings: Mapping[str, Any] | None = None,
) -> CommunicationPath:
    """Reach ``meter`` through ``device`` with ``priority`` (1 = main, 2 = backup, ...).

    ``address`` is the meter's address on this hop (HDLC server address, Modbus unit id,
    IEC 62056-21 device address); ``settings`` a JSON object of options for the hop. A meter
    has one path per priority.
    """
    meter = in_session(session, meter, "meter", Meter)
    device = in_session(session, device, "device", CommunicationDevice)
    priority = clean_int(priority, "priority", minimum=1, maximum=MAX_PRIORITY)
    if isinstance(address, int) and not isinstance(address, bool):
        address = str(address)
    address = optional_text(address, field="address", max_length=64)
    checked_settings = clean_settings(
        dict(settings) if isinstance(settings, Mapping) else settings, "settings"
    )
    clash = session.scalars(
        select(CommunicationPath).where(
            CommunicationPath.meter_id == meter.id, CommunicationPath.priority == priority
        )
    ).first()
    if clash is not None:
        raise Conflict(
            "priority",
            f"meter {meter.manufacturer} {meter.serial_number} already has a path with "
            f"priority {priority} (through device {clash.device.name!r})",
        )
    path = CommunicationPath(
        meter=meter, device=device, priority=priority, address=address, settings=checked_settings
    )
    session.add(path)
    flush(session, field="priority")
    return path


def remove_path(session: Session, path: CommunicationPath) -> None:
    """Delete a communication path; the meter's other paths keep their priorities."""
    path = in_session(session, path, "path", CommunicationPath)
    session.delete(path)
    flush(session, field="path")


def paths_for(session: Session, meter: Meter) -> list[CommunicationPath]:
    """The paths of ``meter`` in the order to try them: main (1) first, then the backups."""
    meter = in_session(session, meter, "meter", Meter)
    return list(
        session.scalars(
            select(CommunicationPath)
            .where(CommunicationPath.meter_id == meter.id)
            .order_by(CommunicationPath.priority)
        )
    )


def change_device(
    session: Session,
    device: CommunicationDevice,
    *,
    name: str | Unset = UNSET,
    phone_number: str | None | Unset = UNSET,
    host: str | None | Unset = UNSET,
    port: int | None | Unset = UNSET,
    serial_port: str | None | Unset = UNSET,
    baud_rate: int | None | Unset = UNSET,
    settings: Mapping[str, Any] | Unset = UNSET,
) -> CommunicationDevice:
    """Change a device; the result is checked as on creation (the kind stays)."""
    device = in_session(session, device, "device", CommunicationDevice)

    def pick(value: Any, current: Any) -> Any:
        return current if isinstance(value, Unset) else value

    final_name = check_name(pick(name, device.name), field="name", max_length=100)
    phone = pick(phone_number, device.phone_number)
    final_host, final_port = pick(host, device.host), pick(port, device.port)
    final_serial, final_baud = (
        pick(serial_port, device.serial_port),
        pick(baud_rate, device.baud_rate),
    )
    if device.kind == "modem":
        _not_for(
            "modem",
            host=final_host,
            port=final_port,
            serial_port=final_serial,
            baud_rate=final_baud,
        )
        phone = _phone_number(phone)
    elif device.kind == "ip":
        _not_for("ip", phone_number=phone, serial_port=final_serial, baud_rate=final_baud)
        final_host, final_port = _host(final_host), _port(final_port)
    else:
        _not_for("serial", phone_number=phone, host=final_host, port=final_port)
        final_serial, final_baud = _serial_port(final_serial), _baud_rate(final_baud)
    final_settings = device.settings
    if not isinstance(settings, Unset):
        final_settings = clean_settings(
            dict(settings) if isinstance(settings, Mapping) else settings, "settings"
        )
    clash = session.scalars(
        select(CommunicationDevice).where(
            CommunicationDevice.name == final_name, CommunicationDevice.id != device.id
        )
    ).first()
    if clash is not None:
        raise Conflict("name", f"a {clash.kind} device named {final_name!r} exists (id {clash.id})")
    device.name = final_name
    device.phone_number = phone
    device.host, device.port = final_host, final_port
    device.serial_port, device.baud_rate = final_serial, final_baud
    device.settings = final_settings
    flush(session, field="name")
    return device


def delete_device(session: Session, device: CommunicationDevice) -> None:
    """Delete a device that no communication path uses any more."""
    device = in_session(session, device, "device", CommunicationDevice)
    delete_unreferenced(session, device, f"device {device.name!r}", field="device")


def change_path(
    session: Session,
    path: CommunicationPath,
    *,
    priority: int | Unset = UNSET,
    address: str | int | None | Unset = UNSET,
    settings: Mapping[str, Any] | Unset = UNSET,
) -> CommunicationPath:
    """Change a path's priority, address or settings (one path per priority and meter)."""
    path = in_session(session, path, "path", CommunicationPath)
    if not isinstance(priority, Unset):
        priority = clean_int(priority, "priority", minimum=1, maximum=MAX_PRIORITY)
        clash = session.scalars(
            select(CommunicationPath).where(
                CommunicationPath.meter_id == path.meter_id,
                CommunicationPath.priority == priority,
                CommunicationPath.id != path.id,
            )
        ).first()
        if clash is not None:
            raise Conflict("priority", f"the meter already has a path with priority {priority}")
        path.priority = priority
    if not isinstance(address, Unset):
        if isinstance(address, int) and not isinstance(address, bool):
            address = str(address)
        path.address = optional_text(address, field="address", max_length=64)
    if not isinstance(settings, Unset):
        path.settings = clean_settings(
            dict(settings) if isinstance(settings, Mapping) else settings, "settings"
        )
    flush(session, field="priority")
    return path
