"""Data segments: assignment to elements, visibility of subtrees, grants to users."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from tree_helpers import Factory, audit_rows, make_tree, refuse

from meterhub.db import transaction
from meterhub.errors import Conflict, InvalidValue, NotFound
from meterhub.inventory.elements import delete, move
from meterhub.inventory.segments import (
    assign_segment,
    create_segment,
    delete_segment,
    get_segment,
    is_visible,
    segments_of,
    unassign_segment,
    visible_element_ids,
    visible_elements,
)
from meterhub.inventory.users import (
    add_user,
    get_user,
    grant_segment,
    revoke_segment,
    visible_elements_for_user,
)
from meterhub.model.elements import Element
from meterhub.model.segments import ElementSegment
from meterhub.model.users import UserSegment


def get(session: Any, element_id: int) -> Element:
    return session.get_one(Element, element_id)


def test_create_segment(session_factory: Factory) -> None:
    tree = make_tree(session_factory)
    with transaction(session_factory) as session:
        create_segment(session, "north", description="Northern grid")
    with session_factory() as session:
        assert get_segment(session, "north").description == "Northern grid"
    error = refuse(session_factory, Conflict, lambda s: create_segment(s, "north"), field="name")
    assert "a data segment named 'north' already exists" in str(error)
    refuse(session_factory, InvalidValue, lambda s: create_segment(s, " "), field="name")
    refuse(session_factory, NotFound, lambda s: assign_segment(s, get(s, tree.top), "nope"))


def test_visibility_follows_the_subtree(session_factory: Factory) -> None:
    tree = make_tree(session_factory)
    with transaction(session_factory, user="ann") as session:
        create_segment(session, "north")
        create_segment(session, "c3")
        create_segment(session, "empty")
        assign_segment(session, get(session, tree.north), "north")
        assign_segment(session, get(session, tree.north), "north")  # twice: no change
        assign_segment(session, get(session, tree.c3), "c3")
    with session_factory() as session:
        assert visible_element_ids(session, ["north"]) == {tree.north, tree.c1, tree.c2}
        assert [e.name for e in visible_elements(session, ["north", "c3"])] == [
            "North",
            "C1",
            "C2",
            "C3",
        ]
        assert visible_elements(session, ["empty"]) == []
        assert visible_elements(session, []) == []
        assert is_visible(session, get(session, tree.c2), ["north"])
        assert not is_visible(session, get(session, tree.top), ["north"])
        assert not is_visible(session, get(session, tree.c3), ["north"])
        assert [s.name for s in segments_of(get(session, tree.north))] == ["north"]
        assert segments_of(get(session, tree.c1)) == []
        rows = audit_rows(session, attribute="segments")
        assert {(r.object_id, r.action, r.old_value, r.new_value, r.changed_by) for r in rows} == {
            (str(tree.north), "change", None, "north", "ann"),
            (str(tree.c3), "change", None, "c3", "ann"),
        }
    # moving an element into an assigned subtree makes it visible
    with transaction(session_factory) as session:
        move(session, get(session, tree.c3), get(session, tree.north))
        assert visible_element_ids(session, ["north"]) == {tree.north, tree.c1, tree.c2, tree.c3}


def test_unassign_and_delete(session_factory: Factory) -> None:
    tree = make_tree(session_factory)
    with transaction(session_factory) as session:
        create_segment(session, "north")
        create_segment(session, "south")
        assign_segment(session, get(session, tree.north), "north")
        assign_segment(session, get(session, tree.south), "south")
        assign_segment(session, get(session, tree.c3), "south")
    with transaction(session_factory, user="ann") as session:
        unassign_segment(session, get(session, tree.north), "north")
        unassign_segment(session, get(session, tree.north), "north")  # nothing left: no change
    with session_factory() as session:
        assert visible_elements(session, ["north"]) == []
        [row] = audit_rows(session, attribute="segments", changed_by="ann")
        assert (row.object_id, row.old_value, row.new_value) == (str(tree.north), "north", None)
    with transaction(session_factory) as session:
        delete(session, get(session, tree.c3))
    with transaction(session_factory) as session:
        delete_segment(session, "south")
    with session_factory() as session:
        assert session.scalars(select(ElementSegment)).all() == []


def test_users_see_the_segments_granted(session_factory: Factory) -> None:
    tree = make_tree(session_factory)
    with transaction(session_factory, user="admin") as session:
        create_segment(session, "north")
        create_segment(session, "south")
        assign_segment(session, get(session, tree.north), "north")
        assign_segment(session, get(session, tree.south), "south")
        user = add_user(session, "bob", "secret-password")
        grant_segment(session, user, "north")
        grant_segment(session, user, "north")
        assert [e.name for e in visible_elements_for_user(session, user)] == ["North", "C1", "C2"]
        grant_segment(session, user, "south")
        revoke_segment(session, user, "north")
        user_id = user.id
    with session_factory() as session:
        user = get_user(session, "bob")
        assert [s.name for s in user.segments] == ["south"]
        assert [e.name for e in visible_elements_for_user(session, user)] == ["South", "C3"]
        rows = audit_rows(session, object_type="app_user", attribute="segments")
        assert [(r.object_id, r.old_value, r.new_value) for r in rows] == [
            (str(user_id), None, "north"),
            (str(user_id), None, "south"),
            (str(user_id), "north", None),
        ]
    with transaction(session_factory) as session:
        delete_segment(session, "south")
    with session_factory() as session:
        assert session.scalars(select(UserSegment)).all() == []
        assert get_user(session, "bob").segments == []
