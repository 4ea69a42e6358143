"""The audit log: who changed which attribute of which object, from what to what."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session
from tree_helpers import Factory, audit_rows, make_tree

from meterhub.db import transaction
from meterhub.errors import InvalidValue
from meterhub.inventory.elements import create_element, delete, move, rename, set_attributes
from meterhub.model.audit import AuditLog, audit_text, audit_trail, record_changes
from meterhub.model.elements import Element
from meterhub.model.groups import MeterGroup
from meterhub.model.types import utcnow


def get(session: Any, element_id: int) -> Element:
    return session.get_one(Element, element_id)


class Colour(Enum):
    RED = "red"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, None),
        ("", None),
        ("x", "x"),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (Decimal("1.50"), "1.50"),
        (date(2024, 1, 2), "2024-01-02"),
        (datetime(2024, 1, 2, 3, tzinfo=UTC), "2024-01-02T03:00:00+00:00"),
        (Colour.RED, "red"),
        (b"\x00\x01", "(2 bytes)"),
        (["a", "b"], '["a", "b"]'),
        ({"b": 1, "a": 2}, '{"a": 2, "b": 1}'),
    ],
)
def test_values_are_recorded_as_text(value: Any, text: str | None) -> None:
    assert audit_text(value) == text


def test_listener_is_registered_once_on_every_session() -> None:
    assert event.contains(Session, "after_flush", record_changes)


def test_create_change_move_delete_record_who_what_old_new(session_factory: Factory) -> None:
    tree = make_tree(session_factory)
    start = utcnow()
    with transaction(session_factory, user="ann") as session:
        c1 = get(session, tree.c1)
        rename(session, c1, "C1 new")
        set_attributes(session, c1, {"tariff": "D02", "power": 5})
        move(session, c1, get(session, tree.south))
    with transaction(session_factory, user="bob") as session:
        delete(session, get(session, tree.c1))
    with session_factory() as session:
        trail = [r for r in audit_trail(session, "element", tree.c1) if r.changed_by != "builder"]
    assert all(row.recorded_at >= start for row in trail)
    summary = [(r.action, r.attribute, r.old_value, r.new_value, r.changed_by) for r in trail]
    # one flush per operation: rename, attributes (in any order), move, delete
    assert summary[0] == ("change", "name", "C1", "C1 new", "ann")
    assert sorted(summary[1:3], key=str) == [
        ("change", "attributes.power", None, "5", "ann"),
        ("change", "attributes.tariff", "D01", "D02", "ann"),
    ]
    assert summary[3] == ("move", "parent_id", str(tree.north), str(tree.south), "ann")
    deleted = {r[1]: r[2] for r in summary[4:]}
    assert {r[0] for r in summary[4:]} == {"delete"}
    assert {r[4] for r in summary[4:]} == {"bob"}
    assert deleted["name"] == "C1 new"
    assert deleted["parent_id"] == str(tree.south)
    assert deleted["attributes.tariff"] == "D02"
    assert deleted["attributes.power"] == "5"
    assert all(r[3] is None for r in summary[4:])


def test_user_defaults_to_system(session_factory: Factory) -> None:
    with transaction(session_factory) as session:
        session.add(MeterGroup(name="g"))
    with session_factory() as session:
        [row] = audit_rows(session, object_type="meter_group")
        assert row.changed_by == "system"


def test_every_table_is_audited_without_code_in_it(session_factory: Factory) -> None:
    """The listener is generic: the metering tables get the same audit as the tree."""
    with transaction(session_factory, user="ann") as session:
        group = MeterGroup(name="north meters")
        session.add(group)
        session.flush()
        group_id = group.id
        group.name = "northern meters"
    with transaction(session_factory, user="bob") as session:
        session.delete(session.get_one(MeterGroup, group_id))
    with session_factory() as session:
        rows = audit_trail(session, "meter_group", group_id)
    assert [(r.action, r.attribute, r.old_value, r.new_value, r.changed_by) for r in rows] == [
        ("create", "name", None, "north meters", "ann"),
        ("change", "name", "north meters", "northern meters", "ann"),
        ("delete", "name", "northern meters", None, "bob"),
    ]


def test_a_rolled_back_change_leaves_no_audit(session_factory: Factory) -> None:
    tree = make_tree(session_factory)
    with session_factory() as session:
        before = len(session.scalars(select(AuditLog)).all())
    with pytest.raises(InvalidValue):
        with transaction(session_factory, user="ann") as session:
            rename(session, get(session, tree.c1), "renamed")
            create_element(session, template="consumer", name="C7", parent=get(session, tree.c1))
            set_attributes(session, get(session, tree.c2), {"tariff": "nope"})
    with session_factory() as session:
        assert len(session.scalars(select(AuditLog)).all()) == before
        assert audit_rows(session, changed_by="ann") == []


def test_unchanged_values_write_nothing(session_factory: Factory) -> None:
    tree = make_tree(session_factory)
    with session_factory() as session:
        before = len(session.scalars(select(AuditLog)).all())
    with transaction(session_factory, user="ann") as session:
        c2 = get(session, tree.c2)
        c2.name = "C2"
        set_attributes(session, c2, {"tariff": "D02", "power": "12.50"})
        move(session, c2, get(session, tree.north))
    with session_factory() as session:
        assert len(session.scalars(select(AuditLog)).all()) == before


def test_bookkeeping_columns_are_not_audited(session_factory: Factory) -> None:
    make_tree(session_factory)
    with session_factory() as session:
        attributes = {row.attribute for row in session.scalars(select(AuditLog))}
    assert not attributes & {"created_at", "changed_at", "sibling_scope", "id"}
