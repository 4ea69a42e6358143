"""Metering points, virtual meters (and the license limit), containers and channels."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from tree_helpers import refused

from meterhub.db import make_sessionmaker, transaction
from meterhub.errors import Conflict, InvalidValue, LicenseLimitExceeded, NotFound
from meterhub.inventory.metering import (
    add_channel,
    create_container,
    create_metering_point,
    create_virtual_meter,
    disable,
    enable,
    find_metering_point,
)
from meterhub.licensing import License
from meterhub.model.audit import AuditLog
from meterhub.model.elements import Element
from meterhub.model.metering import Channel, Container, MeteringPoint, VirtualMeter
from meterhub.model.templates import Template

EIC = "10YCZ-CEPS-----N"
EIC_2 = "27XG-AMPRION---J"
EAN = "859182400100000011"
START = datetime(2020, 1, 1, tzinfo=UTC)


Factory = sessionmaker[Session]


def make_element(session: Session, name: str = "Consumer 1") -> Element:
    template = session.scalars(select(Template).where(Template.name == "consumer")).first()
    if template is None:
        template = Template(name="consumer", kind="consumer")
    element = Element(template=template, name=name, valid_from=START)
    session.add(element)
    session.flush()
    return element


@pytest.fixture
def element(session_factory: Factory) -> Element:
    with transaction(session_factory) as session:
        return make_element(session)


@pytest.fixture
def point(session_factory: Factory, element: Element) -> MeteringPoint:
    with transaction(session_factory) as session:
        return create_metering_point(session, element=element, name="MP 1", eic=EIC, ean=EAN)


@pytest.fixture
def virtual_meter(session_factory: Factory, point: MeteringPoint) -> VirtualMeter:
    with transaction(session_factory) as session:
        return create_virtual_meter(session, metering_point=point, name="Main")


def licensed_factory(engine: Engine, virtual_meters: int) -> Factory:
    license = License(
        customer="Test customer",
        license_id="test-1",
        issued=date(2026, 1, 1),
        expires=None,
        limits={"virtual_meters": virtual_meters},
        features=frozenset({"*"}),
    )
    return make_sessionmaker(engine, license=license)


# -- metering points ---------------------------------------------------------------------------


def test_create_metering_point(session_factory: Factory, element: Element) -> None:
    with transaction(session_factory, user="alice") as session:
        point = create_metering_point(
            session,
            element=element,
            name="  MP 1 ",
            eic=EIC.lower(),
            ean=EAN,
            metering_code="CZ-0001/A",
            medium="gas",
        )
    with transaction(session_factory) as session:
        stored = session.get(MeteringPoint, point.id)
        assert stored is not None
        assert (stored.name, stored.eic, stored.ean) == ("MP 1", EIC, EAN)
        assert (stored.metering_code, stored.medium, stored.enabled) == ("CZ-0001/A", "gas", True)
        assert stored.element.name == "Consumer 1"


def test_identifiers_are_optional(session_factory: Factory, element: Element) -> None:
    with transaction(session_factory) as session:
        first = create_metering_point(session, element=element, name="A", eic=" ", ean="")
        second = create_metering_point(session, element=element, name="B")
        assert first.eic is first.ean is first.metering_code is None
        assert second.eic is None


def test_same_name_on_another_element(session_factory: Factory, point: MeteringPoint) -> None:
    with transaction(session_factory) as session:
        other = make_element(session, "Consumer 2")
        assert create_metering_point(session, element=other, name="MP 1").name == "MP 1"


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"eic": "10YCZ-CEPS-----X"}, "eic", ""),
        ({"eic": "10YCZ"}, "eic", ""),
        ({"ean": "859182400100000017"}, "ean", ""),
        ({"ean": "85918240010000001A"}, "ean", ""),
        ({"name": ""}, "name", "empty"),
        ({"name": "x" * 101}, "name", "at most 100"),
        ({"name": "bad\x00name"}, "name", "control"),
        ({"metering_code": "with space"}, "metering_code", "no spaces"),
        ({"medium": "steam"}, "medium", "electricity"),
        ({"element": None}, "element", "required"),
        ({"element": "Consumer 1"}, "element", "must be a Element"),
    ],
)
def test_metering_point_bad_input(
    session_factory: Factory, element: Element, changes: dict[str, Any], field: str, reason: str
) -> None:
    arguments: dict[str, Any] = {"element": element, "name": "MP 9"} | changes
    error = refused(
        session_factory,
        InvalidValue,
        field,
        lambda s: create_metering_point(s, **arguments),
    )
    assert reason in str(error)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"name": "MP 1"}, "name", "element 'Consumer 1' already has a metering point"),
        ({"eic": EIC}, "eic", "already used by metering point 'MP 1'"),
        ({"ean": EAN}, "ean", "already used by metering point 'MP 1'"),
    ],
)
def test_metering_point_duplicates(
    session_factory: Factory,
    element: Element,
    point: MeteringPoint,
    changes: dict[str, Any],
    field: str,
    words: str,
) -> None:
    arguments: dict[str, Any] = {"element": element, "name": "MP 2"} | changes
    error = refused(
        session_factory, Conflict, field, lambda s: create_metering_point(s, **arguments)
    )
    assert words in str(error)
    assert f"id {point.id}" in str(error)


def test_duplicate_metering_code(session_factory: Factory, element: Element) -> None:
    with transaction(session_factory) as session:
        create_metering_point(session, element=element, name="A", metering_code="Z1")
    refused(
        session_factory,
        Conflict,
        "metering_code",
        lambda s: create_metering_point(s, element=element, name="B", metering_code="Z1"),
    )


def test_find_metering_point(session_factory: Factory, point: MeteringPoint) -> None:
    with transaction(session_factory) as session:
        assert find_metering_point(session, eic=EIC.lower()).id == point.id
        assert find_metering_point(session, ean=EAN).id == point.id
        with pytest.raises(NotFound):
            find_metering_point(session, eic=EIC_2)
        with pytest.raises(InvalidValue):
            find_metering_point(session, eic=EIC, ean=EAN)


# -- virtual meters and the license ------------------------------------------------------------


def test_create_virtual_meter(session_factory: Factory, point: MeteringPoint) -> None:
    with transaction(session_factory) as session:
        meter = create_virtual_meter(session, metering_point=point, name="Main")
        spare = create_virtual_meter(session, metering_point=point, name="Check", enabled=False)
    with transaction(session_factory) as session:
        stored = session.get(MeteringPoint, point.id)
        assert stored is not None
        assert [(m.name, m.enabled) for m in stored.virtual_meters] == [
            ("Check", False),
            ("Main", True),
        ]
        assert {meter.id, spare.id} == {m.id for m in stored.virtual_meters}


@pytest.mark.parametrize(
    ("changes", "error", "field"),
    [
        ({"name": "Main"}, Conflict, "name"),
        ({"name": "  "}, InvalidValue, "name"),
        ({"metering_point": None}, InvalidValue, "metering_point"),
        ({"enabled": "yes"}, InvalidValue, "enabled"),
    ],
)
def test_virtual_meter_bad_input(
    session_factory: Factory,
    virtual_meter: VirtualMeter,
    point: MeteringPoint,
    changes: dict[str, Any],
    error: type[Exception],
    field: str,
) -> None:
    arguments: dict[str, Any] = {"metering_point": point, "name": "Other"} | changes
    refused(session_factory, error, field, lambda s: create_virtual_meter(s, **arguments))


def test_license_limit_on_virtual_meters(
    engine: Engine, session_factory: Factory, point: MeteringPoint
) -> None:
    licensed = licensed_factory(engine, virtual_meters=2)
    with transaction(licensed) as session:
        create_virtual_meter(session, metering_point=point, name="One")
        # A disabled virtual meter counts as well.
        create_virtual_meter(session, metering_point=point, name="Two", enabled=False)
    error = refused(
        licensed,
        LicenseLimitExceeded,
        None,
        lambda s: create_virtual_meter(s, metering_point=point, name="Three"),
    )
    assert "at most 2 virtual meters" in str(error)
    assert "would make 3" in str(error)


def test_license_counts_meters_created_in_the_same_transaction(
    engine: Engine, point: MeteringPoint
) -> None:
    licensed = licensed_factory(engine, virtual_meters=1)
    with pytest.raises(LicenseLimitExceeded):
        with transaction(licensed) as session:
            create_virtual_meter(session, metering_point=point, name="One")
            create_virtual_meter(session, metering_point=point, name="Two")


def test_no_license_no_limit(session_factory: Factory, point: MeteringPoint) -> None:
    with transaction(session_factory) as session:
        for number in range(5):
            create_virtual_meter(session, metering_point=point, name=f"VM {number}")


# -- containers --------------------------------------------------------------------------------


def test_create_container(session_factory: Factory, point: MeteringPoint) -> None:
    with transaction(session_factory) as session:
        container = create_container(session, metering_point=point, name="Billing data")
        assert container.metering_point.id == point.id
    refused(
        session_factory,
        Conflict,
        "name",
        lambda s: create_container(s, metering_point=point, name="Billing data"),
    )
    refused(
        session_factory,
        InvalidValue,
        "name",
        lambda s: create_container(s, metering_point=point, name=""),
    )


# -- channels ----------------------------------------------------------------------------------


def test_add_channels(session_factory: Factory, virtual_meter: VirtualMeter) -> None:
    with transaction(session_factory) as session:
        profile = add_channel(
            session, virtual_meter=virtual_meter, obis="1.8.0", interval_minutes=15, unit="kWh"
        )
        hourly = add_channel(
            session, virtual_meter=virtual_meter, obis="1-0:1.8.0", interval_minutes=60
        )
        register = add_channel(
            session, virtual_meter=virtual_meter, obis="1.0.1.8.0.255", kind="register", scaler=-3
        )
        events = add_channel(session, virtual_meter=virtual_meter, obis="0-0:99.98.0", kind="event")
    assert profile.obis == hourly.obis == register.obis == "1-0:1.8.0*255"
    assert (profile.interval_minutes, profile.interval) == (15, timedelta(minutes=15))
    assert profile.name == "1-0:1.8.0*255 15 min"
    assert (register.interval_minutes, register.interval, register.scaler) == (0, None, -3)
    assert events.name == "0-0:99.98.0*255"
    with transaction(session_factory) as session:
        stored = session.get(VirtualMeter, virtual_meter.id)
        assert stored is not None
        assert [c.kind for c in stored.channels] == ["profile", "profile", "register", "event"]


def test_reduced_obis_takes_the_medium_of_the_metering_point(
    session_factory: Factory, element: Element
) -> None:
    with transaction(session_factory) as session:
        point = create_metering_point(session, element=element, name="Gas", medium="gas")
        meter = create_virtual_meter(session, metering_point=point, name="Gas meter")
        channel = add_channel(session, virtual_meter=meter, obis="3.0.0", kind="register")
        assert channel.obis == "7-0:3.0.0*255"


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"obis": "1.8.0.0"}, "obis", "4 groups"),
        ({"obis": ""}, "obis", "empty"),
        ({"obis": "1-0:1.8.0*256"}, "obis", ""),
        ({"obis": "hello"}, "obis", ""),
        ({"obis": 180}, "obis", "must be text"),
        ({"interval_minutes": 7}, "interval_minutes", "1, 5, 10, 15, 30, 60, 1440"),
        ({"interval_minutes": None}, "interval_minutes", "needs an interval"),
        ({"interval_minutes": True}, "interval_minutes", "must be one of"),
        ({"interval_minutes": "15"}, "interval_minutes", "must be one of"),
        ({"kind": "register"}, "interval_minutes", "has no interval"),
        ({"kind": "curve"}, "kind", "profile, register, event"),
        ({"scaler": 200}, "scaler", "at most 127"),
        ({"scaler": 1.5}, "scaler", "whole number"),
        ({"unit": "k" * 17}, "unit", "at most 16"),
        ({"name": "\t"}, "name", "empty"),
    ],
)
def test_channel_bad_input(
    session_factory: Factory,
    virtual_meter: VirtualMeter,
    changes: dict[str, Any],
    field: str,
    reason: str,
) -> None:
    arguments: dict[str, Any] = {
        "virtual_meter": virtual_meter,
        "obis": "1.8.0",
        "interval_minutes": 15,
    } | changes
    error = refused(session_factory, InvalidValue, field, lambda s: add_channel(s, **arguments))
    assert reason in str(error)


def test_channel_duplicates(session_factory: Factory, virtual_meter: VirtualMeter) -> None:
    with transaction(session_factory) as session:
        add_channel(session, virtual_meter=virtual_meter, obis="1.8.0", interval_minutes=15)
        add_channel(session, virtual_meter=virtual_meter, obis="1.8.1", kind="register")
    error = refused(
        session_factory,
        Conflict,
        "obis",
        lambda s: add_channel(
            s, virtual_meter=virtual_meter, obis="1-0:1.8.0*255", interval_minutes=15, name="Other"
        ),
    )
    assert "every 15 min" in str(error)
    # Registers have no interval, and still collide (interval 0 is stored, not NULL).
    refused(
        session_factory,
        Conflict,
        "obis",
        lambda s: add_channel(
            s, virtual_meter=virtual_meter, obis="1.8.1", kind="register", name="R"
        ),
    )
    refused(
        session_factory,
        Conflict,
        "name",
        lambda s: add_channel(
            s, virtual_meter=virtual_meter, obis="2.8.0", kind="register", name="1-0:1.8.1*255"
        ),
    )


# -- database constraints behind the checks ----------------------------------------------------


def _insert(factory: Factory, *objects: Any) -> None:
    with transaction(factory) as session:
        session.add_all(objects)
        session.flush()


def test_database_enforces_unique_names(
    session_factory: Factory, element: Element, point: MeteringPoint, virtual_meter: VirtualMeter
) -> None:
    cases: list[Callable[[], Any]] = [
        lambda: MeteringPoint(element_id=element.id, name="MP 1", medium="electricity"),
        lambda: MeteringPoint(element_id=element.id, name="X", eic=EIC, medium="electricity"),
        lambda: MeteringPoint(element_id=element.id, name="Y", ean=EAN, medium="electricity"),
        lambda: VirtualMeter(metering_point_id=point.id, name="Main"),
    ]
    _insert(session_factory, Container(metering_point_id=point.id, name="C"))
    cases.append(lambda: Container(metering_point_id=point.id, name="C"))
    for make in cases:
        with pytest.raises(IntegrityError):
            _insert(session_factory, make())


def test_database_enforces_channel_rules(
    session_factory: Factory, virtual_meter: VirtualMeter
) -> None:
    def channel(**values: Any) -> Channel:
        defaults: dict[str, Any] = {
            "virtual_meter_id": virtual_meter.id,
            "obis": "1-0:1.8.0*255",
            "name": "C",
            "kind": "register",
            "interval_minutes": 0,
        }
        return Channel(**(defaults | values))

    _insert(session_factory, channel())
    for bad in (
        channel(name="other"),  # same OBIS, no interval
        channel(obis="1-0:2.8.0*255"),  # same name
        channel(name="p", kind="profile", interval_minutes=7),
        channel(name="p", kind="profile", interval_minutes=0),
        channel(name="r", obis="1-0:2.8.0*255", kind="register", interval_minutes=15),
        channel(name="k", obis="1-0:2.8.0*255", kind="curve"),
    ):
        with pytest.raises(IntegrityError):
            _insert(session_factory, bad)


# -- enable / disable, sessions, audit ---------------------------------------------------------


def test_enable_disable(session_factory: Factory, virtual_meter: VirtualMeter) -> None:
    with transaction(session_factory, user="bob") as session:
        assert disable(session, virtual_meter).enabled is False
    with transaction(session_factory) as session:
        stored = session.get(VirtualMeter, virtual_meter.id)
        assert stored is not None and stored.enabled is False
        enable(session, stored)
        assert stored.enabled is True
    with transaction(session_factory) as session:
        actions = session.scalars(
            select(AuditLog.action)
            .where(
                AuditLog.object_type == "virtual_meter",
                AuditLog.object_id == str(virtual_meter.id),
                AuditLog.attribute == "enabled",
            )
            .order_by(AuditLog.id)
        ).all()
        assert list(actions)[-2:] == ["disable", "enable"]
    refused(session_factory, InvalidValue, "object", lambda s: disable(s, "VM"))


def test_changes_are_audited(session_factory: Factory, element: Element) -> None:
    with transaction(session_factory, user="carol") as session:
        point = create_metering_point(session, element=element, name="Audited", eic=EIC_2)
        meter = create_virtual_meter(session, metering_point=point, name="VM")
        add_channel(session, virtual_meter=meter, obis="1.8.0", interval_minutes=15)
    with transaction(session_factory) as session:
        rows = session.scalars(select(AuditLog).where(AuditLog.changed_by == "carol")).all()
        by_table = {(row.object_type, row.attribute): row.new_value for row in rows}
        assert by_table[("metering_point", "eic")] == EIC_2
        assert by_table[("virtual_meter", "name")] == "VM"
        assert by_table[("channel", "obis")] == "1-0:1.8.0*255"


def test_detached_and_deleted_objects(session_factory: Factory, point: MeteringPoint) -> None:
    # ``point`` was loaded in a finished transaction: it is looked up again by id.
    with transaction(session_factory) as session:
        meter = create_virtual_meter(session, metering_point=point, name="VM")
        assert meter.metering_point is session.get(MeteringPoint, point.id)
    with transaction(session_factory) as session:
        session.delete(session.get(VirtualMeter, meter.id))
    with pytest.raises(NotFound, match="VirtualMeter"):
        with transaction(session_factory) as session:
            add_channel(session, virtual_meter=meter, obis="1.8.0", interval_minutes=15)


def test_pending_parent_in_the_same_session(session_factory: Factory) -> None:
    with transaction(session_factory) as session:
        template = Template(name="contract", kind="contract")
        element = Element(template=template, name="Contract", valid_from=START)
        session.add(element)
        point = create_metering_point(session, element=element, name="MP")
        assert point.element_id == element.id is not None
