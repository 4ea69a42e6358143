from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import Login, make_user
from flask import Flask

from meterhub.client import Client
from meterhub.config import Settings, load_settings
from meterhub.runtime import Runtime, build_runtime
from meterhub.webapi.app import create_app


@pytest.fixture
def settings_for(
    tmp_path: Path, database_url: str, session_factory: Any
) -> Callable[..., Settings]:
    """Settings on the shared test database (emptied around each test), plain-HTTP cookies."""

    def make(**overrides: object) -> Settings:
        values = {
            "data_dir": tmp_path / "data",
            "database_url": database_url,
            "secure_cookies": False,
        } | overrides
        return load_settings(**values)

    return make


@pytest.fixture
def signed_license(test_licenses: Any) -> Callable[..., tuple[Path, Path]]:
    """Write a license signed by the run's test key; returns (license file, public key)."""

    def make(**terms: Any) -> tuple[Path, Path]:
        terms = {
            "customer": "Acme Energy",
            "license_id": "L-2026-001",
            "expires": "2099-12-31",
            "limits": {"virtual_meters": 1000, "named_users": 2},
            "features": ["driver:*", "export:*"],
        } | terms
        return test_licenses.write(**terms), test_licenses.public_key

    return make


@pytest.fixture
def runtime(settings_for: Callable[..., Settings]) -> Iterator[Runtime]:
    runtime = build_runtime(settings_for())
    yield runtime
    runtime.close()


@pytest.fixture
def app(runtime: Runtime) -> Flask:
    return create_app(runtime=runtime)


# -- users, tokens and the API client -----------------------------------------------------------


@pytest.fixture
def admin(runtime: Runtime) -> Login:
    """An administrator (every permission, every segment) with a token."""
    return make_user(runtime, "admin")


@pytest.fixture
def client_for(app: Flask) -> Iterator[Callable[[Login], Client]]:
    """``client_for(login)``: a :class:`meterhub.client.Client` talking to ``app`` in-process."""
    made: list[Client] = []

    def make(login: Login) -> Client:
        client = Client("http://testserver", login.token, transport=httpx.WSGITransport(app=app))
        made.append(client)
        return client

    yield make
    for client in made:
        client.http.close()


@pytest.fixture
def hub(admin: Login, client_for: Callable[[Login], Client]) -> Client:
    """The API client of the administrator."""
    return client_for(admin)
