"""Physical meters: creation, encrypted credentials, assignments and the meter exchange."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from tree_helpers import refused

from meterhub.credentials import CredentialCipher, CredentialError, generate_key
from meterhub.db import transaction
from meterhub.errors import Conflict, InvalidValue
from meterhub.inventory.metering import create_metering_point, create_virtual_meter
from meterhub.inventory.meters import (
    assign_meter,
    assignment_history,
    create_meter,
    meter_at,
    meter_history,
    read_credentials,
    reencrypt_credentials,
    set_credentials,
    unassign_meter,
)
from meterhub.model.audit import AuditLog
from meterhub.model.elements import Element
from meterhub.model.metering import VirtualMeter
from meterhub.model.meters import Meter, MeterAssignment
from meterhub.model.templates import Template
from meterhub.plugins.drivers.dlms.driver import DlmsDriver
from meterhub.plugins.drivers.iec62056_21.driver import IecDriver

Factory = sessionmaker[Session]

START = datetime(2020, 1, 1, tzinfo=UTC)
T1 = datetime(2024, 1, 1, tzinfo=UTC)
T2 = datetime(2025, 3, 15, 10, 30, tzinfo=UTC)
T3 = datetime(2026, 6, 1, tzinfo=UTC)

#: The loaded drivers, as the runtime's plugin host gives them: their secret declarations count.
DRIVERS = {"dlms": DlmsDriver, "iec62056_21": IecDriver}

SECRETS = {
    "password": "LowLevelPass9",
    "authentication_key": "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF",
    "block_cipher_key": "000102030405060708090A0B0C0D0E0F",
    "system_title": "4D4D4D0000BC614E",
}


@pytest.fixture
def virtual_meters(session_factory: Factory) -> list[VirtualMeter]:
    with transaction(session_factory) as session:
        template = Template(name="consumer", kind="consumer")
        element = Element(template=template, name="Consumer", valid_from=START)
        session.add(element)
        point = create_metering_point(session, element=element, name="MP")
        return [
            create_virtual_meter(session, metering_point=point, name=name) for name in ("A", "B")
        ]


@pytest.fixture
def meters(session_factory: Factory) -> list[Meter]:
    with transaction(session_factory) as session:
        return [
            create_meter(session, manufacturer="LGZ", serial_number=f"7000{n}", driver="dlms")
            for n in range(3)
        ]


_KEYS: dict[str, bytes] = {}


@pytest.fixture
def cipher() -> CredentialCipher:
    key = generate_key()
    made = CredentialCipher(key)
    _KEYS[made.key_id] = key
    return made


def cipher_key(cipher: CredentialCipher) -> bytes:
    """The key of a cipher made by the fixture (a cipher never shows its key)."""
    return _KEYS[cipher.key_id]


# -- meters ------------------------------------------------------------------------------------


def test_create_meter(session_factory: Factory) -> None:
    with transaction(session_factory) as session:
        meter = create_meter(
            session,
            manufacturer=" Landis+Gyr ",
            serial_number="12345678",
            model="E450",
            driver="dlms",
            driver_settings={"client_address": 16, "server_address": 1, "wrapper": True},
            drivers={"dlms", "modbus"},
        )
    with transaction(session_factory) as session:
        stored = session.get(Meter, meter.id)
        assert stored is not None
        assert (stored.manufacturer, stored.serial_number, stored.model) == (
            "Landis+Gyr",
            "12345678",
            "E450",
        )
        assert stored.driver_settings == {
            "client_address": 16,
            "server_address": 1,
            "wrapper": True,
        }
        assert stored.credentials_encrypted is None and stored.enabled is True


def test_same_serial_number_other_manufacturer(
    session_factory: Factory, meters: list[Meter]
) -> None:
    with transaction(session_factory) as session:
        create_meter(session, manufacturer="ISK", serial_number="70000", driver="modbus")


@pytest.mark.parametrize(
    ("changes", "error", "field", "words"),
    [
        ({"serial_number": "70001"}, Conflict, "serial_number", "LGZ already has a meter"),
        ({"serial_number": ""}, InvalidValue, "serial_number", "empty"),
        ({"manufacturer": None}, InvalidValue, "manufacturer", "text"),
        ({"driver": "DLMS"}, InvalidValue, "driver", "lowercase"),
        ({"driver": "dlms-2"}, InvalidValue, "driver", "lowercase"),
        ({"drivers": {"modbus"}}, InvalidValue, "driver", "installed: modbus"),
        ({"driver_settings": ["x"]}, InvalidValue, "driver_settings", "mapping"),
        ({"driver_settings": {"when": START}}, InvalidValue, "driver_settings.when", "JSON"),
        ({"driver_settings": {"a": {1: 2}}}, InvalidValue, "driver_settings.a", "keys"),
        ({"model": "m" * 65}, InvalidValue, "model", "at most 64"),
        ({"enabled": 1}, InvalidValue, "enabled", "true or false"),
    ],
)
def test_meter_bad_input(
    session_factory: Factory,
    meters: list[Meter],
    changes: dict[str, Any],
    error: type[Exception],
    field: str,
    words: str,
) -> None:
    arguments: dict[str, Any] = {
        "manufacturer": "LGZ",
        "serial_number": "999",
        "driver": "dlms",
    } | changes
    refused_error = refused(session_factory, error, field, lambda s: create_meter(s, **arguments))
    assert words in str(refused_error)


def test_database_enforces_unique_serial_number(
    session_factory: Factory, meters: list[Meter]
) -> None:
    with pytest.raises(IntegrityError):
        with transaction(session_factory) as session:
            session.add(Meter(manufacturer="LGZ", serial_number="70000", driver="x"))
            session.flush()


# -- credentials -------------------------------------------------------------------------------


def _raw_credentials(session: Session, meter_id: int) -> bytes:
    value = session.execute(
        text("SELECT credentials_encrypted FROM meter WHERE id = :id"), {"id": meter_id}
    ).scalar_one()
    return bytes(value)


def test_credentials_are_stored_only_encrypted(
    session_factory: Factory, meters: list[Meter], cipher: CredentialCipher
) -> None:
    meter = meters[0]
    with transaction(session_factory, user="dave") as session:
        set_credentials(
            session,
            meter,
            cipher,
            SECRETS | {"system_title": "4d4d 4d00 00bc 614e"},
            drivers=DRIVERS,
        )
    with transaction(session_factory) as session:
        raw = _raw_credentials(session, meter.id)
        assert raw[:1] == b"\x01"  # a token of format 1, nothing else
        for name, value in SECRETS.items():
            assert value.encode() not in raw
            assert value.lower().encode() not in raw
            if name != "password":
                assert bytes.fromhex(value) not in raw
        stored = session.get(Meter, meter.id)
        assert stored is not None
        assert read_credentials(stored, cipher) == SECRETS
        # The audit log records that they changed, never what they are.
        values = session.scalars(
            select(AuditLog.new_value).where(AuditLog.attribute == "credentials_encrypted")
        ).all()
        assert values == ["(changed)"]
        everything = " ".join(
            str(v)
            for row in session.execute(select(AuditLog.old_value, AuditLog.new_value))
            for v in row
        )
        assert all(value not in everything for value in SECRETS.values())


def test_credentials_with_the_wrong_key(
    session_factory: Factory, meters: list[Meter], cipher: CredentialCipher
) -> None:
    with transaction(session_factory) as session:
        meter = set_credentials(session, meters[0], cipher, {"password": "x1"})
    with pytest.raises(CredentialError, match="another key"):
        read_credentials(meter, CredentialCipher(generate_key()))


def test_credentials_replaced_and_removed(
    session_factory: Factory, meters: list[Meter], cipher: CredentialCipher
) -> None:
    with transaction(session_factory) as session:
        set_credentials(session, meters[0], cipher, SECRETS)
        meter = set_credentials(session, meters[0], cipher, {"password": "new"})
        assert read_credentials(meter, cipher) == {"password": "new"}
        meter = set_credentials(session, meter, cipher, {})
        assert meter.credentials_encrypted is None
        assert read_credentials(meter, cipher) == {}


@pytest.mark.parametrize(
    ("secrets", "field", "words"),
    [
        ({"block_cipher_key": "0011"}, "credentials.block_cipher_key", "32 hex digits"),
        ({"authentication_key": "Z" * 32}, "credentials.authentication_key", "hex digits"),
        ({"system_title": "4D4D4D0000BC61"}, "credentials.system_title", "16 hex digits"),
        ({"password": ""}, "credentials.password", "non-empty"),
        ({"password": 1234}, "credentials.password", "non-empty"),
        ({"Pass Word": "x"}, "credentials", "lowercase"),
        ({"pin": "1234"}, "credentials.pin", "declares no secret 'pin'"),
        (["password"], "credentials", "mapping"),
    ],
)
def test_bad_credentials(
    session_factory: Factory,
    meters: list[Meter],
    cipher: CredentialCipher,
    secrets: Any,
    field: str,
    words: str,
) -> None:
    with transaction(session_factory) as session:
        set_credentials(session, meters[0], cipher, {"password": "kept"})
    error = refused(
        session_factory,
        InvalidValue,
        field,
        lambda s: set_credentials(s, meters[0], cipher, secrets, drivers=DRIVERS),
    )
    assert words in str(error)
    if isinstance(secrets, dict):
        for value in secrets.values():
            if isinstance(value, str) and value:
                assert value not in str(error)
    with transaction(session_factory) as session:
        stored = session.get(Meter, meters[0].id)
        assert stored is not None and read_credentials(stored, cipher) == {"password": "kept"}


def test_set_credentials_needs_a_cipher(session_factory: Factory, meters: list[Meter]) -> None:
    refused(
        session_factory,
        InvalidValue,
        "cipher",
        lambda s: set_credentials(s, meters[0], generate_key(), {"password": "x"}),  # type: ignore[arg-type]
    )


# -- assignments and the meter exchange --------------------------------------------------------


def test_meter_exchange_keeps_history(
    session_factory: Factory, virtual_meters: list[VirtualMeter], meters: list[Meter]
) -> None:
    vm, old, new = virtual_meters[0], meters[0], meters[1]
    with transaction(session_factory) as session:
        first = assign_meter(session, vm, old, T1)
        assert (first.valid_from, first.valid_to) == (T1, None)
    with transaction(session_factory, user="fitter") as session:
        second = assign_meter(session, vm, new, T2)  # the exchange
    with transaction(session_factory) as session:
        history = assignment_history(session, vm)
        assert [(a.meter_id, a.valid_from, a.valid_to) for a in history] == [
            (old.id, T1, T2),
            (new.id, T2, None),
        ]
        assert history[1].id == second.id
        assert meter_at(session, vm, T1 - timedelta(seconds=1)) is None
        assert meter_at(session, vm, T1).id == old.id
        assert meter_at(session, vm, T2 - timedelta(microseconds=1)).id == old.id
        assert meter_at(session, vm, T2).id == new.id
        assert meter_at(session, vm, T3).id == new.id
        # The same instant in another zone is the same instant.
        cet = timezone(timedelta(hours=1))
        assert meter_at(session, vm, T2.astimezone(cet)).id == new.id
        assert [a.virtual_meter_id for a in meter_history(session, old)] == [vm.id]
        # The exchange is audited: the old assignment was closed by the fitter.
        closed = session.scalars(
            select(AuditLog).where(
                AuditLog.object_type == "meter_assignment",
                AuditLog.attribute == "valid_to",
                AuditLog.changed_by == "fitter",
            )
        ).all()
        assert len(closed) == 1 and closed[0].new_value is not None


def test_meter_moves_to_another_virtual_meter_after_removal(
    session_factory: Factory, virtual_meters: list[VirtualMeter], meters: list[Meter]
) -> None:
    a, b = virtual_meters
    meter = meters[0]
    with transaction(session_factory) as session:
        assign_meter(session, a, meter, T1)
        unassign_meter(session, a, T2)
        assign_meter(session, b, meter, T2)
        assert meter_at(session, a, T2) is None
        assert meter_at(session, b, T2).id == meter.id
        assert [(x.virtual_meter_id, x.valid_to) for x in meter_history(session, meter)] == [
            (a.id, T2),
            (b.id, None),
        ]


@pytest.mark.parametrize(
    ("setup", "action", "error", "field", "words"),
    [
        # A meter serves one virtual meter at a time.
        (
            lambda s, vm, m: assign_meter(s, vm[0], m[0], T1),
            lambda s, vm, m: assign_meter(s, vm[1], m[0], T2),
            Conflict,
            "meter",
            "serves virtual meter 'A'",
        ),
        # ... also when its (closed) assignment ends after the new start.
        (
            lambda s, vm, m: (assign_meter(s, vm[0], m[0], T1), unassign_meter(s, vm[0], T3)),
            lambda s, vm, m: assign_meter(s, vm[1], m[0], T2),
            Conflict,
            "meter",
            "one virtual meter at a time",
        ),
        # History is appended: no assignment before or at the start of the current one.
        (
            lambda s, vm, m: assign_meter(s, vm[0], m[0], T2),
            lambda s, vm, m: assign_meter(s, vm[0], m[1], T1),
            Conflict,
            "valid_from",
            "in time order",
        ),
        (
            lambda s, vm, m: assign_meter(s, vm[0], m[0], T2),
            lambda s, vm, m: assign_meter(s, vm[0], m[1], T2),
            Conflict,
            "valid_from",
            "not before",
        ),
        (
            lambda s, vm, m: (
                assign_meter(s, vm[0], m[0], T1),
                assign_meter(s, vm[0], m[1], T3),
            ),
            lambda s, vm, m: assign_meter(s, vm[0], m[2], T2),
            Conflict,
            "valid_from",
            "not before",
        ),
        # The meter already serves this virtual meter.
        (
            lambda s, vm, m: assign_meter(s, vm[0], m[0], T1),
            lambda s, vm, m: assign_meter(s, vm[0], m[0], T2),
            Conflict,
            "meter",
            "already serves",
        ),
        (
            lambda s, vm, m: None,
            lambda s, vm, m: assign_meter(s, vm[0], m[0], datetime(2024, 1, 1)),
            InvalidValue,
            "valid_from",
            "no time zone",
        ),
        (
            lambda s, vm, m: None,
            lambda s, vm, m: assign_meter(s, vm[0], m[0], "2024-01-01"),
            InvalidValue,
            "valid_from",
            "date and time",
        ),
        (
            lambda s, vm, m: None,
            lambda s, vm, m: assign_meter(s, vm[0], vm[1], T1),
            InvalidValue,
            "meter",
            "must be a Meter",
        ),
        (
            lambda s, vm, m: None,
            lambda s, vm, m: unassign_meter(s, vm[0], T1),
            InvalidValue,
            "virtual_meter",
            "no meter assigned",
        ),
        (
            lambda s, vm, m: assign_meter(s, vm[0], m[0], T2),
            lambda s, vm, m: unassign_meter(s, vm[0], T2),
            Conflict,
            "valid_to",
            "must be after",
        ),
    ],
)
def test_assignment_refused(
    session_factory: Factory,
    virtual_meters: list[VirtualMeter],
    meters: list[Meter],
    setup: Callable[..., Any],
    action: Callable[..., Any],
    error: type[Exception],
    field: str,
    words: str,
) -> None:
    with transaction(session_factory) as session:
        setup(session, virtual_meters, meters)
    with transaction(session_factory) as session:
        history_before = [
            (a.id, a.valid_from, a.valid_to) for a in session.scalars(select(MeterAssignment))
        ]
    refused_error = refused(
        session_factory, error, field, lambda s: action(s, virtual_meters, meters)
    )
    assert words in str(refused_error)
    with transaction(session_factory) as session:
        history_after = [
            (a.id, a.valid_from, a.valid_to) for a in session.scalars(select(MeterAssignment))
        ]
    assert history_after == history_before


def test_meter_at_needs_an_aware_instant(
    session_factory: Factory, virtual_meters: list[VirtualMeter]
) -> None:
    with transaction(session_factory) as session:
        with pytest.raises(InvalidValue) as info:
            meter_at(session, virtual_meters[0], datetime(2024, 1, 1))
        assert info.value.field == "instant"


def test_database_refuses_an_empty_period(
    session_factory: Factory, virtual_meters: list[VirtualMeter], meters: list[Meter]
) -> None:
    with pytest.raises(IntegrityError):
        with transaction(session_factory) as session:
            session.add(
                MeterAssignment(
                    virtual_meter_id=virtual_meters[0].id,
                    meter_id=meters[0].id,
                    valid_from=T2,
                    valid_to=T1,
                )
            )
            session.flush()


@pytest.mark.parametrize(
    ("driver", "settings", "drivers"),
    [
        ("dlms", {"password": "LowLevelPass9"}, DRIVERS),
        ("dlms", {"authentication_key": SECRETS["authentication_key"]}, DRIVERS),
        ("iec62056_21", {"password": "00000000"}, DRIVERS),
        # Without the drivers' declarations, names that look like credentials are refused too.
        ("acme", {"master_key": "00112233"}, None),
        ("acme", {"api_token": "t0k3n"}, None),
        ("acme", {"Password": "x"}, {"acme"}),
    ],
)
def test_driver_settings_refuse_secrets(
    session_factory: Factory, driver: str, settings: dict[str, str], drivers: Any
) -> None:
    error = refused(
        session_factory,
        InvalidValue,
        f"driver_settings.{next(iter(settings))}",
        lambda s: create_meter(
            s,
            manufacturer="LGZ",
            serial_number="9001",
            driver=driver,
            driver_settings=settings,
            drivers=drivers,
        ),
    )
    assert "credentials" in str(error)
    assert next(iter(settings.values())) not in str(error)


def test_driver_settings_keep_what_is_not_secret(session_factory: Factory) -> None:
    with transaction(session_factory) as session:
        meter = create_meter(
            session,
            manufacturer="LGZ",
            serial_number="9002",
            driver="dlms",
            driver_settings={"authentication": "high", "timeout": "7", "client_address": "1"},
            drivers=DRIVERS,
        )
        assert meter.driver_settings["authentication"] == "high"


def test_reencrypt_credentials_under_a_new_key(
    session_factory: Factory, meters: list[Meter], cipher: CredentialCipher
) -> None:
    with transaction(session_factory) as session:
        set_credentials(session, meters[0], cipher, SECRETS, drivers=DRIVERS)
        set_credentials(session, meters[1], cipher, {"password": "second"}, drivers=DRIVERS)
    new_key = generate_key()
    with transaction(session_factory) as session:
        rotating = CredentialCipher(new_key, old_keys=[cipher_key(cipher)])
        assert reencrypt_credentials(session, rotating) == 2
    only_new = CredentialCipher(new_key)
    with transaction(session_factory) as session:
        first = session.get(Meter, meters[0].id)
        second = session.get(Meter, meters[1].id)
        assert first is not None and second is not None
        assert read_credentials(first, only_new) == SECRETS
        assert read_credentials(second, only_new) == {"password": "second"}
        with pytest.raises(CredentialError, match="another key"):
            read_credentials(first, cipher)
