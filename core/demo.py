"""Demo data: a small utility with regions, consumers and a simulated meter fleet.

Used by ``meterhub demo``; everything is created through the public inventory operations, so the
demo exercises the same validation, audit and license checks as real data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meterhub.errors import InvalidValue
from meterhub.identifiers import eic_check_character, gs1_check_digit
from meterhub.inventory import devices, groups, metering, meters, templates
from meterhub.inventory.elements import create_element
from meterhub.model.elements import Element

DEMO_ROOT = "Demo Utility"
REGIONS = ("North", "South")
#: Channels every demo virtual meter gets: (OBIS, kind, interval minutes, unit).
DEMO_CHANNELS = (
    ("1-0:1.29.0", "profile", 15, "kWh"),
    ("1-0:2.29.0", "profile", 15, "kWh"),
    ("1-0:1.8.0", "register", None, "kWh"),
    ("1-0:2.8.0", "register", None, "kWh"),
)
DEMO_START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class DemoSummary:
    """What :func:`populate_demo` created (zero counts when the data already existed)."""

    elements: int
    virtual_meters: int
    channels: int


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


def _create_templates(session: Session) -> None:
    templates.create_template(session, "Utility", kind="top", description="The company")
    templates.create_template(session, "Region", kind="region", description="Grid region")
    templates.create_template(session, "Consumer", kind="consumer", description="A customer site")
    templates.add_attribute(session, "Consumer", "customer_number", "string", required=False)
    templates.add_attribute(
        session, "Consumer", "tariff", "choice", choices=["D01", "D02", "C25"], default="D02"
    )
    templates.add_attribute(session, "Consumer", "contracted_kw", "decimal", unit="kW")


def populate_demo(session: Session, meters_count: int = 20) -> DemoSummary:
    """Create the demo tree and ``meters_count`` simulated meters; a no-op when it exists."""
    exists = session.scalar(
        select(func.count()).select_from(Element).where(Element.name == DEMO_ROOT)
    )
    if exists:
        return DemoSummary(0, 0, 0)
    _create_templates(session)
    root = create_element(session, template="Utility", name=DEMO_ROOT, valid_from=DEMO_START)
    regions = [
        create_element(session, template="Region", name=name, parent=root) for name in REGIONS
    ]
    device = devices.create_device(
        session, name="Simulator (no transport)", kind="ip", host="127.0.0.1", port=4059
    )
    group = groups.create_group(session, name="All demo meters")
    virtual_meters = []
    channels = 0
    for number in range(1, meters_count + 1):
        consumer = create_element(
            session,
            template="Consumer",
            name=f"Consumer {number:03d}",
            parent=regions[number % len(regions)],
            attributes={"customer_number": f"C-{number:06d}", "contracted_kw": 10 + number % 7},
        )
        point = metering.create_metering_point(
            session,
            element=consumer,
            name="Main supply",
            eic=demo_eic(number),
            ean=demo_ean(number),
            metering_code=f"MP{number:06d}",
        )
        virtual_meter = metering.create_virtual_meter(session, metering_point=point, name="main")
        for obis, kind, interval, unit in DEMO_CHANNELS:
            metering.add_channel(
                session,
                virtual_meter=virtual_meter,
                obis=obis,
                kind=kind,
                interval_minutes=interval,
                unit=unit,
            )
            channels += 1
        meter = meters.create_meter(
            session,
            manufacturer="MeterHub",
            serial_number=f"SIM{number:06d}",
            driver="simulated",
            model="Simulated three-phase meter",
        )
        meters.assign_meter(session, virtual_meter, meter, DEMO_START)
        devices.add_path(session, meter, device, 1, address=meter.serial_number)
        virtual_meters.append(virtual_meter)
    groups.add_members(session, group, virtual_meters)
    return DemoSummary(len(REGIONS) + 1 + 2 * meters_count, len(virtual_meters), channels)
