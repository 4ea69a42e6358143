"""Demo data: a small utility whose consumers are read from simulated meters of every protocol.

``meterhub demo`` starts the protocol simulators that plugins contribute (DLMS/COSEM, Modbus,
IEC 62056-21, ...) on loopback sockets and pseudo-terminals, and registers each simulated meter
in the inventory with the driver, settings and communication path that read it. Everything is
created through the public inventory operations, so the demo exercises the same validation, audit
and license checks as real data. Simulator ports change from run to run: a later start keeps
the data and only points the communication devices at the new addresses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterhub.credentials import CredentialCipher
from meterhub.errors import InvalidValue
from meterhub.extensions.driver import Action, Driver
from meterhub.extensions.metertype import MeterType
from meterhub.extensions.simulator import SimulatedEndpoint
from meterhub.identifiers import eic_check_character, gs1_check_digit
from meterhub.inventory import devices, groups, metering, meters, templates
from meterhub.inventory.elements import create_element
from meterhub.inventory.metertypes import apply_meter_type
from meterhub.model.devices import CommunicationDevice
from meterhub.model.elements import Element
from meterhub.model.groups import MeterGroup
from meterhub.model.jobs import Job
from meterhub.model.metering import Channel
from meterhub.model.meters import Meter, MeterAssignment

DEMO_ROOT = "Demo Utility"
DEMO_GROUP = "All demo meters"
DEMO_MANUFACTURER = "MeterHub Simulator"
DEMO_START = datetime(2026, 1, 1, tzinfo=UTC)
#: The demo's validation profiles (see :func:`demo_vee`) and its day calendar.
DEMO_INGEST_PROFILE = "Demo limits at ingest"
DEMO_NIGHTLY_PROFILE = "Demo nightly validation"
DEMO_CALENDAR = "Demo calendar (CZ)"
#: Profile channels of a meter whose driver reads load profiles: (OBIS, unit).
PROFILE_CHANNELS = (("1-0:1.29.0", "Wh"), ("1-0:3.29.0", "varh"))
#: Register channels of every demo meter.
REGISTER_CHANNELS = (("1-0:1.8.0", "Wh"),)


#: The demo's acquisition jobs by name: each reads the demo meters whose driver offers all of
#: its actions (a load profile only where the meter's virtual meter has profile channels: a heat
#: meter keeps registers and billing storages, not a profile).
DEMO_JOBS: dict[str, list[Any]] = {
    "Demo: load profiles": ["read_load_profile"],
    "Demo: registers": ["read_registers"],
}
#: How often the demo jobs run.
DEMO_RULE = "FREQ=MINUTELY;INTERVAL=5"


@dataclass(frozen=True)
class DemoSummary:
    """What :func:`populate_demo` did."""

    created_meters: int
    updated_devices: int


def demo_eic(number: int) -> str:
    """A valid EIC of a demo measurement point (type letter ``Z``) numbered ``number``."""
    for suffix in range(100):
        base = f"27ZMH-DEMO{number:03d}{suffix:02d}"[:15]
        try:
            return base + eic_check_character(base)
        except InvalidValue:
            continue
    raise InvalidValue("eic", f"no valid demo EIC for number {number}")


def demo_ean(number: int) -> str:
    """A valid EAN-18 of a demo metering point numbered ``number``."""
    body = f"859182400{number:08d}"
    return body + gs1_check_digit(body)


def _root(session: Session) -> Element:
    root = session.scalar(
        select(Element).where(Element.name == DEMO_ROOT, Element.parent_id.is_(None))
    )
    if root is not None:
        return root
    templates.create_template(session, "Utility", kind="top", description="The company")
    templates.create_template(session, "Region", kind="region", description="Grid region")
    templates.create_template(session, "Consumer", kind="consumer", description="A customer site")
    templates.add_attribute(session, "Consumer", "customer_number", "string")
    templates.add_attribute(
        session, "Consumer", "tariff", "choice", choices=["D01", "D02", "C25"], default="D02"
    )
    templates.add_attribute(session, "Consumer", "contracted_kw", "decimal", unit="kW")
    root = create_element(session, template="Utility", name=DEMO_ROOT, valid_from=DEMO_START)
    groups.create_group(session, name=DEMO_GROUP)
    return root


def _device_fields(endpoint: SimulatedEndpoint) -> dict[str, Any]:
    if endpoint.medium == "tcp":
        host, _, port = endpoint.address.rpartition(":")
        return {"kind": "ip", "host": host, "port": int(port)}
    return {"kind": "serial", "serial_port": endpoint.address}


def _point_device(session: Session, name: str, endpoint: SimulatedEndpoint) -> bool:
    """Point an existing demo device at the simulator's current address; True if it changed."""
    device = session.scalar(select(CommunicationDevice).where(CommunicationDevice.name == name))
    if device is None:
        return False
    fields = _device_fields(endpoint)
    changed = False
    for key, value in fields.items():
        if key != "kind" and getattr(device, key) != value:
            setattr(device, key, value)
            changed = True
    return changed


