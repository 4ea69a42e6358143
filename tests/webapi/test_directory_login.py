"""LDAP / Active Directory logins against a real OpenLDAP slapd on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from api_helpers import make_user
from flask import Flask
from ldap_server import ROOT_DN, ROOT_PASSWORD, SUFFIX, LdapServer, _free_port, ensure_slapd

from meterhub.access.directory import Directory
from meterhub.config import Settings
from meterhub.errors import FeatureNotLicensed
from meterhub.runtime import Runtime, build_runtime
from meterhub.webapi.app import create_app

#: The first test may install slapd from Debian's packages (the fixture bounds it to 600 s).
pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def directory_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LdapServer]:
    ensure_slapd()
    server = LdapServer(tmp_path_factory.mktemp("slapd"), _free_port())
    server.start()
    try:
        server.populate(
            users={"dana": "dana-secret-1", "erik": "erik-secret-1", "admin": "clash-secret-1"},
            groups={"meter-readers": ["dana"], "operators": ["dana", "erik"]},
        )
        yield server
    finally:
        server.stop()


def _ldap_settings(server: LdapServer, **extra: Any) -> dict[str, Any]:
    return {
        "ldap_url": server.url,
        "ldap_bind_dn": ROOT_DN,
        "ldap_bind_password": ROOT_PASSWORD,
        "ldap_user_base": f"ou=people,{SUFFIX}",
        "ldap_group_base": f"ou=groups,{SUFFIX}",
    } | extra


@pytest.fixture
def directory_app(
    directory_server: LdapServer, settings_for: Callable[..., Settings]
) -> Iterator[tuple[Flask, Runtime]]:
    runtime = build_runtime(settings_for(**_ldap_settings(directory_server)))
    yield create_app(runtime=runtime), runtime
    runtime.close()


def _login(app: Flask, username: str, password: str) -> Any:
    return app.test_client().post(
        "/api/v1/auth/login", json={"username": username, "password": password}
    )


def test_a_directory_user_logs_in_with_roles_from_groups(
    directory_app: tuple[Flask, Runtime],
) -> None:
    app, runtime = directory_app
    admin = make_user(runtime, "admin")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {admin.token}"}
    readers = client.post(
        "/api/v1/roles",
        json={
            "name": "Readers",
            "permissions": {"meter": ["view"]},
            "directory_groups": ["meter-readers"],
        },
        headers=headers,
    ).get_json()
    client.post(
        "/api/v1/roles",
        json={
            "name": "Unused",
            "permissions": {"element": ["view"]},
            "directory_groups": ["nobody"],
        },
        headers=headers,
    )
    answer = _login(app, "dana", "dana-secret-1")
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["user"]["source"] == "directory"
    assert body["user"]["display_name"] == "Dana (directory)"
    assert body["user"]["email"] == "dana@meterhub.test"
    assert body["user"]["roles"] == [readers["id"]]
    assert body["permissions"]["meter"] == ["view"] and body["permissions"]["element"] == []
    # erik is in no mapped group: logged in, allowed nothing
    erik = _login(app, "erik", "erik-secret-1").get_json()
    assert erik["user"]["roles"] == [] and erik["permissions"]["meter"] == []


def test_wrong_passwords_and_unknown_users_are_refused(
    directory_app: tuple[Flask, Runtime],
) -> None:
    app, _runtime = directory_app
    for username, password in (
        ("dana", "wrong"),
        ("dana", ""),
        ("nobody", "x-secret-1"),
        ("dana)(uid=*", "x"),
    ):
        answer = _login(app, username, password)
        assert answer.status_code in (401, 422), (username, answer.get_json())


def test_a_local_user_still_logs_in_locally(directory_app: tuple[Flask, Runtime]) -> None:
    app, runtime = directory_app
    make_user(runtime, "admin")  # a local "admin" exists; the directory's "admin" is not used
    assert _login(app, "admin", "Correct-Horse-42").status_code == 200
    assert _login(app, "admin", "clash-secret-1").status_code == 401


def test_an_unreachable_directory_refuses_without_an_error(
    settings_for: Callable[..., Settings], directory_server: LdapServer
) -> None:
    runtime = build_runtime(
        settings_for(
            **_ldap_settings(
                directory_server, ldap_url=f"ldap://127.0.0.1:{_free_port()}", ldap_timeout=1
            )
        )
    )
    try:
        answer = _login(create_app(runtime=runtime), "dana", "dana-secret-1")
    finally:
        runtime.close()
    assert answer.status_code == 401


def test_the_directory_needs_its_license_feature(
    settings_for: Callable[..., Settings],
    test_licenses: Any,
    directory_server: LdapServer,
    tmp_path: Path,
) -> None:
    settings = settings_for(
        **_ldap_settings(directory_server), **test_licenses.settings(features=["driver:*"])
    )
    license = test_licenses.load(features=["driver:*"])
    with pytest.raises(FeatureNotLicensed, match="active-directory"):
        Directory(settings, license)


def test_the_fixture_fails_clearly_where_slapd_cannot_be_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ldap_server

    monkeypatch.setattr(ldap_server, "SLAPD", "/nonexistent/slapd")
    monkeypatch.setattr(ldap_server.shutil, "which", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match="no apt-get to install it"):
        ldap_server.ensure_slapd()
