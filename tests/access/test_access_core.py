"""The access control core without the web: catalog rules, contexts, scopes, password policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from meterhub.access import context_for_user, system_context
from meterhub.access.catalog import check_actions
from meterhub.access.login import login
from meterhub.access.passwords import PasswordPolicy
from meterhub.access.throttle import LoginThrottle
from meterhub.db import transaction
from meterhub.errors import InvalidValue, PermissionDenied, TooManyAttempts
from meterhub.inventory import elements, parameters, roles, segments, templates, users
from meterhub.model.audit import AuditLog
from meterhub.model.elements import Element

Factory = sessionmaker[Session]


@pytest.mark.parametrize(
    ("actions", "ok"),
    [
        ([], True),
        (["view"], True),
        (["view", "create"], True),
        (["view", "edit"], True),
        (["view", "create", "edit", "delete"], True),
        (["delete"], False),
        (["view", "delete"], False),
        (["view", "create", "delete"], False),
        (["create"], False),
    ],
)
def test_consistency_of_actions(actions: list[str], ok: bool) -> None:
    if ok:
        assert check_actions("meter", actions) == set(actions)
    else:
        with pytest.raises(InvalidValue) as refused:
            check_actions("meter", actions)
        assert refused.value.field == "permissions.meter"


def test_context_joins_roles_and_scope_follows_the_tree(session_factory: Factory) -> None:
    with transaction(session_factory, user="test") as session:
        templates.create_template(session, "Area")
        top = elements.create_element(session, template="Area", name="Top")
        north = elements.create_element(session, template="Area", name="North", parent=top)
        leaf = elements.create_element(session, template="Area", name="Leaf", parent=north)
        elements.create_element(session, template="Area", name="South", parent=top)
        segments.create_segment(session, "N")
        segments.assign_segment(session, north, "N")
        reader = roles.create_role(session, "Reader", permissions={"element": ["view"]})
        editor = roles.create_role(
            session, "Editor", permissions={"element": ["view", "edit"]}, functions=["api_tokens"]
        )
        user = users.add_user(session, "erin", "Correct-Horse-42")
        roles.grant_role(session, user, reader)
        roles.grant_role(session, user, editor)
        users.grant_segment(session, user, "N")
        access = context_for_user(user)
        assert access.can("element", "edit") and not access.can("element", "delete")
        assert access.has_function("api_tokens") and not access.has_function("administration")
        visible = session.scalars(access.scope.restrict(select(Element.name), "element")).all()
        assert sorted(visible) == ["Leaf", "North"]
        limited = context_for_user(user, roles=[reader])
        assert not limited.can("element", "edit")
        with pytest.raises(PermissionDenied, match="edit element"):
            limited.require("element", "edit")
        assert leaf.id in set(session.scalars(access.scope.element_ids()))
    assert system_context().can("meter", "delete")


def test_policy_rules() -> None:
    policy = PasswordPolicy(min_length=10, complexity="complex", expiry_days=90, warning_days=7)
    assert policy.check("Tr0ub4dor&3x", "erin")
    for bad, reason in (
        ("short1A!", "at least 10"),
        ("erin-Secret-1", "user name"),
        ("onlyletterslower", "3 of"),
    ):
        with pytest.raises(InvalidValue, match=reason):
            policy.check(bad, "erin")
    now = datetime(2026, 6, 1, tzinfo=UTC)
    assert policy.is_expired(now - timedelta(days=91), now)
    assert policy.warn_days_left(now - timedelta(days=85), now) == 5
    assert policy.warn_days_left(now - timedelta(days=10), now) is None


def test_core_login_locks_after_failures_and_throttles(session_factory: Factory) -> None:
    with transaction(session_factory, user="test") as session:
        users.add_user(session, "erin", "Correct-Horse-42")
        parameters.set_parameter(session, "password.max_failed_logins", 2)
        parameters.set_parameter(session, "login.attempts_per_minute", 3)
    throttle = LoginThrottle()
    outcomes = []
    for _ in range(3):
        with transaction(session_factory) as session:
            outcomes.append(login(session, "erin", "wrong", client="10.0.0.1", throttle=throttle))
    assert [o.ok for o in outcomes] == [False, False, False]
    with transaction(session_factory) as session, pytest.raises(TooManyAttempts):
        login(session, "erin", "Correct-Horse-42", client="10.0.0.1", throttle=throttle)
    with transaction(session_factory) as session:
        locked = login(session, "erin", "Correct-Horse-42", client="10.0.0.2")
        assert not locked.ok and "locked" in (locked.reason or "")
        actions = session.scalars(
            select(AuditLog.action).where(AuditLog.changed_by == "erin")
        ).all()
    # two failures lock the account; the third attempt and the right password are refused
    assert actions == ["login_failed", "login_failed", "lockout", "login_refused", "login_refused"]


def test_login_sessions_end_when_idle_and_at_their_end(session_factory: Factory) -> None:
    from meterhub.inventory import tokens

    start = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
    with transaction(session_factory, user="test") as session:
        user = users.add_user(session, "erin", "Correct-Horse-42")
        parameters.set_parameter(session, "session.idle_minutes", 30)
        parameters.set_parameter(session, "session.max_hours", 2)
        _login, plain = tokens.create_login_session(session, user, now=start)
        for minutes in (20, 45, 70, 95):  # a request every 25 minutes keeps it alive ...
            assert tokens.find_login_session(session, plain, now=start + timedelta(minutes=minutes))
        # ... until its absolute end, and an idle half hour ends it too
        assert tokens.find_login_session(session, plain, now=start + timedelta(minutes=121)) is None
        _login, other = tokens.create_login_session(session, user, now=start)
        assert tokens.find_login_session(session, other, now=start + timedelta(minutes=31)) is None


def test_tokens_expire_and_stay_within_the_longest_validity(session_factory: Factory) -> None:
    from meterhub.inventory import tokens

    now = datetime(2026, 6, 1, tzinfo=UTC)
    with transaction(session_factory, user="test") as session:
        user = users.add_user(session, "erin", "Correct-Horse-42")
        token, plain = tokens.create_token(
            session, user, "short", expires_at=now + timedelta(days=1), now=now
        )
        assert tokens.find_token(session, plain, now=now + timedelta(hours=23)) is token
        assert tokens.find_token(session, plain, now=now + timedelta(days=1)) is None
        with pytest.raises(InvalidValue, match="at most 365 days"):
            tokens.create_token(
                session, user, "long", expires_at=now + timedelta(days=400), now=now
            )
        with pytest.raises(InvalidValue, match="future"):
            tokens.create_token(session, user, "past", expires_at=now - timedelta(days=1), now=now)
