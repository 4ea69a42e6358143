"""Operations on physical meters: creation, encrypted credentials, assignment to virtual meters.

An assignment gives the period ``[valid_from, valid_to)`` during which a meter served a virtual
meter. :func:`assign_meter` is also the **meter exchange**: assigning a new meter to a virtual
meter closes the current assignment at the new one's ``valid_from``, so the history shows which
meter delivered the data of every instant. At any instant a virtual meter has at most one meter
and a meter serves at most one virtual meter; an operation that would break either rule raises
:class:`~meterhub.errors.Conflict` and writes nothing.

**Secrets.** A meter's credentials (passwords, keys) live only in the encrypted credential
store (:func:`set_credentials`). Each driver declares which of its settings are secrets, with
their encoding and sizes (:attr:`meterhub.extensions.driver.DriverInfo.secrets`);
:func:`create_meter` refuses them in plain ``driver_settings`` — so a password is never stored or
audited in clear — and :func:`set_credentials` checks each secret against its declaration. Pass
the loaded drivers (``runtime.plugins.drivers()``) as ``drivers``; without them a setting whose
name looks like a credential (``password``, ``*_key``, ``secret``, ``token``, ``system_title``) is
refused all the same.

Like every inventory operation these validate first, flush, and never commit.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from meterhub.credentials import CredentialCipher
from meterhub.errors import Conflict, InvalidValue
from meterhub.extensions.driver import Driver
from meterhub.extensions.settings import SecretSpec
from meterhub.inventory.common import (
    UNSET,
    Unset,
    check_instant,
    check_name,
    clean_settings,
    delete_unreferenced,
    flush,
    in_session,
    optional_text,
)
from meterhub.model.metering import VirtualMeter
from meterhub.model.meters import Meter, MeterAssignment

__all__ = [
    "assign_meter",
    "assignment_history",
    "change_meter",
    "create_meter",
    "delete_meter",
    "declared_secrets",
    "meter_at",
    "meter_history",
    "count_encrypted_credentials",
    "read_credentials",
    "reencrypt_credentials",
    "set_credentials",
    "unassign_meter",
]

_DRIVER_NAME = re.compile(r"[a-z][a-z0-9_]*")
_SECRET_NAME = re.compile(r"[a-z][a-z0-9_]*")
#: Setting names that are credentials when no driver declaration says otherwise.
_SECRET_LOOKING = re.compile(
    r"password|passwd|passphrase|secret|token|system_title|(^|_)key$", re.IGNORECASE
)

#: The loaded drivers by name (``runtime.plugins.drivers()``), or just their names.
Drivers = Mapping[str, type[Driver]] | Collection[str]


def declared_secrets(driver: str, drivers: Drivers | None) -> Mapping[str, SecretSpec] | None:
    """The secrets driver ``driver`` declares, or ``None`` when its declaration is not at hand."""
    if not isinstance(drivers, Mapping) or driver not in drivers:
        return None
    return drivers[driver].info().secrets


def _refuse_secrets(driver: str, settings: Mapping[str, Any], drivers: Drivers | None) -> None:
    declared = declared_secrets(driver, drivers)
    for key in settings:
        secret = key in declared if declared is not None else bool(_SECRET_LOOKING.search(key))
        if secret:
            # Only the name is shown, never the value.
            raise InvalidValue(
                f"driver_settings.{key}",
                f"is a credential of driver {driver!r}: set it with the meter's credentials "
                "(stored encrypted), not in driver_settings",
            )


def _describe(meter: Meter) -> str:
    return f"meter {meter.manufacturer} {meter.serial_number}"


def create_meter(
    session: Session,
    *,
    manufacturer: str,
    serial_number: str,
    driver: str,
    model: str | None = None,
    driver_settings: Mapping[str, Any] | None = None,
    enabled: bool = True,
    drivers: Drivers | None = None,
) -> Meter:
    """Create a physical meter; the serial number is unique per manufacturer.

    ``driver`` is a driver's short name (``dlms``, ``modbus``, ``iec62056_21``, ``simulated``:
    lowercase letters, digits, ``_``); when ``drivers`` is given (the names of the loaded
    drivers, or the loaded driver classes by name) it must be one of them. ``driver_settings`` is
    a JSON object for the driver; a setting the driver declares secret is refused there (see
    the module docstring). Credentials are set separately with :func:`set_credentials`.
    """
    manufacturer = check_name(manufacturer, field="manufacturer", max_length=64)
    serial_number = check_name(serial_number, field="serial_number", max_length=64)
    model = optional_text(model, field="model", max_length=64)
    driver = check_name(driver, field="driver", max_length=64)
    if not _DRIVER_NAME.fullmatch(driver):
        raise InvalidValue(
            "driver", f"a driver name has lowercase letters, digits and _ only, not {driver!r}"
        )
    if drivers is not None and driver not in drivers:
        known = ", ".join(sorted(drivers)) or "none"
        raise InvalidValue("driver", f"no driver {driver!r} is installed (installed: {known})")
    settings = clean_settings(
        dict(driver_settings) if isinstance(driver_settings, Mapping) else driver_settings,
        "driver_settings",
    )
    _refuse_secrets(driver, settings, drivers)
    if not isinstance(enabled, bool):
        raise InvalidValue("enabled", f"must be true or false, not {enabled!r}")
    clash = session.scalars(
        select(Meter).where(
            Meter.manufacturer == manufacturer, Meter.serial_number == serial_number
        )
    ).first()
    if clash is not None:
        raise Conflict(
            "serial_number",
            f"{manufacturer} already has a meter with serial number {serial_number} "
            f"(id {clash.id})",
        )
    meter = Meter(
        manufacturer=manufacturer,
        serial_number=serial_number,
        model=model,
        driver=driver,
        driver_settings=settings,
        credentials_encrypted=None,
        enabled=enabled,
    )
    session.add(meter)
    flush(session, field="serial_number")
    return meter


# -- credentials -------------------------------------------------------------------------------


def _check_secrets(
    secrets: Mapping[str, str], driver: str, declared: Mapping[str, SecretSpec] | None
) -> dict[str, str]:
    if not isinstance(secrets, Mapping):
        raise InvalidValue("credentials", "must be a mapping of names to secret values")
    checked: dict[str, str] = {}
    for name, value in secrets.items():
        if not isinstance(name, str) or not _SECRET_NAME.fullmatch(name):
            raise InvalidValue(
                "credentials", f"a secret name has lowercase letters, digits and _, not {name!r}"
            )
        field = f"credentials.{name}"
        if not isinstance(value, str) or not value:
            # The value itself is never put in a message.
            raise InvalidValue(field, "must be non-empty text")
        if declared is not None:
            spec = declared.get(name)
            if spec is None:
                known = ", ".join(sorted(declared)) or "none"
                raise InvalidValue(
                    field, f"driver {driver!r} declares no secret {name!r} (its secrets: {known})"
                )
            parsed = spec.check(value, field)
            value = parsed.hex().upper() if isinstance(parsed, bytes) else parsed
        checked[name] = value
    return checked


def set_credentials(
    session: Session,
    meter: Meter,
    cipher: CredentialCipher,
    secrets: Mapping[str, str],
    *,
    drivers: Drivers | None = None,
) -> Meter:
    """Replace the secrets of ``meter`` with ``secrets``, stored only encrypted by ``cipher``.

    Names are lowercase identifiers. With ``drivers`` (the loaded driver classes by name) each
    name must be a secret the meter's driver declares and its value is checked against the
    declaration (a hex key of the declared sizes is stored as upper-case hex); without them the
    values are stored as given. An empty mapping removes the credentials. Error messages never
    contain a secret.
    """
    meter = in_session(session, meter, "meter", Meter)
    if not isinstance(cipher, CredentialCipher):
        raise InvalidValue("cipher", "must be a CredentialCipher")
    checked = _check_secrets(secrets, meter.driver, declared_secrets(meter.driver, drivers))
    meter.credentials_encrypted = cipher.encrypt(checked) if checked else None
    flush(session, field="credentials")
    return meter


def reencrypt_credentials(session: Session, cipher: CredentialCipher) -> int:
    """Encrypt every meter's credentials again with ``cipher``'s current key; return how many.

    ``cipher`` must still hold the old key among its decryption keys. One call is one step of
    a key rotation (``meterhub credentials rotate``): everything is re-encrypted in the caller's
    transaction, so a failure leaves every token as it was.
    """
    if not isinstance(cipher, CredentialCipher):
        raise InvalidValue("cipher", "must be a CredentialCipher")
    count = 0
    for meter in session.scalars(
        select(Meter).where(Meter.credentials_encrypted.is_not(None)).order_by(Meter.id)
    ):
        assert meter.credentials_encrypted is not None
        meter.credentials_encrypted = cipher.encrypt(cipher.decrypt(meter.credentials_encrypted))
        count += 1
    flush(session, field="credentials")
    return count


def count_encrypted_credentials(session: Session) -> int:
    """How many meters have encrypted credentials (they need the credential key to be read)."""
    return len(
        session.scalars(select(Meter.id).where(Meter.credentials_encrypted.is_not(None))).all()
    )


def read_credentials(meter: Meter, cipher: CredentialCipher) -> dict[str, str]:
    """The secrets of ``meter`` decrypted with ``cipher`` (empty when it has none).

    :raises meterhub.credentials.CredentialError: the key is not the one they were stored with,
        or the stored token is damaged.
    """
    if meter.credentials_encrypted is None:
        return {}
    return cipher.decrypt(meter.credentials_encrypted)


# -- assignments (meter exchange) --------------------------------------------------------------


def _overlapping(
    session: Session, column: Any, owner_id: int, start: datetime
) -> list[MeterAssignment]:
    """Assignments of the owner (a virtual meter or meter) still running at or after ``start``."""
    return list(
        session.scalars(
            select(MeterAssignment)
            .where(
                column == owner_id,
                or_(MeterAssignment.valid_to.is_(None), MeterAssignment.valid_to > start),
            )
            .order_by(MeterAssignment.valid_from)
        )
    )


def _lock(session: Session, *objects: Any) -> None:
    """Lock the rows of ``objects`` until the transaction ends (where the database can).

    Two transactions assigning the same virtual meter or meter at once then run one after the
    other, so both see each other's periods. SQLite locks the whole database on write anyway.
    """
    for obj in objects:
        kind = type(obj)
        session.execute(select(kind.id).where(kind.id == obj.id).with_for_update())


def _period(start: datetime, end: datetime | None) -> str:
    return f"{start.isoformat()} to {end.isoformat() if end else 'now'}"


def assign_meter(
    session: Session, virtual_meter: VirtualMeter, meter: Meter, valid_from: datetime
) -> MeterAssignment:
    """Let ``meter`` serve ``virtual_meter`` from ``valid_from`` (aware) on, open-ended.

    If another meter serves the virtual meter at ``valid_from`` (its assignment open and begun
    before), that assignment is closed at ``valid_from``: a meter exchange. Refused with a
    :class:`~meterhub.errors.Conflict` when the virtual meter has any other assignment running
    at or after ``valid_from`` (history is appended, not rewritten), or when ``meter`` serves
    any virtual meter at or after ``valid_from`` (end that assignment first with
    :func:`unassign_meter`).
    """
    virtual_meter = in_session(session, virtual_meter, "virtual_meter", VirtualMeter)
    meter = in_session(session, meter, "meter", Meter)
    valid_from = check_instant(valid_from, field="valid_from")
    _lock(session, virtual_meter, meter)

    to_close: MeterAssignment | None = None
    for current in _overlapping(
        session, MeterAssignment.virtual_meter_id, virtual_meter.id, valid_from
    ):
        if current.valid_to is None and current.valid_from < valid_from and to_close is None:
            if current.meter_id == meter.id:
                raise Conflict(
                    "meter",
                    f"{_describe(meter)} already serves virtual meter {virtual_meter.name!r} "
                    f"since {current.valid_from.isoformat()}",
                )
            to_close = current
            continue
        raise Conflict(
            "valid_from",
            f"virtual meter {virtual_meter.name!r} has meter {_describe(current.meter)} from "
            f"{_period(current.valid_from, current.valid_to)}, which is not before "
            f"{valid_from.isoformat()}; assignments are added in time order",
        )
    for busy in _overlapping(session, MeterAssignment.meter_id, meter.id, valid_from):
        raise Conflict(
            "meter",
            f"{_describe(meter)} serves virtual meter {busy.virtual_meter.name!r} from "
            f"{_period(busy.valid_from, busy.valid_to)}; a meter serves one virtual meter at a "
            "time (end that assignment first)",
        )

    if to_close is not None:
        to_close.valid_to = valid_from
    assignment = MeterAssignment(
        virtual_meter=virtual_meter, meter=meter, valid_from=valid_from, valid_to=None
    )
    session.add(assignment)
    flush(session, field="valid_from")
    return assignment


def unassign_meter(
    session: Session, virtual_meter: VirtualMeter, valid_to: datetime
) -> MeterAssignment:
    """End the current assignment of ``virtual_meter`` at ``valid_to`` (a meter removed).

    :raises InvalidValue: the virtual meter has no open assignment.
    :raises Conflict: ``valid_to`` is not after the start of that assignment.
    """
    virtual_meter = in_session(session, virtual_meter, "virtual_meter", VirtualMeter)
    valid_to = check_instant(valid_to, field="valid_to")
    _lock(session, virtual_meter)
    current = session.scalars(
        select(MeterAssignment).where(
            MeterAssignment.virtual_meter_id == virtual_meter.id,
            MeterAssignment.valid_to.is_(None),
        )
    ).first()
    if current is None:
        raise InvalidValue(
            "virtual_meter", f"virtual meter {virtual_meter.name!r} has no meter assigned"
        )
    if valid_to <= current.valid_from:
        raise Conflict(
            "valid_to",
            f"must be after {current.valid_from.isoformat()}, when {_describe(current.meter)} "
            f"began to serve virtual meter {virtual_meter.name!r}",
        )
    current.valid_to = valid_to
    flush(session, field="valid_to")
    return current


def meter_at(session: Session, virtual_meter: VirtualMeter, instant: datetime) -> Meter | None:
    """The meter that served ``virtual_meter`` at ``instant`` (aware), ``None`` if none did."""
    virtual_meter = in_session(session, virtual_meter, "virtual_meter", VirtualMeter)
    instant = check_instant(instant, field="instant")
    return session.scalars(
        select(Meter)
        .join(MeterAssignment, MeterAssignment.meter_id == Meter.id)
        .where(
            MeterAssignment.virtual_meter_id == virtual_meter.id,
            MeterAssignment.valid_from <= instant,
            or_(MeterAssignment.valid_to.is_(None), MeterAssignment.valid_to > instant),
        )
    ).first()


def assignment_history(session: Session, virtual_meter: VirtualMeter) -> list[MeterAssignment]:
    """The assignments of ``virtual_meter`` in time order: which meter, from when, until when."""
    virtual_meter = in_session(session, virtual_meter, "virtual_meter", VirtualMeter)
    return list(
        session.scalars(
            select(MeterAssignment)
            .where(MeterAssignment.virtual_meter_id == virtual_meter.id)
            .order_by(MeterAssignment.valid_from)
        )
    )


def meter_history(session: Session, meter: Meter) -> list[MeterAssignment]:
    """The assignments of ``meter`` in time order: which virtual meters it served, when."""
    meter = in_session(session, meter, "meter", Meter)
    return list(
        session.scalars(
            select(MeterAssignment)
            .where(MeterAssignment.meter_id == meter.id)
            .order_by(MeterAssignment.valid_from)
        )
    )


# -- changing and deleting ---------------------------------------------------------------------


def change_meter(
    session: Session,
    meter: Meter,
    *,
    model: str | None | Unset = UNSET,
    driver_settings: Mapping[str, Any] | Unset = UNSET,
    drivers: Drivers | None = None,
) -> Meter:
    """Change a meter's model or driver settings (secrets are refused there, as on creation).

    Manufacturer, serial number and driver identify the device and stay.
    """
    meter = in_session(session, meter, "meter", Meter)
    if not isinstance(model, Unset):
        model = optional_text(model, field="model", max_length=64)
    if not isinstance(driver_settings, Unset):
        settings = clean_settings(
            dict(driver_settings) if isinstance(driver_settings, Mapping) else driver_settings,
            "driver_settings",
        )
        _refuse_secrets(meter.driver, settings, drivers)
        meter.driver_settings = settings
    if not isinstance(model, Unset):
        meter.model = model
    flush(session, field="driver_settings")
    return meter


def delete_meter(session: Session, meter: Meter) -> None:
    """Delete a meter that never served a virtual meter and has no communication paths."""
    meter = in_session(session, meter, "meter", Meter)
    delete_unreferenced(session, meter, _describe(meter), field="meter")
