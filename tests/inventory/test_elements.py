"""The business tree: create, attributes, rename, validity, enable/disable, move, copy, delete."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from tree_helpers import (
    Y2020,
    Y2021,
    Y2022,
    Y2023,
    Y2030,
    Factory,
    Tree,
    audit_rows,
    make_templates,
    make_tree,
    refuse,
    table_rows,
)

from meterhub.db import transaction
from meterhub.errors import Conflict, InvalidValue, NotFound
from meterhub.inventory.common import flush
from meterhub.inventory.elements import (
    DEFAULT_VALID_FROM,
    ancestors,
    attribute_values,
    breadcrumb,
    children,
    copy,
    create_element,
    delete,
    descendants,
    disable,
    element_path,
    enable,
    find_element,
    move,
    rename,
    set_attributes,
    set_validity,
)
from meterhub.inventory.metering import create_metering_point
from meterhub.inventory.templates import get_template
from meterhub.model.elements import Element, ElementAttribute


def get(session: Any, element_id: int) -> Element:
    return session.get_one(Element, element_id)


# -- creating -----------------------------------------------------------------------------------


def test_create_tree_with_typed_attributes(session_factory: Factory) -> None:
    tree = make_tree(session_factory)
    with session_factory() as session:
        c2 = get(session, tree.c2)
        assert c2.path == "Top/North/C2"
        assert c2.template.name == "consumer"
        assert attribute_values(c2) == {"tariff": "D02", "power": Decimal("12.5")}
        assert attribute_values(get(session, tree.c1)) == {"tariff": "D01"}
        assert attribute_values(get(session, tree.north)) == {"code": 1}
        # children inherit the parent's period; enabled by default
        assert c2.valid_from == Y2020 and c2.valid_to is None and c2.enabled
        assert c2.created_at.tzinfo is UTC


def test_root_without_period_is_valid_since_always(session_factory: Factory) -> None:
    with transaction(session_factory) as session:
        make_templates(session)
        root = create_element(session, template="top", name="Top")
        assert (root.valid_from, root.valid_to) == (DEFAULT_VALID_FROM, None)
        region = get_template(session, "region")
        child = create_element(
            session,
            template=region,
            name="R",
            parent=root,
            attributes={"code": "5"},
            valid_from=Y2021,
            valid_to=Y2022,
        )
        grandchild = create_element(session, template="consumer", name="C", parent=child)
        assert (grandchild.valid_from, grandchild.valid_to) == (Y2021, Y2022)


def test_tree_walking(session_factory: Factory) -> None:
    tree = make_tree(session_factory)
    with session_factory() as session:
        c2 = get(session, tree.c2)
        assert [e.name for e in ancestors(c2)] == ["Top", "North"]
        assert [e.name for e in breadcrumb(c2)] == ["Top", "North", "C2"]
        assert element_path(c2) == "Top/North/C2"
        top = get(session, tree.top)
        assert [e.name for e in descendants(session, top)] == ["North", "South", "C1", "C2", "C3"]
        assert [e.name for e in children(session, None)] == ["Top"]
        assert [e.name for e in children(session, get(session, tree.north))] == ["C1", "C2"]
        assert find_element(session, "Top/South/C3").id == tree.c3
        assert find_element(session, "/Top/North/").id == tree.north
        with pytest.raises(NotFound, match="no element named 'C9' under 'Top/North'"):
            find_element(session, "Top/North/C9")
        with pytest.raises(InvalidValue):
            find_element(session, "/")


def test_create_is_audited_with_user_and_values(session_factory: Factory) -> None:
    tree = make_tree(session_factory)
    with session_factory() as session:
        rows = audit_rows(session, object_type="element", object_id=str(tree.c2))
    assert {row.action for row in rows} == {"create"}
    assert {row.changed_by for row in rows} == {"builder"}
    values = {row.attribute: row.new_value for row in rows}
    assert values == {
        "parent_id": str(tree.north),
        "template_id": values["template_id"],
        "name": "C2",
        "enabled": "true",
        "valid_from": "2020-01-01T00:00:00+00:00",
        "attributes.tariff": "D02",
        "attributes.power": "12.5",
    }
    assert all(row.old_value is None for row in rows)


@pytest.mark.parametrize(
    ("attributes", "field", "reason"),
    [
        ({"colour": "red"}, "attributes.colour", "template 'region' has no attribute 'colour'"),
        ({}, "attributes.code", "is required by template 'region'"),
        ({"code": None}, "attributes.code", "is required by template 'region'"),
        ({"code": "12a"}, "attributes.code", "'12a' is not a valid integer"),
        ({"code": 1.5}, "attributes.code", "not a whole number"),
        ([("code", 1)], "attributes", "expected a mapping"),
    ],
)
def test_bad_attributes_are_refused(
    session_factory: Factory, attributes: Any, field: str, reason: str
) -> None:
    tree = make_tree(session_factory)
    error = refuse(
        session_factory,
        InvalidValue,
        lambda s: create_element(
            s, template="region", name="West", parent=get(s, tree.top), attributes=attributes
        ),
        field=field,
    )
    assert reason in str(error)


def test_wrong_choice_is_refused(session_factory: Factory) -> None:
    tree = make_tree(session_factory)
    error = refuse(
        session_factory,
        InvalidValue,
        lambda s: create_element(
            s,
            template="consumer",
            name="C4",
            parent=get(s, tree.south),
            attributes={"tariff": "X"},
        ),
        field="attributes.tariff",
    )
    assert "'X' is not one of the choices 'D01', 'D02'" in str(error)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "must not be empty"),
        ("a/b", "must not contain '/'"),
        ("a\nb", "control character"),
        (None, "must be text"),
    ],
)
def test_bad_names_are_refused(session_factory: Factory, name: Any, reason: str) -> None:
    make_tree(session_factory)
    error = refuse(
        session_factory,
        InvalidValue,
        lambda s: create_element(s, template="top", name=name),
        field="name",
    )
    assert reason in str(error)


def test_unknown_template_and_bad_parent(session_factory: Factory) -> None:
    make_tree(session_factory)
    refuse(session_factory, NotFound, lambda s: create_element(s, template="zone", name="Z"))
    refuse(
        session_factory,
        InvalidValue,
        lambda s: create_element(s, template="top", name="Z", parent="Top"),  # type: ignore[arg-type]
        field="parent",
    )


def test_duplicate_sibling_name_is_a_conflict(session_factory: Factory) -> None:
    tree = make_tree(session_factory)
    error = refuse(
        session_factory,
        Conflict,
        lambda s: create_element(s, template="consumer", name="C1", parent=get(s, tree.north)),
        field="name",
    )
    assert error.reason == "an element named 'C1' already exists under 'Top/North'"  # type: ignore[attr-defined]
    # the same name elsewhere in the tree is fine
    with transaction(session_factory) as session:
        create_element(session, template="consumer", name="C1", parent=get(session, tree.south))


def test_duplicate_root_name_is_a_conflict(session_factory: Factory) -> None:
    make_tree(session_factory)
    error = refuse(
        session_factory,
        Conflict,
        lambda s: create_element(s, template="top", name="Top"),
        field="name",
    )
    assert "an element named 'Top' already exists at the top level" in str(error)


# -- the database constraint behind the checks ----------------------------------------------------


def _raw_insert(session: Any, **values: Any) -> None:
    row = {
        "template_id": get_template(session, "top").id,
        "enabled": True,
        "valid_from": Y2020,
        "created_at": Y2020,
        "changed_at": Y2020,
        **values,
    }
    session.execute(insert(Element.__table__).values(**row))


@pytest.mark.parametrize(
    "values",
    [
        {"name": "Top", "parent_id": None, "sibling_scope": 0},
        {"name": "C1", "parent_id": "north", "sibling_scope": "north"},
        {"name": "Other", "parent_id": None, "sibling_scope": 5},
        {"name": "Other", "parent_id": "north", "sibling_scope": 0},
        {"name": "Other", "parent_id": None, "sibling_scope": 0, "valid_to": Y2020},
    ],
    ids=["duplicate-root", "duplicate-sibling", "scope-mismatch", "child-as-root", "period"],
)
def test_database_enforces_the_tree_rules(session_factory: Factory, values: dict) -> None:
    tree = make_tree(session_factory)
    values = {k: tree.north if v == "north" else v for k, v in values.items()}
    before = table_rows(session_factory)
    with pytest.raises(IntegrityError):
        with transaction(session_factory) as session:
            _raw_insert(session, **values)
    assert table_rows(session_factory) == before


def test_flush_turns_a_violated_constraint_into_conflict(session_factory: Factory) -> None:
    tree = make_tree(session_factory)
    before = table_rows(session_factory)
    with pytest.raises(Conflict) as info:
        with transaction(session_factory) as session:
            north = get(session, tree.north)
            session.add(Element(template=north.template, parent=north, name="C2", valid_from=Y2020))
            flush(session, reason="an element named 'C2' already exists under 'Top/North'")
    assert info.value.field == "name"
    assert "already exists under 'Top/North' (database:" in info.value.reason
    assert table_rows(session_factory) == before


# -- attributes ---------------------------------------------------------------------------------


def test_set_attributes_changes_adds_and_removes(session_factory: Factory) -> None:
    tree = make_tree(session_factory)
    with session_factory() as session:
        changed_before = get(session, tree.c2).changed_at
    with transaction(session_factory, user="ann") as session:
        c2 = get(session, tree.c2)
        set_attributes(session, c2, {"tariff": "D01", "power": None})
        set_attributes(session, get(session, tree.c1), {"power": Decimal("3.0")})
    with session_factory() as session:
        c2 = get(session, tree.c2)
        assert attribute_values(c2) == {"tariff": "D01"}
        assert c2.changed_at > changed_before
        assert attribute_values(get(session, tree.c1)) == {"tariff": "D01", "power": Decimal(3)}
        rows = audit_rows(session, action="change", changed_by="ann")
        assert {(r.object_id, r.attribute, r.old_value, r.new_value) for r in rows} == {
            (str(tree.c2), "attributes.tariff", "D02", "D01"),
            (str(tree.c2), "attributes.power", "12.5", None),
            (str(tree.c1), "attributes.power", None, "3"),
        }


@pytest.mark.parametrize(
    ("values", "field", "reason"),
    [
        ({"code": None}, "attributes.code", "is required by template 'region' and cannot be"),
        ({"code": "  "}, "attributes.code", "cannot be removed"),
        ({"code": "x"}, "attributes.code", "'x' is not a valid integer"),
        ({"nope": 1}, "attributes.nope", "template 'region' has no attribute 'nope'"),
    ],
)
def test_bad_attribute_changes_are_refused(
    session_factory: Factory, values: dict, field: str, reason: str
) -> None:
    tree = make_tree(session_factory)
    error = refuse(
        session_factory,
        InvalidValue,
        lambda s: set_attributes(s, get(s, tree.north), values),
        field=field,
    )
    assert reason in str(error)


# -- rename -------------------------------------------------------------------------------------


def test_rename(session_factory: Factory) -> None:
    tree = make_tree(session_factory)
    with transaction(session_factory, user="ann") as session:
        rename(session, get(session, tree.c1), " C10 ")
    with session_factory() as session:
        assert get(session, tree.c1).path == "Top/North/C10"
        [row] = audit_rows(session, action="change", object_id=str(tree.c1))
        assert (row.attribute, row.old_value, row.new_value) == ("name", "C1", "C10")
    refuse(
        session_factory,
        Conflict,
        lambda s: rename(s, get(s, tree.c1), "C2"),
        field="name",
    )
    refuse(session_factory, InvalidValue, lambda s: rename(s, get(s, tree.c1), "a/b"), field="name")


# -- validity -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("valid_from", "valid_to", "field"),
    [
        (datetime(2019, 12, 31, tzinfo=UTC), None, "valid_from"),
        (datetime(2019, 12, 31, tzinfo=UTC), Y2021, "valid_from"),
        (Y2020, Y2030, "valid_to"),
    ],
)
def test_child_outside_parent_period_is_refused(
    session_factory: Factory, valid_from: datetime, valid_to: datetime | None, field: str
) -> None:
    with transaction(session_factory) as session:
        make_templates(session)
        top = create_element(session, template="top", name="Top", valid_from=Y2020, valid_to=Y2023)
        top_id = top.id
    error = refuse(
        session_factory,
        InvalidValue,
        lambda s: create_element(
            s,
            template="region",
            name="R",
            parent=get(s, top_id),
            attributes={"code": 1},
            valid_from=valid_from,
            valid_to=valid_to,
        ),
        field=field,
    )
    assert "must lie within the period [2020-01-01T00:00:00Z, 2023-01-01T00:00:00Z)" in str(error)
    assert "of the parent 'Top'" in str(error)


@pytest.mark.parametrize(
    ("valid_from", "valid_to", "field", "reason"),
    [
        (Y2022, Y2021, "valid_to", "must be after valid_from"),
        (Y2022, Y2022, "valid_to", "must be after valid_from"),
        (datetime(2022, 1, 1), None, "valid_from", "has no time zone"),
        ("2022-01-01", None, "valid_from", "must be a date and time"),
    ],
)
def test_bad_periods_are_refused(
    session_factory: Factory, valid_from: Any, valid_to: Any, field: str, reason: str
) -> None:
    make_tree(session_factory)
    error = refuse(
        session_factory,
        InvalidValue,
        lambda s: create_element(
            s, template="top", name="T2", valid_from=valid_from, valid_to=valid_to
        ),
        field=field,
    )
    assert reason in str(error)


def test_shrinking_a_parent_re_checks_its_children(session_factory: Factory) -> None:
    tree = make_tree(session_factory)
    with transaction(session_factory) as session:
        set_validity(session, get(session, tree.c3), valid_to=Y2030)
    error = refuse(
        session_factory,
        InvalidValue,
        lambda s: set_validity(s, get(s, tree.south), valid_to=Y2023),
        field="valid_to",
    )
    assert "the child 'Top/South/C3' is valid [2020-01-01T00:00:00Z, 2030-01-01T00:00:00Z)" in str(
        error
    )
    assert "outside the new period [2020-01-01T00:00:00Z, 2023-01-01T00:00:00Z)" in str(error)
    error = refuse(
        session_factory,
        InvalidValue,
        lambda s: set_validity(s, get(s, tree.south), valid_from=Y2021),
        field="valid_from",
    )
    refuse(
        session_factory,
        InvalidValue,
        lambda s: set_validity(s, get(s, tree.c3), valid_from=datetime(2019, 1, 1, tzinfo=UTC)),
        field="valid_from",
    )
    with transaction(session_factory, user="ann") as session:
        set_validity(session, get(session, tree.c3), valid_to=Y2023)
        set_validity(session, get(session, tree.south), valid_to=Y2023)
    with session_factory() as session:
        assert get(session, tree.south).valid_to == Y2023
        rows = audit_rows(session, changed_by="ann", attribute="valid_to")
        assert [(r.object_id, r.old_value, r.new_value) for r in rows] == [
            (str(tree.c3), "2030-01-01T00:00:00+00:00", "2023-01-01T00:00:00+00:00"),
            (str(tree.south), None, "2023-01-01T00:00:00+00:00"),
        ]


# -- enable / disable ---------------------------------------------------------------------------


def _enabled(factory: Factory, tree: Tree) -> dict[str, bool]:
    with factory() as session:
        return {e.name: e.enabled for e in session.scalars(select(Element))}


def test_disable_cascades_and_enable_does_not(session_factory: Factory) -> None:
    tree = make_tree(session_factory)
    with transaction(session_factory, user="ann") as session:
        changed = disable(session, get(session, tree.north))
        assert sorted(e.name for e in changed) == ["C1", "C2", "North"]
    assert _enabled(session_factory, tree) == {
        "Top": True,
        "North": False,
        "South": True,
        "C1": False,
        "C2": False,
        "C3": True,
    }
    with session_factory() as session:
        rows = audit_rows(session, action="disable")
        assert {(r.object_id, r.old_value, r.new_value) for r in rows} == {
            (str(i), "true", "false") for i in (tree.north, tree.c1, tree.c2)
        }
    error = refuse(
        session_factory, InvalidValue, lambda s: enable(s, get(s, tree.c1)), field="enabled"
    )
    assert "its parent 'Top/North' is disabled" in str(error)
    with transaction(session_factory) as session:
        enable(session, get(session, tree.north))
        # created under an enabled parent: enabled
    assert _enabled(session_factory, tree)["C1"] is False
    with transaction(session_factory) as session:
        enable(session, get(session, tree.north), recursive=True)
    assert all(_enabled(session_factory, tree).values())
    with session_factory() as session:
        assert len(audit_rows(session, action="enable")) == 3


def test_element_created_under_disabled_parent_is_disabled(session_factory: Factory) -> None:
    tree = make_tree(session_factory)
    with transaction(session_factory) as session:
        disable(session, get(session, tree.south))
        c4 = create_element(
            session, template="consumer", name="C4", parent=get(session, tree.south)
        )
        assert not c4.enabled


# -- move ---------------------------------------------------------------------------------------


def test_move(session_factory: Factory) -> None:
    tree = make_tree(session_factory)
    with transaction(session_factory, user="ann") as session:
        move(session, get(session, tree.c1), get(session, tree.south))
    with session_factory() as session:
        assert get(session, tree.c1).path == "Top/South/C1"
        assert [e.name for e in get(session, tree.north).children] == ["C2"]
        [row] = audit_rows(session, action="move")
        assert (row.object_id, row.attribute, row.old_value, row.new_value, row.changed_by) == (
            str(tree.c1),
            "parent_id",
            str(tree.north),
            str(tree.south),
            "ann",
        )
    with transaction(session_factory) as session:
        move(session, get(session, tree.south), None)
        assert get(session, tree.c1).path == "South/C1"
        move(session, get(session, tree.south), get(session, tree.top))
        move(session, get(session, tree.south), get(session, tree.top))  # no change


def test_move_under_own_descendant_is_refused(session_factory: Factory) -> None:
    tree = make_tree(session_factory)
    error = refuse(
        session_factory,
        InvalidValue,
        lambda s: move(s, get(s, tree.top), get(s, tree.c2)),
        field="parent",
    )
    assert error.reason == "cannot move 'Top' under its own descendant 'Top/North/C2'"  # type: ignore[attr-defined]
    error = refuse(
        session_factory,
        InvalidValue,
        lambda s: move(s, get(s, tree.north), get(s, tree.north)),
        field="parent",
    )
    assert "cannot move 'Top/North' under itself" in str(error)


def test_move_to_a_taken_name_is_a_conflict(session_factory: Factory) -> None:
    tree = make_tree(session_factory)
    with transaction(session_factory) as session:
        create_element(session, template="consumer", name="C1", parent=get(session, tree.south))
    error = refuse(
        session_factory,
        Conflict,
        lambda s: move(s, get(s, tree.c1), get(s, tree.south)),
        field="name",
    )
    assert "an element named 'C1' already exists under 'Top/South'" in str(error)


def test_move_re_checks_validity_against_the_new_parent(session_factory: Factory) -> None:
    tree = make_tree(session_factory)
    with transaction(session_factory) as session:
        set_validity(session, get(session, tree.c3), valid_to=Y2023)
        set_validity(session, get(session, tree.south), valid_to=Y2023)
    error = refuse(
        session_factory,
        InvalidValue,
        lambda s: move(s, get(s, tree.c1), get(s, tree.south)),
        field="valid_to",
    )
    assert (
        "within the period [2020-01-01T00:00:00Z, 2023-01-01T00:00:00Z) of the new parent "
        "'Top/South'" in str(error)
    )


def test_move_under_a_disabled_parent_disables_the_subtree(session_factory: Factory) -> None:
    tree = make_tree(session_factory)
    with transaction(session_factory) as session:
        disable(session, get(session, tree.south))
        move(session, get(session, tree.north), get(session, tree.south))
    states = _enabled(session_factory, tree)
    assert not any(states[name] for name in ("North", "C1", "C2", "South", "C3"))


# -- copy ---------------------------------------------------------------------------------------


def test_copy_subtree_with_attributes(session_factory: Factory) -> None:
    tree = make_tree(session_factory)
    with transaction(session_factory, user="ann") as session:
        clone = copy(session, get(session, tree.north), get(session, tree.top), name="North 2")
        clone_id = clone.id
    with session_factory() as session:
        clone = get(session, clone_id)
        assert [e.path for e in descendants(session, clone)] == ["Top/North 2/C1", "Top/North 2/C2"]
        assert attribute_values(clone) == {"code": 1}
        assert attribute_values(clone.children[1]) == {"tariff": "D02", "power": Decimal("12.5")}
        assert clone.children[1].template.name == "consumer"
        # the original is untouched
        assert [e.name for e in get(session, tree.north).children] == ["C1", "C2"]
        created = audit_rows(session, action="create", changed_by="ann")
        assert {r.object_id for r in created} == {
            str(clone_id),
            *(str(c.id) for c in clone.children),
        }


def test_copy_under_its_own_subtree_copies_the_original_shape(session_factory: Factory) -> None:
    tree = make_tree(session_factory)
    with transaction(session_factory) as session:
        copy(session, get(session, tree.north), get(session, tree.c1))
    with session_factory() as session:
        paths = sorted(e.path for e in descendants(session, get(session, tree.north)))
    assert paths == [
        "Top/North/C1",
        "Top/North/C1/North",
        "Top/North/C1/North/C1",
        "Top/North/C1/North/C2",
        "Top/North/C2",
    ]


def test_copy_refusals(session_factory: Factory) -> None:
    tree = make_tree(session_factory)
    refuse(
        session_factory,
        Conflict,
        lambda s: copy(s, get(s, tree.c1), get(s, tree.north)),
        field="name",
    )
    refuse(
        session_factory,
        InvalidValue,
        lambda s: copy(s, get(s, tree.c1), get(s, tree.north), name=""),
        field="name",
    )
    with transaction(session_factory) as session:
        set_validity(session, get(session, tree.c3), valid_to=Y2023)
        set_validity(session, get(session, tree.south), valid_to=Y2023)
    refuse(
        session_factory,
        InvalidValue,
        lambda s: copy(s, get(s, tree.north), get(s, tree.south), name="N"),
        field="valid_to",
    )


# -- delete -------------------------------------------------------------------------------------


def test_delete_with_children_needs_recursive(session_factory: Factory) -> None:
    tree = make_tree(session_factory)
    error = refuse(
        session_factory, Conflict, lambda s: delete(s, get(s, tree.north)), field="children"
    )
    assert "element 'Top/North' has 2 child element(s) ('C1', 'C2')" in str(error)
    with transaction(session_factory, user="ann") as session:
        delete(session, get(session, tree.north), recursive=True)
        assert [e.name for e in get(session, tree.top).children] == ["South"]
    with session_factory() as session:
        names = session.scalars(select(Element.name).order_by(Element.name)).all()
        assert names == ["C3", "South", "Top"]
        assert session.scalars(select(ElementAttribute.value)).all() == ["2", "D01"]
        rows = audit_rows(session, action="delete", changed_by="ann")
        assert {r.object_id for r in rows} == {str(tree.north), str(tree.c1), str(tree.c2)}
        c2_rows = {r.attribute: r.old_value for r in rows if r.object_id == str(tree.c2)}
        assert c2_rows["name"] == "C2"
        assert c2_rows["attributes.power"] == "12.5"
        assert all(r.new_value is None for r in rows)


def test_delete_leaf(session_factory: Factory) -> None:
    tree = make_tree(session_factory)
    with transaction(session_factory) as session:
        delete(session, get(session, tree.c3))
    with session_factory() as session:
        assert get(session, tree.south).children == []


def test_delete_of_a_referenced_element_is_refused(session_factory: Factory) -> None:
    tree = make_tree(session_factory)
    with transaction(session_factory) as session:
        create_metering_point(session, element=get(session, tree.c2), name="MP 1")
    for element_id in (tree.c2, tree.north):
        error = refuse(
            session_factory,
            Conflict,
            lambda s, element_id=element_id: delete(s, get(s, element_id), recursive=True),
            field="element",
        )
        assert "is still referenced by 1 metering_point row(s)" in str(error)
