"""Fixtures for plugin host tests: settings, a license stand-in, fake installed distributions.

Shared by ``tests/core`` and ``tests/cli``, whose conftest files import them (with the
``_isolated_settings`` fixture, which is autouse there).

A fake distribution is a real ``*.dist-info`` directory (METADATA and ``entry_points.txt``)
plus its modules, written to a temporary directory that is put on ``sys.path``: the plugin host
finds it through :mod:`importlib.metadata` exactly like a pip-installed plugin.
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from meterhub.config import Settings, load_settings


class StubLicense:
    """Stands in for :class:`meterhub.licensing.License`: allows all but ``denied``."""

    def __init__(
        self,
        denied: tuple[str, ...] = (),
        customer: str = "Acme",
        license_id: str = "L-1",
    ) -> None:
        self.denied = frozenset(denied)
        self.customer = customer
        self.license_id = license_id
        self.development = False
        self.asked: list[str] = []

    def allows(self, feature: str) -> bool:
        self.asked.append(feature)
        return feature not in self.denied

    def __str__(self) -> str:
        return f"license {self.license_id} for {self.customer}"


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No METERHUB_* variable and no meterhub.toml of the developer leaks into a test."""
    for name in list(os.environ):
        if name.startswith("METERHUB_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings with the data directory in tmp_path and the given overrides."""

    def make(**overrides: Any) -> Settings:
        return load_settings(data_dir=tmp_path / "var", **overrides)

    return make


@pytest.fixture
def stub_license() -> type[StubLicense]:
    """The license stand-in class: ``stub_license(denied=("export:memory",))``."""
    return StubLicense


FakeDist = Callable[..., Path]


@pytest.fixture
def fake_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDist]:
    """Write an installed distribution with entry points and modules; put it on sys.path.

    ``fake_dist("acme-plugins", "2.0", {"meterhub.drivers": {"x": "mod:Obj"}}, {"mod": src})``
    returns the site directory. Modules imported from it are removed from ``sys.modules``
    afterwards.
    """
    created: list[str] = []

    def make(
        name: str,
        version: str,
        entry_points: Mapping[str, Mapping[str, str]],
        modules: Mapping[str, str] = {},  # noqa: B006 - read only
    ) -> Path:
        site = tmp_path / f"site-{name}"
        dist_info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        dist_info.mkdir(parents=True)
        (dist_info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
        )
        lines = []
        for group, items in entry_points.items():
            lines.append(f"[{group}]")
            lines.extend(f"{ep_name} = {value}" for ep_name, value in items.items())
            lines.append("")
        (dist_info / "entry_points.txt").write_text("\n".join(lines), encoding="utf-8")
        for module, source in modules.items():
            (site / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
            created.append(module)
        monkeypatch.syspath_prepend(str(site))
        return site

    yield make
    for module in created:
        sys.modules.pop(module, None)
