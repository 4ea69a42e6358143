"""Helpers of the web API tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask.testing import FlaskClient

from meterhub.db import transaction
from meterhub.errors import NotFound
from meterhub.inventory import roles, tokens, users
from meterhub.runtime import Runtime

PASSWORD = "Correct-Horse-42"


def bearer(login: Any) -> dict[str, str]:
    """The Authorization header of a test login."""
    return {"Authorization": f"Bearer {login.token}"}


def browser_login(browser: FlaskClient, username: str, password: str = PASSWORD) -> str:
    """Log ``browser`` in with the login cookie; returns the CSRF token."""
    response = browser.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.get_json()
    return str(response.get_json()["csrf_token"])


#: Every action on every object type: the permissions of a data user in the tests.
ALL_ACTIONS = ["view", "create", "edit", "delete"]


@dataclass
class Login:
    """A user of the tests and a bearer token of theirs."""

    user_id: int
    username: str
    token: str


def make_user(
    runtime: Runtime,
    username: str,
    *,
    role: str = "Administrator",
    permissions: dict[str, list[str]] | None = None,
    functions: list[str] | None = None,
    segments: list[str] = (),  # type: ignore[assignment]
    password: str = "Correct-Horse-42",
) -> Login:
    """Add a user with ``role`` (created with ``permissions``/``functions`` when missing) and
    the named segments, and issue a token for them."""
    with transaction(runtime.sessions, user="test") as session:
        if role == roles.ADMINISTRATOR_ROLE:
            granted = roles.ensure_administrator_role(session)
        else:
            try:
                granted = roles.get_role(session, role)
            except NotFound:
                granted = roles.create_role(
                    session, role, permissions=permissions or {}, functions=functions or []
                )
        user = users.add_user(session, username, password)
        roles.grant_role(session, user, granted)
        for name in segments:
            users.grant_segment(session, user, name)
        _token, plain = tokens.create_token(session, user, "tests")
        return Login(user.id, user.username, plain)