def _region(session: Session, root: Element, name: str) -> Element:
    region = session.scalar(
        select(Element).where(Element.parent_id == root.id, Element.name == name)
    )
    return region or create_element(session, template="Region", name=name, parent=root)


def demo_vee(session: Session, catalog: Any) -> bool:
    """The demo's VEE set-up, once: a Czech day calendar, a profile of limit checks that runs
    at ingest and a nightly profile (gaps, spikes, zero runs, status bits, like days, linear
    interpolation up to 2 hours) scheduled at 02:30 — both on the demo group. ``catalog`` is
    the plugin host; without the VEE plugins licensed, nothing is set up. True if created."""
    from meterhub.inventory.calendars import create_calendar
    from meterhub.inventory.vee import assign_profile, create_profile
    from meterhub.model.vee import ValidationProfile

    if session.scalar(
        select(ValidationProfile).where(ValidationProfile.name == DEMO_INGEST_PROFILE)
    ):
        return False
    needed = {"limits", "negative", "gaps", "spike", "zero_run", "status_bits", "like_day"}
    if not needed <= set(catalog.validators()) or "linear" not in catalog.estimators():
        return False
    create_calendar(session, DEMO_CALENDAR, country="CZ", tz="Europe/Prague")
    at_ingest = create_profile(
        session,
        DEMO_INGEST_PROFILE,
        [
            {"kind": "check", "name": "negative"},
            {"kind": "check", "name": "limits", "parameters": {"min": 0, "max": 100_000}},
        ],
        catalog,
        description="Limit checks inside the ingest transaction",
        at_ingest=True,
    )
    nightly = create_profile(
        session,
        DEMO_NIGHTLY_PROFILE,
        [
            {"kind": "check", "name": "gaps"},
            {"kind": "check", "name": "status_bits"},
            {"kind": "check", "name": "spike", "parameters": {"factor": 5, "min_delta": 100}},
            {"kind": "check", "name": "zero_run", "parameters": {"intervals": 16}},
            {"kind": "check", "name": "like_day", "parameters": {"high": 4}},
            {"kind": "estimate", "name": "linear", "parameters": {"max_gap": 8}},
        ],
        catalog,
        description="The scheduler runs it every night over the last three days",
        calendar=DEMO_CALENDAR,
        schedule="FREQ=DAILY;BYHOUR=2;BYMINUTE=30",
        lookback_days=3,
    )
    for profile in (at_ingest, nightly):
        assign_profile(session, profile, catalog, group=DEMO_GROUP)
    return True


