"""Named users: argon2 password hashes, the license's named-user limit, enable/disable."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, select
from tree_helpers import Factory, audit_rows, refuse

from meterhub.db import make_sessionmaker, transaction
from meterhub.errors import Conflict, InvalidValue, LicenseLimitExceeded, NotFound
from meterhub.inventory import users
from meterhub.inventory.users import (
    add_user,
    authenticate,
    change_user,
    disable_user,
    enable_user,
    get_user,
    set_password,
    verify_password,
)
from meterhub.licensing import License
from meterhub.model.audit import AuditLog
from meterhub.model.users import AppUser


def licensed(engine: Engine, named_users: int) -> Factory:
    """A session factory whose sessions carry a license allowing ``named_users``."""
    license = License(
        customer="ACME",
        license_id="test-1",
        issued=date(2026, 1, 1),
        expires=None,
        limits={"named_users": named_users},
        features=frozenset({"*"}),
    )
    return make_sessionmaker(engine, license=license)


def test_add_user_hashes_the_password(session_factory: Factory) -> None:
    with transaction(session_factory, user="admin") as session:
        user = add_user(session, " Alice ", "correct horse", display_name="Alice Smith")
        assert user.username == "alice"
    with session_factory() as session:
        user = get_user(session, "ALICE")
        assert user.display_name == "Alice Smith"
        assert user.enabled
        assert user.password_hash is not None and user.password_hash.startswith("$argon2id$")
        assert "correct horse" not in user.password_hash
        assert verify_password(user, "correct horse")
        assert not verify_password(user, "correct horse!")
        assert not verify_password(user, None)  # type: ignore[arg-type]
        with pytest.raises(NotFound, match="no user named 'bob'"):
            get_user(session, "bob")


def test_user_without_local_password(session_factory: Factory) -> None:
    with transaction(session_factory) as session:
        user = add_user(session, "ldap.user@example.com", None)
        assert user.password_hash is None
        assert not verify_password(user, "anything at all")
        assert authenticate(session, "ldap.user@example.com", "anything at all") is None


def test_password_hash_is_never_audited_in_clear(session_factory: Factory) -> None:
    with transaction(session_factory, user="admin") as session:
        user = add_user(session, "alice", "first password")
    with transaction(session_factory, user="alice") as session:
        set_password(session, get_user(session, "alice"), "second password")
    with session_factory() as session:
        hashes = [get_user(session, "alice").password_hash, user.password_hash]
        values = [
            value
            for row in session.scalars(select(AuditLog))
            for value in (row.old_value, row.new_value)
            if value is not None
        ]
        assert not any(h in values for h in hashes)
        assert not any("password" in v and v != "(changed)" for v in values)
        rows = audit_rows(session, attribute="password_hash")
        assert [(r.action, r.old_value, r.new_value, r.changed_by) for r in rows] == [
            ("create", None, "(changed)", "admin"),
            ("change", "(changed)", "(changed)", "alice"),
        ]
        assert verify_password(get_user(session, "alice"), "second password")


def test_authenticate(session_factory: Factory, monkeypatch: pytest.MonkeyPatch) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(users, "PASSWORD_HASHER", weak)
    with transaction(session_factory) as session:
        add_user(session, "alice", "first password")
    monkeypatch.setattr(users, "PASSWORD_HASHER", PasswordHasher())
    with transaction(session_factory) as session:
        assert authenticate(session, "nobody", "first password") is None
        assert authenticate(session, "alice", "wrong password") is None
        user = authenticate(session, "Alice", "first password")
        assert user is not None
        # the weak hash was replaced by one with the current parameters
        assert not PasswordHasher().check_needs_rehash(user.password_hash or "")
        disable_user(session, user)
        assert authenticate(session, "alice", "first password") is None


@pytest.mark.parametrize(
    ("username", "password", "field", "reason"),
    [
        ("", "long enough", "username", "must not be empty"),
        ("al ice", "long enough", "username", "may contain only"),
        ("-alice", "long enough", "username", "must start with a letter or digit"),
        ("a" * 101, "long enough", "username", "at most 100"),
        (7, "long enough", "username", "must be text"),
        ("alice", "short", "password", "at least 8 characters"),
        ("alice", 12345678, "password", "must be text"),
    ],
)
def test_bad_users_are_refused(
    session_factory: Factory, username: Any, password: Any, field: str, reason: str
) -> None:
    error = refuse(
        session_factory, InvalidValue, lambda s: add_user(s, username, password), field=field
    )
    assert reason in str(error)


def test_duplicate_username_is_a_conflict(session_factory: Factory) -> None:
    with transaction(session_factory) as session:
        add_user(session, "alice", "long enough")
    error = refuse(
        session_factory, Conflict, lambda s: add_user(s, "ALICE", "long enough"), field="username"
    )
    assert "a user named 'alice' already exists" in str(error)


def test_named_user_limit_counts_enabled_users(engine: Engine, session_factory: Factory) -> None:
    factory = licensed(engine, named_users=2)
    with transaction(factory) as session:
        add_user(session, "alice", "long enough")
        add_user(session, "bob", "long enough")
    error = refuse(factory, LicenseLimitExceeded, lambda s: add_user(s, "carol", "long enough"))
    assert "allows at most 2 named users; this would make 3" in str(error)
    with transaction(factory, user="admin") as session:
        disable_user(session, get_user(session, "bob"))
        add_user(session, "carol", "long enough")
    refuse(factory, LicenseLimitExceeded, lambda s: enable_user(s, get_user(s, "bob")))
    with transaction(factory) as session:
        disable_user(session, get_user(session, "alice"))
        enable_user(session, get_user(session, "bob"))
        enable_user(session, get_user(session, "bob"))  # already enabled: no change
    with factory() as session:
        enabled = session.scalars(select(AppUser.username).where(AppUser.enabled.is_(True)))
        assert sorted(enabled) == ["bob", "carol"]
        assert [r.action for r in audit_rows(session, attribute="enabled", action="disable")] == [
            "disable",
            "disable",
        ]


def test_no_license_means_no_limit(session_factory: Factory) -> None:
    with transaction(session_factory) as session:
        for number in range(5):
            add_user(session, f"user{number}", None)


def test_change_display_name(session_factory: Factory) -> None:
    with transaction(session_factory) as session:
        add_user(session, "alice", None, display_name="Alice")
    with transaction(session_factory, user="alice") as session:
        change_user(session, get_user(session, "alice"), display_name="  ")
    with session_factory() as session:
        assert get_user(session, "alice").display_name is None
        [row] = audit_rows(session, attribute="display_name", action="change")
        assert (row.old_value, row.new_value, row.changed_by) == ("Alice", None, "alice")
