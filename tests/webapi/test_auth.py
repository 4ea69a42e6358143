"""Logins, cookies, CSRF, security headers, tokens, throttling, lockout, password policy."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from api_helpers import PASSWORD, Login, bearer, browser_login, make_user
from flask import Flask
from sqlalchemy import select

from meterhub.client import ApiError, Client
from meterhub.db import transaction
from meterhub.inventory import parameters
from meterhub.model.users import AppUser
from meterhub.runtime import Runtime


def set_parameter(runtime: Runtime, name: str, value: object) -> None:
    with transaction(runtime.sessions, user="test") as session:
        parameters.set_parameter(session, name, value)


def test_login_sets_safe_cookies_and_logout_ends_the_login(app: Flask, admin: Login) -> None:
    browser = app.test_client()
    answer = browser.post("/api/v1/auth/login", json={"username": "Admin", "password": PASSWORD})
    assert answer.status_code == 200
    cookies = {c.split("=", 1)[0]: c for c in answer.headers.getlist("Set-Cookie")}
    assert "HttpOnly" in cookies["meterhub_session"]
    assert "SameSite=Strict" in cookies["meterhub_session"]
    assert "HttpOnly" not in cookies["meterhub_csrf"]  # the page's script reads it
    csrf = answer.get_json()["csrf_token"]
    assert browser.get("/api/v1/auth/me").get_json()["user"]["username"] == "admin"
    assert browser.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert browser.get("/api/v1/auth/me").status_code == 401


def test_cookies_are_secure_by_default(settings_for: Callable[..., object]) -> None:
    from meterhub.runtime import build_runtime
    from meterhub.webapi.app import create_app

    runtime = build_runtime(settings_for(secure_cookies=True))  # type: ignore[operator]
    try:
        make_user(runtime, "admin")
        browser = create_app(runtime=runtime).test_client()
        answer = browser.post(
            "/api/v1/auth/login",
            json={"username": "admin", "password": PASSWORD},
            base_url="https://localhost",
        )
    finally:
        runtime.close()
    assert all("Secure" in cookie for cookie in answer.headers.getlist("Set-Cookie"))
    assert answer.headers["Strict-Transport-Security"].startswith("max-age=")


def test_changes_with_the_cookie_need_the_csrf_token(app: Flask, admin: Login) -> None:
    browser = app.test_client()
    csrf = browser_login(browser, "admin")
    refused = browser.post("/api/v1/segments", json={"name": "North"})
    assert refused.status_code == 403
    assert "X-CSRF-Token" in refused.get_json()["detail"]
    wrong = browser.post("/api/v1/segments", json={"name": "North"}, headers={"X-CSRF-Token": "x"})
    assert wrong.status_code == 403
    done = browser.post("/api/v1/segments", json={"name": "North"}, headers={"X-CSRF-Token": csrf})
    assert done.status_code == 201
    # a bearer token is not sent by browsers on their own: no CSRF token needed with it
    assert (
        app.test_client()
        .post("/api/v1/segments", json={"name": "South"}, headers=bearer(admin))
        .status_code
        == 201
    )


def test_security_headers_on_pages_and_answers(app: Flask, admin: Login) -> None:
    client = app.test_client()
    for path in ("/login", "/api/system", "/api/openapi.json"):
        headers = client.get(path).headers
        assert "default-src 'self'" in headers["Content-Security-Policy"], path
        assert "script-src 'self';" in headers["Content-Security-Policy"], path
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
    assert (
        client.get("/api/v1/elements", headers=bearer(admin)).headers["Cache-Control"] == "no-store"
    )


def test_the_api_docs_page_is_served_offline(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/api/docs").get_data(as_text=True)
    assert "http://" not in page and "https://" not in page  # nothing from elsewhere
    for asset in ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"):
        assert f"/api/docs/assets/{asset}" in page
        response = client.get(f"/api/docs/assets/{asset}")
        assert response.status_code == 200 and len(response.get_data()) > 10_000
        response.close()
    script = client.get("/api/docs/meterhub/apidocs.js")
    assert script.status_code == 200
    script.close()
    assert client.get("/api/docs/assets/index.html").status_code == 404


def test_wrong_passwords_are_audited_and_lock_the_account(
    app: Flask, runtime: Runtime, admin: Login, hub: Client
) -> None:
    set_parameter(runtime, "password.max_failed_logins", 3)
    make_user(runtime, "bob", role="Viewer", permissions={"element": ["view"]})
    browser = app.test_client()
    for _ in range(3):
        answer = browser.post("/api/v1/auth/login", json={"username": "bob", "password": "nope"})
        assert answer.status_code == 401
        assert answer.get_json()["detail"] == "wrong user name or password"
    locked = browser.post("/api/v1/auth/login", json={"username": "bob", "password": PASSWORD})
    assert locked.status_code == 401
    assert "locked" in locked.get_json()["detail"]
    events = [row["action"] for row in hub.list("audit-log", changed_by="bob", sort="id")]
    assert events == ["login_failed"] * 3 + ["lockout", "login_refused"]
    bob = next(hub.list("users", username="bob"))
    assert bob["locked"] is True
    hub.request("POST", f"users/{bob['id']}/unlock")
    assert browser_login(browser, "bob")
    assert [row["action"] for row in hub.list("audit-log", changed_by="bob", sort="-id")][
        0
    ] == "login"


def test_logins_are_throttled(app: Flask, runtime: Runtime, admin: Login) -> None:
    set_parameter(runtime, "login.attempts_per_minute", 2)
    browser = app.test_client()
    for _ in range(2):
        assert (
            browser.post(
                "/api/v1/auth/login", json={"username": "admin", "password": "wrong"}
            ).status_code
            == 401
        )
    throttled = browser.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) >= 1


def test_password_policy_length_complexity_history(
    app: Flask, runtime: Runtime, admin: Login, client_for: Callable[[Login], Client]
) -> None:
    set_parameter(runtime, "password.min_length", 12)
    set_parameter(runtime, "password.complexity", "complex")
    set_parameter(runtime, "password.history_depth", 2)
    me = client_for(admin)

    def change(old: str, new: str) -> ApiError | None:
        try:
            me.request("POST", "auth/password", json={"current_password": old, "new_password": new})
        except ApiError as error:
            return error
        return None

    cases = {
        "Short-1": "at least 12 characters",
        "Admin-is-my-name-1": "must not contain the user name",
        "alllowercaseletters": "at least 3 of",
    }
    for password, reason in cases.items():
        error = change(PASSWORD, password)
        assert error is not None and error.errors[0]["field"] == "password", password
        assert reason in error.errors[0]["reason"]
    assert change(PASSWORD, "Second-Password-2") is None
    reused = change("Second-Password-2", PASSWORD)  # the one before: within the history depth
    assert reused is not None and "must differ from the last 2" in reused.errors[0]["reason"]
    assert change("Second-Password-2", "Third-Password-3") is None
    assert change("Third-Password-3", PASSWORD) is None  # now older than the history depth
    wrong = change("not it", "Fourth-Password-4")
    assert wrong is not None and wrong.errors[0]["field"] == "current_password"


def test_an_expired_password_only_lets_the_user_change_it(
    app: Flask, runtime: Runtime, admin: Login
) -> None:
    set_parameter(runtime, "password.expiry_days", 30)
    with transaction(runtime.sessions, user="test") as session:
        user = session.scalar(select(AppUser).where(AppUser.username == "admin"))
        assert user is not None
        user.password_changed_at = datetime.now(UTC) - timedelta(days=31)
    browser = app.test_client()
    answer = browser.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
    assert answer.get_json()["password_expired"] is True
    csrf = answer.get_json()["csrf_token"]
    assert browser.get("/api/v1/elements").status_code == 403
    changed = browser.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "Brand-New-Secret-7"},
        headers={"X-CSRF-Token": csrf},
    )
    assert changed.status_code == 204
    assert browser.get("/api/v1/auth/me").status_code == 401  # log in again
    again = browser.post(
        "/api/v1/auth/login", json={"username": "admin", "password": "Brand-New-Secret-7"}
    ).get_json()
    assert again["password_expired"] is False


def test_the_warning_before_expiry(app: Flask, runtime: Runtime, admin: Login) -> None:
    set_parameter(runtime, "password.expiry_days", 30)
    set_parameter(runtime, "password.warning_days", 10)
    with transaction(runtime.sessions, user="test") as session:
        user = session.scalar(select(AppUser).where(AppUser.username == "admin"))
        assert user is not None
        user.password_changed_at = datetime.now(UTC) - timedelta(days=25, hours=1)
    answer = app.test_client().post(
        "/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}
    )
    assert answer.get_json()["password_warning_days"] == 4


def test_an_administrator_resets_a_password(app: Flask, runtime: Runtime, hub: Client) -> None:
    bob = make_user(runtime, "bob", role="Viewer", permissions={"element": ["view"]})
    bobs_browser = app.test_client()
    browser_login(bobs_browser, "bob")
    hub.request("POST", f"users/{bob.user_id}/password", json={"password": "Reset-By-Admin-1"})
    assert bobs_browser.get("/api/v1/auth/me").status_code == 401  # the old login ended
    browser_login(app.test_client(), "bob", "Reset-By-Admin-1")
    assert any(
        row["action"] == "password_reset"
        for row in hub.list("audit-log", object_id=str(bob.user_id))
    )


def test_tokens_are_shown_once_stored_hashed_and_revoked_at_once(
    app: Flask, runtime: Runtime, admin: Login, hub: Client
) -> None:
    created = hub.create("tokens", name="integration")
    plain = created["token"]
    assert plain.startswith("mh_") and len(plain) > 40
    listed = hub.fetch("tokens", created["id"])
    assert "token" not in listed and listed["prefix"] == plain[:10]
    with runtime.engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT token_digest FROM api_token").scalars().all()
    assert plain not in stored
    import hashlib

    assert hashlib.sha256(plain.encode()).hexdigest() in stored
    client = app.test_client()
    headers = {"Authorization": f"Bearer {plain}"}
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
    hub.request("DELETE", f"tokens/{created['id']}")
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401
    assert any(
        row["action"] == "token_revoked" for row in hub.list("audit-log", object_type="api_token")
    )


def test_expired_and_malformed_tokens_are_refused(app: Flask, hub: Client) -> None:
    soon = (datetime.now(UTC) + timedelta(days=400)).isoformat()
    with pytest.raises(ApiError) as refused:
        hub.create("tokens", name="too long", expires_at=soon)
    assert refused.value.errors[0]["field"] == "expires_at"
    client = app.test_client()
    for header in ("Bearer mh_nonsense", "Bearer", "Basic YWRtaW46eA==", "Bearer other-token"):
        answer = client.get("/api/v1/elements", headers={"Authorization": header})
        assert answer.status_code == 401, header
        assert answer.headers["WWW-Authenticate"] == "Bearer"


def test_a_token_limited_to_a_role_has_only_that_role(
    app: Flask, runtime: Runtime, admin: Login, hub: Client, client_for: Callable[[Login], Client]
) -> None:
    viewer = hub.create("roles", name="Viewer", permissions={"element": ["view"]})
    me = hub.get("auth/me")
    hub.update("users", me["user"]["id"], roles=[*me["user"]["roles"], viewer["id"]])
    limited = hub.create("tokens", name="read only", roles=[viewer["id"]])
    client = app.test_client()
    headers = {"Authorization": f"Bearer {limited['token']}"}
    assert client.get("/api/v1/elements", headers=headers).status_code == 200
    assert client.get("/api/v1/meters", headers=headers).status_code == 403
    assert client.post("/api/v1/segments", json={"name": "x"}, headers=headers).status_code == 403


def test_a_cached_token_context_follows_changes_made_elsewhere(
    runtime: Runtime, admin: Login
) -> None:
    from meterhub.webapi.app import create_app

    reader = make_user(runtime, "reader", role="Readers", permissions={"meter": ["view"]})
    here, elsewhere = (
        create_app(runtime=runtime).test_client(),
        create_app(runtime=runtime).test_client(),
    )
    assert here.get("/api/v1/meters", headers=bearer(reader)).status_code == 200  # now cached
    role = elsewhere.get("/api/v1/roles?name=Readers", headers=bearer(admin)).get_json()["items"][0]
    etag = elsewhere.get(f"/api/v1/roles/{role['id']}", headers=bearer(admin)).headers["ETag"]
    changed = elsewhere.patch(
        f"/api/v1/roles/{role['id']}",
        json={"permissions": {"element": ["view"]}},
        headers={**bearer(admin), "If-Match": etag},
    )
    assert changed.status_code == 200
    # another process's change reaches this process's cached context at the next request
    assert here.get("/api/v1/meters", headers=bearer(reader)).status_code == 403
    assert here.get("/api/v1/elements", headers=bearer(reader)).status_code == 200