def populate_demo(
    session: Session,
    endpoints: Sequence[SimulatedEndpoint],
    drivers: Mapping[str, type[Driver]],
    cipher: CredentialCipher,
    meter_types: Mapping[str, type[MeterType]] | None = None,
    catalog: Any = None,
) -> DemoSummary:
    """Register every simulated meter of ``endpoints``; on a rerun update their addresses.

    A meter that imitates a known meter type (``endpoint.meter_type`` in ``meter_types``) gets
    the type's medium, channels and model (:func:`~meterhub.inventory.metertypes.apply_meter_type`).
    With ``catalog`` (the plugin host) the demo's validation profiles are set up too.
    """
    root = _root(session)
    if catalog is not None:
        demo_vee(session, catalog)
    group = session.scalars(select(MeterGroup).where(MeterGroup.name == DEMO_GROUP)).one()
    created = updated = 0
    for endpoint in endpoints:
        device_name = f"Line to {endpoint.serial}"
        existing = session.scalar(
            select(Meter).where(
                Meter.manufacturer == DEMO_MANUFACTURER, Meter.serial_number == endpoint.serial
            )
        )
        if existing is not None:
            updated += _point_device(session, device_name, endpoint)
            continue
        created += 1
        number = session.scalar(select(Meter.id).order_by(Meter.id.desc()).limit(1)) or 0
        number += 1
        region = _region(session, root, f"{endpoint.driver.upper()} region")
        consumer = create_element(
            session,
            template="Consumer",
            name=f"Consumer {number:03d}",
            parent=region,
            attributes={"customer_number": f"C-{number:06d}", "contracted_kw": 10 + number % 7},
        )
        meter_type = (meter_types or {}).get(endpoint.meter_type)
        point = metering.create_metering_point(
            session,
            element=consumer,
            name="Main supply",
            eic=demo_eic(number),
            ean=demo_ean(number),
            metering_code=f"MP{number:06d}",
            **({"medium": meter_type.medium} if meter_type else {}),
        )
        virtual_meter = metering.create_virtual_meter(session, metering_point=point, name="main")
        driver = drivers.get(endpoint.driver)
        if meter_type is not None:
            apply_meter_type(session, virtual_meter, meter_type)
        elif endpoint.channels:  # what the simulated meter says it offers (heat, water, ...)
            for obis, unit, kind in endpoint.channels:
                metering.add_channel(
                    session,
                    virtual_meter=virtual_meter,
                    obis=obis,
                    kind=kind,
                    unit=unit,
                    interval_minutes=15 if kind == "profile" else None,
                )
        else:
            if driver is not None and Action.READ_LOAD_PROFILE in driver.info().actions:
                for obis, unit in PROFILE_CHANNELS:
                    metering.add_channel(
                        session,
                        virtual_meter=virtual_meter,
                        obis=obis,
                        kind="profile",
                        interval_minutes=15,
                        unit=unit,
                    )
            for obis, unit in REGISTER_CHANNELS:
                metering.add_channel(
                    session, virtual_meter=virtual_meter, obis=obis, kind="register", unit=unit
                )
        # The driver's own declarations say which settings are credentials (stored encrypted).
        declared = meters.declared_secrets(endpoint.driver, drivers) or {}
        settings = {k: v for k, v in endpoint.settings.items() if k not in declared}
        secrets = {k: v for k, v in endpoint.settings.items() if k in declared}
        meter = meters.create_meter(
            session,
            manufacturer=DEMO_MANUFACTURER,
            serial_number=endpoint.serial,
            driver=endpoint.driver,
            model=meter_type.model if meter_type else f"Simulated {endpoint.driver} meter",
            driver_settings={**(meter_type.settings if meter_type else {}), **settings},
            drivers=drivers,
        )
        if secrets:
            meters.set_credentials(session, meter, cipher, secrets, drivers=drivers)
        meters.assign_meter(session, virtual_meter, meter, DEMO_START)
        device = devices.create_device(session, name=device_name, **_device_fields(endpoint))
        devices.add_path(session, meter, device, 1)
        groups.add_members(session, group, [virtual_meter])
    return DemoSummary(created, updated)


def ensure_demo_jobs(
    session: Session, drivers: Mapping[str, type[Driver]], now: datetime | None = None
) -> list[Job]:
    """The demo's scheduled jobs (every 5 minutes over the demo meters), created once."""
    from meterhub.inventory.jobs import create_job

    now = now or datetime.now(UTC)
    found = []
    demo_meters = list(
        session.scalars(select(Meter).where(Meter.manufacturer == DEMO_MANUFACTURER))
    )
    for name, actions in DEMO_JOBS.items():
        job = session.scalar(select(Job).where(Job.name == name))
        if job is None:
            wanted = {a if isinstance(a, str) else a["action"] for a in actions}
            targets = [
                meter
                for meter in demo_meters
                if meter.driver in drivers
                and wanted <= {a.value for a in drivers[meter.driver].info().actions}
                and ("read_load_profile" not in wanted or _has_profile_channels(session, meter))
            ]
            if not targets:
                continue
            job = create_job(
                session,
                name=name,
                actions=actions,
                meters=targets,
                kind="scheduled",
                recurrence=DEMO_RULE,
                starts_at=now,
                user="demo",
                drivers=drivers,
                now=now,
            )
        found.append(job)
    return found


def _has_profile_channels(session: Session, meter: Meter) -> bool:
    """Whether a virtual meter ``meter`` serves (or served) has a profile channel."""
    found = session.scalar(
        select(Channel.id)
        .join(MeterAssignment, MeterAssignment.virtual_meter_id == Channel.virtual_meter_id)
        .where(MeterAssignment.meter_id == meter.id, Channel.kind == "profile")
        .limit(1)
    )
    return found is not None


#: The demo's administrator and password (the demo serves on loopback only).
DEMO_USER = "demo"
DEMO_PASSWORD = "meterhub-2026"


def ensure_demo_user(session: Session) -> bool:
    """Add the demo's administrator (:data:`DEMO_USER`) unless present; whether it was added."""
    from meterhub.inventory.roles import ensure_administrator_role, grant_role
    from meterhub.inventory.users import add_user
    from meterhub.model.users import AppUser

    if session.scalar(select(AppUser).where(AppUser.username == DEMO_USER)) is not None:
        return False
    user = add_user(session, DEMO_USER, DEMO_PASSWORD, display_name="Demo administrator")
    grant_role(session, user, ensure_administrator_role(session))
    return True
