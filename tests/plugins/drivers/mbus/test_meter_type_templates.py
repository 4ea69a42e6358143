"""The shipped M-Bus meter types as inventory templates (SQLite, and PostgreSQL with
METERHUB_TEST_DB=postgresql): a virtual meter of the right medium gets every channel of the
type, a second application adds nothing, a point of another medium is refused."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from meterhub.db import transaction
from meterhub.errors import InvalidValue
from meterhub.extensions.metertype import MeterType
from meterhub.inventory.elements import create_element
from meterhub.inventory.metering import create_metering_point, create_virtual_meter
from meterhub.inventory.meters import create_meter
from meterhub.inventory.metertypes import apply_meter_type, meter_fields
from meterhub.inventory.templates import create_template
from meterhub.model.metering import Channel
from meterhub.plugins.drivers.mbus.catalogue import CATALOGUES, load_catalogue

ALL = [kind for driver in CATALOGUES for kind in load_catalogue(driver)]
#: A metering point of another medium for each type's medium.
OTHER = {"heat": "gas", "water": "heat", "gas": "water"}


def _point(session: Session, medium: str, name: str) -> Any:
    template = create_template(session, f"site-{name}")
    element = create_element(session, template=template, name=f"Site {name}")
    return create_metering_point(session, element=element, name=f"{name} point", medium=medium)


def test_every_type_gives_a_virtual_meter_its_channels(
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory, user="tester") as session:
        for kind in ALL:
            point = _point(session, kind.medium, kind.name)
            virtual = create_virtual_meter(session, metering_point=point, name="main")
            added = apply_meter_type(session, virtual, kind)
            assert [(c.obis, c.kind, c.unit, c.scaler, c.name) for c in added] == [
                (spec.obis, "register", spec.unit, spec.scaler, spec.name or spec.obis)
                for spec in kind.channels
            ]
            assert apply_meter_type(session, virtual, kind) == []
            meter = create_meter(
                session, manufacturer=kind.manufacturer, serial_number=f"S{id(kind)}",
                **meter_fields(kind),
            )  # fmt: skip
            assert (meter.driver, meter.model) == (kind.driver, kind.model)
            assert meter.driver_settings == dict(kind.settings)
    with session_factory() as session:
        stored = session.scalars(select(Channel)).all()
        assert len(stored) == sum(len(kind.channels) for kind in ALL)


@pytest.mark.parametrize("kind", ALL[:1] + ALL[-1:], ids=lambda kind: kind.name)
def test_a_point_of_another_medium_is_refused(
    session_factory: sessionmaker[Session], kind: type[MeterType]
) -> None:
    with transaction(session_factory, user="tester") as session:
        point = _point(session, OTHER[kind.medium], "other")
        virtual = create_virtual_meter(session, metering_point=point, name="main")
        with pytest.raises(InvalidValue, match=f"measures {kind.medium}"):
            apply_meter_type(session, virtual, kind)
        assert session.scalars(select(Channel)).all() == []


def test_a_water_type_serves_a_water_point_partly_equipped(
    session_factory: sessionmaker[Session],
) -> None:
    from meterhub.inventory.metering import add_channel

    (flowiq,) = [kind for kind in ALL if kind.name == "kamstrup-flowiq-2101"]
    with transaction(session_factory, user="tester") as session:
        virtual = create_virtual_meter(
            session, metering_point=_point(session, "water", "w"), name="main"
        )
        add_channel(session, virtual_meter=virtual, obis="8-0:1.0.0", kind="register", unit="m³")
        added = apply_meter_type(session, virtual, flowiq)
        assert "8-0:1.0.0*255" not in [channel.obis for channel in added]
        assert len(added) == len(flowiq.channels) - 1


def test_the_demo_registers_typed_simulated_meters_from_their_type(
    session_factory: sessionmaker[Session],
) -> None:
    from meterhub.credentials import CredentialCipher, generate_key
    from meterhub.demo import populate_demo
    from meterhub.model.metering import MeteringPoint
    from meterhub.model.meters import Meter
    from meterhub.plugins.drivers.mbus.simulator.fleet import MbusSimulator
    from meterhub.plugins.drivers.mbus.wired import MbusDriver

    types = {kind.name: kind for kind in ALL}
    names = ["kamstrup-multical-601", "kamstrup-flowiq-2101"]
    with MbusSimulator().start(2, options={"types": ",".join(names)}) as fleet:
        with transaction(session_factory, user="demo") as session:
            summary = populate_demo(
                session, fleet.endpoints, {"mbus": MbusDriver}, CredentialCipher(generate_key()),
                types,
            )  # fmt: skip
    assert summary.created_meters == 2
    with session_factory() as session:
        models = sorted(session.scalars(select(Meter.model)).all())
        media = sorted(session.scalars(select(MeteringPoint.medium)).all())
        channels = session.scalars(select(Channel)).all()
    assert models == sorted(types[name].model for name in names)
    assert media == ["heat", "water"]
    assert len(channels) == sum(len(types[name].channels) for name in names)
