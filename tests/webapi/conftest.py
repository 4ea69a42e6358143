from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import Engine

from meterhub.config import Settings, load_settings
from meterhub.licensing import generate_keypair, sign_license
from meterhub.runtime import Runtime, build_runtime
from meterhub.webapi.app import create_app


@pytest.fixture
def settings_for(tmp_path: Path, database_url: str, engine: Engine) -> Callable[..., Settings]:
    def make(**overrides: object) -> Settings:
        values = {"data_dir": tmp_path / "data", "database_url": database_url} | overrides
        return load_settings(**values)

    return make


@pytest.fixture
def signed_license(tmp_path: Path) -> Callable[..., tuple[Path, Path]]:
    """Write a license signed by a test key; returns (license file, public key)."""
    private, public = tmp_path / "vendor.pem", tmp_path / "vendor.pub.pem"
    generate_keypair(private, public)

    def make(**payload: object) -> tuple[Path, Path]:
        body = {
            "customer": "Acme Energy",
            "license_id": "L-2026-001",
            "issued": date(2026, 1, 1).isoformat(),
            "expires": "2099-12-31",
            "limits": {"virtual_meters": 1000, "named_users": 2},
            "features": ["driver:*", "export:*"],
        } | payload
        path = tmp_path / "license.json"
        path.write_text(sign_license(body, private))
        return path, public

    return make


@pytest.fixture
def runtime(settings_for: Callable[..., Settings]) -> Iterator[Runtime]:
    runtime = build_runtime(settings_for())
    yield runtime
    runtime.close()


@pytest.fixture
def app(runtime: Runtime) -> Flask:
    return create_app(runtime=runtime)
