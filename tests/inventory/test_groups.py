"""Meter groups: named sets of virtual meters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from tree_helpers import refused

from meterhub.db import transaction
from meterhub.errors import Conflict, InvalidValue
from meterhub.inventory.groups import add_members, create_group, members, remove_members
from meterhub.inventory.metering import create_metering_point, create_virtual_meter
from meterhub.model.audit import AuditLog
from meterhub.model.elements import Element
from meterhub.model.groups import MeterGroup, MeterGroupMember
from meterhub.model.metering import VirtualMeter
from meterhub.model.templates import Template

Factory = sessionmaker[Session]


@pytest.fixture
def virtual_meters(session_factory: Factory) -> list[VirtualMeter]:
    with transaction(session_factory) as session:
        template = Template(name="consumer", kind="consumer")
        element = Element(
            template=template, name="Consumer", valid_from=datetime(2020, 1, 1, tzinfo=UTC)
        )
        session.add(element)
        point = create_metering_point(session, element=element, name="MP")
        return [
            create_virtual_meter(session, metering_point=point, name=name)
            for name in ("C", "A", "B")
        ]


@pytest.fixture
def group(session_factory: Factory) -> MeterGroup:
    with transaction(session_factory) as session:
        return create_group(session, name="Industrial customers")


def test_members(
    session_factory: Factory, group: MeterGroup, virtual_meters: list[VirtualMeter]
) -> None:
    c, a, b = virtual_meters
    with transaction(session_factory, user="erin") as session:
        assert add_members(session, group, [c, a]) == [
            session.get(VirtualMeter, c.id),
            session.get(VirtualMeter, a.id),
        ]
        # Adding a member again changes nothing; duplicates in the request count once.
        added = add_members(session, group, [a, b, b])
        assert [m.name for m in added] == ["B"]
        assert [m.name for m in members(session, group)] == ["A", "B", "C"]
    with transaction(session_factory) as session:
        removed = remove_members(session, group, [c, c])
        assert [m.name for m in removed] == ["C"]
        assert remove_members(session, group, [c]) == []
        assert [m.name for m in members(session, group)] == ["A", "B"]
    with transaction(session_factory) as session:
        audited = session.scalars(
            select(AuditLog.action).where(AuditLog.object_type == "meter_group_member")
        ).all()
        assert "create" in audited and "delete" in audited


def test_single_virtual_meter(
    session_factory: Factory, group: MeterGroup, virtual_meters: list[VirtualMeter]
) -> None:
    with transaction(session_factory) as session:
        add_members(session, group, virtual_meters[0])  # type: ignore[arg-type]
        assert len(members(session, group)) == 1


def test_group_bad_input(
    session_factory: Factory, group: MeterGroup, virtual_meters: list[VirtualMeter]
) -> None:
    refused(
        session_factory, Conflict, "name", lambda s: create_group(s, name=" Industrial customers ")
    )
    refused(session_factory, InvalidValue, "name", lambda s: create_group(s, name=""))
    refused(session_factory, InvalidValue, "name", lambda s: create_group(s, name="x" * 101))
    # One bad member refuses the whole request.
    error = refused(
        session_factory,
        InvalidValue,
        "virtual_meters[1]",
        lambda s: add_members(s, group, [virtual_meters[0], "B"]),
    )
    assert "must be a VirtualMeter" in str(error)
    refused(session_factory, InvalidValue, "group", lambda s: add_members(s, None, virtual_meters))


def test_database_enforces_unique_pairs_and_names(
    session_factory: Factory, group: MeterGroup, virtual_meters: list[VirtualMeter]
) -> None:
    with transaction(session_factory) as session:
        add_members(session, group, virtual_meters[:1])
    for row in (
        MeterGroupMember(group_id=group.id, virtual_meter_id=virtual_meters[0].id),
        MeterGroup(name="Industrial customers"),
    ):
        with pytest.raises(IntegrityError):
            with transaction(session_factory) as session:
                session.add(row)
                session.flush()
