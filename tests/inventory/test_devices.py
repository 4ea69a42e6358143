"""Communication devices (modem, IP, serial) and communication paths (main, backup)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from tree_helpers import refused

from meterhub.db import transaction
from meterhub.errors import Conflict, InvalidValue
from meterhub.inventory.devices import add_path, create_device, paths_for, remove_path
from meterhub.inventory.meters import create_meter
from meterhub.model.devices import CommunicationDevice, CommunicationPath
from meterhub.model.meters import Meter

Factory = sessionmaker[Session]


@pytest.fixture
def meter(session_factory: Factory) -> Meter:
    with transaction(session_factory) as session:
        return create_meter(session, manufacturer="ISK", serial_number="1", driver="iec62056_21")


@pytest.fixture
def devices(session_factory: Factory) -> dict[str, CommunicationDevice]:
    with transaction(session_factory) as session:
        return {
            "modem": create_device(
                session, name="GSM 1", kind="modem", phone_number="+420 (601) 123-456,,12"
            ),
            "ip": create_device(
                session, name="Router", kind="ip", host="Meter-1.Example.NET", port=4059
            ),
            "serial": create_device(
                session,
                name="Optical head",
                kind="serial",
                serial_port="/dev/ttyUSB0",
                baud_rate=300,
                settings={"parity": "E", "bits": 7},
            ),
        }


def test_create_devices(session_factory: Factory, devices: dict[str, CommunicationDevice]) -> None:
    with transaction(session_factory) as session:
        stored = {d.kind: d for d in session.scalars(select(CommunicationDevice))}
    assert stored["modem"].phone_number == "+420601123456,,12"
    assert (stored["ip"].host, stored["ip"].port) == ("meter-1.example.net", 4059)
    assert stored["serial"].serial_port == "/dev/ttyUSB0"
    assert stored["serial"].settings == {"bits": 7, "parity": "E"}
    assert stored["modem"].settings == {}


@pytest.mark.parametrize(
    ("host", "stored"),
    [("192.0.2.10", "192.0.2.10"), ("[2001:db8::1]", "2001:db8::1"), ("localhost", "localhost")],
)
def test_ip_addresses(session_factory: Factory, host: str, stored: str) -> None:
    with transaction(session_factory) as session:
        device = create_device(session, name="d", kind="ip", host=host, port=502)
        assert device.host == stored


@pytest.mark.parametrize(
    ("arguments", "field", "words"),
    [
        ({"kind": "modem"}, "phone_number", "needs the phone number"),
        ({"kind": "modem", "phone_number": "  "}, "phone_number", "needs the phone number"),
        ({"kind": "modem", "phone_number": "12ab34"}, "phone_number", "digits"),
        ({"kind": "modem", "phone_number": "12"}, "phone_number", "digits"),
        ({"kind": "modem", "phone_number": "1+23456"}, "phone_number", "digits"),
        ({"kind": "modem", "phone_number": "123456", "port": 1}, "port", "does not apply"),
        ({"kind": "ip", "host": "10.0.0.1"}, "port", "needs a TCP port"),
        ({"kind": "ip", "host": "10.0.0.1", "port": 0}, "port", "at least 1"),
        ({"kind": "ip", "host": "10.0.0.1", "port": 65536}, "port", "at most 65535"),
        ({"kind": "ip", "host": "10.0.0.1", "port": "4059"}, "port", "whole number"),
        ({"kind": "ip", "host": "10.0.0.1", "port": True}, "port", "whole number"),
        ({"kind": "ip", "port": 4059}, "host", "needs a host"),
        ({"kind": "ip", "host": "bad host!", "port": 4059}, "host", "IP address or a host name"),
        ({"kind": "ip", "host": "300.1.1.1", "port": 4059}, "host", "IP address or a host name"),
        (
            {"kind": "ip", "host": "h", "port": 1, "phone_number": "123"},
            "phone_number",
            "does not apply",
        ),
        ({"kind": "serial"}, "serial_port", "needs a port name"),
        ({"kind": "serial", "serial_port": "tty 0"}, "serial_port", "port name"),
        ({"kind": "serial", "serial_port": "COM3", "baud_rate": 1234}, "baud_rate", "9600"),
        ({"kind": "serial", "serial_port": "COM3", "host": "h"}, "host", "does not apply"),
        ({"kind": "radio"}, "kind", "modem, ip, serial"),
        ({"kind": "serial", "serial_port": "COM3", "name": ""}, "name", "empty"),
        ({"kind": "serial", "serial_port": "COM3", "settings": {"x": {1}}}, "settings.x", "JSON"),
    ],
)
def test_device_bad_input(
    session_factory: Factory, arguments: dict[str, Any], field: str, words: str
) -> None:
    call: dict[str, Any] = {"name": "New device"} | arguments
    error = refused(session_factory, InvalidValue, field, lambda s: create_device(s, **call))
    assert words in str(error)


def test_duplicate_device_name(
    session_factory: Factory, devices: dict[str, CommunicationDevice]
) -> None:
    error = refused(
        session_factory,
        Conflict,
        "name",
        lambda s: create_device(s, name="GSM 1", kind="serial", serial_port="COM1"),
    )
    assert "a modem device named 'GSM 1' exists" in str(error)


@pytest.mark.parametrize(
    "values",
    [
        {"kind": "modem"},
        {"kind": "ip", "host": "h"},
        {"kind": "ip", "host": "h", "port": 70000},
        {"kind": "serial"},
        {"kind": "other", "serial_port": "COM1"},
        {"kind": "serial", "serial_port": "COM1", "baud_rate": 0},
    ],
)
def test_database_enforces_device_rules(session_factory: Factory, values: dict[str, Any]) -> None:
    with pytest.raises(IntegrityError):
        with transaction(session_factory) as session:
            session.add(CommunicationDevice(name="raw", **values))
            session.flush()


# -- paths -------------------------------------------------------------------------------------


def test_paths_in_priority_order(
    session_factory: Factory, meter: Meter, devices: dict[str, CommunicationDevice]
) -> None:
    with transaction(session_factory) as session:
        backup = add_path(session, meter, devices["modem"], 2, "17")
        main = add_path(session, meter, devices["ip"], 1, 17, settings={"timeout": 5})
        add_path(session, meter, devices["serial"], 5)
    with transaction(session_factory) as session:
        paths = paths_for(session, meter)
        assert [(p.priority, p.device.name, p.address) for p in paths] == [
            (1, "Router", "17"),
            (2, "GSM 1", "17"),
            (5, "Optical head", None),
        ]
        assert paths[0].id == main.id and paths[0].settings == {"timeout": 5}
        remove_path(session, backup)
    with transaction(session_factory) as session:
        assert [p.priority for p in paths_for(session, meter)] == [1, 5]


@pytest.mark.parametrize(
    ("arguments", "error", "field", "words"),
    [
        ({"priority": 1}, Conflict, "priority", "already has a path with priority 1"),
        ({"priority": 0}, InvalidValue, "priority", "at least 1"),
        ({"priority": "2"}, InvalidValue, "priority", "whole number"),
        ({"priority": 2, "address": "a" * 65}, InvalidValue, "address", "at most 64"),
        ({"priority": 2, "settings": [1]}, InvalidValue, "settings", "mapping"),
        ({"priority": 2, "device": None}, InvalidValue, "device", "required"),
        ({"priority": 2, "meter": "ISK 1"}, InvalidValue, "meter", "must be a Meter"),
    ],
)
def test_path_bad_input(
    session_factory: Factory,
    meter: Meter,
    devices: dict[str, CommunicationDevice],
    arguments: dict[str, Any],
    error: type[Exception],
    field: str,
    words: str,
) -> None:
    with transaction(session_factory) as session:
        add_path(session, meter, devices["ip"], 1)
    call: dict[str, Any] = {"meter": meter, "device": devices["modem"]} | arguments
    refused_error = refused(session_factory, error, field, lambda s: add_path(s, **call))
    assert words in str(refused_error)


def test_database_enforces_one_path_per_priority(
    session_factory: Factory, meter: Meter, devices: dict[str, CommunicationDevice]
) -> None:
    with transaction(session_factory) as session:
        add_path(session, meter, devices["ip"], 1)
    for priority in (1, 0):
        with pytest.raises(IntegrityError):
            with transaction(session_factory) as session:
                session.add(
                    CommunicationPath(
                        meter_id=meter.id, device_id=devices["modem"].id, priority=priority
                    )
                )
                session.flush()
