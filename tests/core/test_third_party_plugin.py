"""A third-party plugin, built and installed as a wheel, is found through its entry point.

The example distribution in ``docs/example-plugin`` is built into a wheel and installed into a
separate directory, which is then put on the path of a ``meterhub plugins --json`` subprocess
and of this process. No in-process shortcut: the plugin is found only through the installed
distribution's ``entry_points.txt``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from meterhub.config import Settings
from meterhub.extensions.events import FinishedJob
from meterhub.extensions.export import ExportMetadata
from meterhub.licensing import development_license, generate_keypair, sign_license
from meterhub.pluginhost import build_plugin_host

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "example-plugin"
PLUGINS_CMD = ROOT / "core" / "cli" / "plugins_cmd.py"


@dataclass(frozen=True)
class Installed:
    """The example plugin built and installed: the site directory and the source copy."""

    site: Path
    source: Path
    workdir: Path


def _quiet_pip_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Build the example plugin's wheel and install it into a separate site directory."""
    workdir = tmp_path_factory.mktemp("example-plugin")
    # Build from a copy, so the build leaves no build/ or *.egg-info in the repository.
    source = workdir / "src"
    shutil.copytree(
        EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    )
    dist, site = workdir / "dist", workdir / "site"
    pip = [sys.executable, "-m", "pip"]
    env = _quiet_pip_env()
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(source)],
        check=True,
        env=env,
        capture_output=True,
        timeout=120,
    )
    (wheel,) = dist.glob("meterhub_hello-1.0.0-*.whl")
    subprocess.run(
        [*pip, "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        check=True,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert (site / "meterhub_hello-1.0.0.dist-info" / "entry_points.txt").is_file()
    return Installed(site, source, workdir)


def _plugins_command() -> list[str]:
    """``meterhub plugins`` through the console script when the CLI package imports.

    While another command of the CLI package is still being written, the plugins command is run
    from its file instead (same code, same process setup, no package import).
    """
    try:
        import meterhub.cli
    except ImportError:
        runner = (
            "import runpy, sys; sys.argv[0] = 'meterhub plugins'; "
            f"runpy.run_path({str(PLUGINS_CMD)!r}, run_name='__main__')"
        )
        return [sys.executable, "-c", runner]
    script = Path(sys.executable).with_name("meterhub")
    assert hasattr(meterhub.cli, "main") and script.is_file()
    return [str(script), "plugins"]


def run_plugins_json(installed: Installed, tmp_path: Path, **env: str) -> list[dict[str, Any]]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("METERHUB_")}
    environment["PYTHONPATH"] = str(installed.site)
    environment["METERHUB_DATA_DIR"] = str(tmp_path / "var")
    environment.update(env)
    result = subprocess.run(
        [*_plugins_command(), "--json"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_listed_with_its_distribution(installed: Installed, tmp_path: Path) -> None:
    records = run_plugins_json(installed, tmp_path)
    (hello,) = [r for r in records if r["name"] == "hello"]
    assert hello == {
        "group": "meterhub.exports",
        "name": "hello",
        "distribution": "meterhub-hello",
        "version": "1.0.0",
        "feature": "export:hello",
        "status": "loaded",
        "reason": "",
        "target": "meterhub_hello:HelloPlugin",
    }
    assert {r["name"] for r in records if r["status"] == "loaded"} >= {"simulated", "memory"}


def test_refused_by_a_signed_license_without_its_feature(
    installed: Installed, tmp_path: Path
) -> None:
    private, public = tmp_path / "vendor.pem", tmp_path / "vendor.pub.pem"
    generate_keypair(private, public)
    payload = {
        "customer": "Acme",
        "license_id": "L-1",
        "issued": "2026-01-01",
        "expires": None,
        "limits": {},
        "features": ["driver:*", "export:memory"],
    }
    license_file = tmp_path / "license.json"
    license_file.write_text(sign_license(payload, private), encoding="utf-8")
    records = run_plugins_json(
        installed,
        tmp_path,
        METERHUB_LICENSE_FILE=str(license_file),
        METERHUB_LICENSE_PUBLIC_KEY=str(public),
    )
    by_name = {r["name"]: r for r in records}
    assert by_name["hello"]["status"] == "refused"
    assert by_name["hello"]["distribution"] == "meterhub-hello"
    assert by_name["hello"]["reason"] == "feature export:hello not enabled by license L-1 for Acme"
    assert by_name["memory"]["status"] == "loaded"
    assert by_name["simulated"]["status"] == "loaded"


@pytest.fixture
def on_path(installed: Installed, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The site directory on sys.path of this process; the plugin module is unloaded after."""
    monkeypatch.syspath_prepend(str(installed.site))
    yield installed.site
    for name in [
        m for m in sys.modules if m == "meterhub_hello" or m.startswith("meterhub_hello.")
    ]:
        del sys.modules[name]


def test_hook_called_and_contribution_works_in_process(
    on_path: Path, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    host = build_plugin_host(development_license(), make_settings())
    record = host.record("meterhub.exports", "hello")
    assert (record.status, record.distribution, record.version) == (
        "loaded",
        "meterhub-hello",
        "1.0.0",
    )
    import meterhub_hello  # type: ignore[import-not-found]

    assert Path(meterhub_hello.__file__).is_relative_to(on_path), "the installed copy is used"
    destination_class = host.exports()["hello"]
    assert destination_class is meterhub_hello.HelloDestination
    created = datetime(2026, 3, 2, tzinfo=UTC)
    metadata = ExportMetadata("../../escape.csv", "text/csv", "daily", created)
    reference = destination_class(str(tmp_path / "out")).deliver(b"a;b\n", metadata)
    assert reference == str(tmp_path / "out" / "escape.csv")
    assert (tmp_path / "out" / "escape.csv").read_bytes() == b"a;b\n"

    job = FinishedJob(42, "daily", "succeeded", created, created, 3, 3, 0)
    host.notify("job_finished", job=job)
    plugin = host.plugin("meterhub.exports", "hello")
    assert plugin is host.pm.get_plugin("meterhub.exports:hello")
    assert isinstance(plugin, meterhub_hello.HelloPlugin)
    assert plugin.finished_jobs == [42]


def test_example_plugin_tests_pass(installed: Installed) -> None:
    """The example's own tests (what the guide tells authors to write) pass against it."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("METERHUB_")}
    environment["PYTHONPATH"] = str(installed.site)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=installed.source,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
