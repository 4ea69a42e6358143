from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine

from meterhub.config import Settings, load_settings
from meterhub.runtime import Runtime, build_runtime
from meterhub.webapi.app import create_app


@pytest.fixture
def settings_for(tmp_path: Path, database_url: str, engine: Engine) -> Callable[..., Settings]:
    def make(**overrides: object) -> Settings:
        values = {"data_dir": tmp_path / "data", "database_url": database_url} | overrides
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
