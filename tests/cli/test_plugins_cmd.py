"""``meterhub plugins``: loaded, refused and failed plugins, as text and as JSON."""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from click.testing import CliRunner

from meterhub.config import Settings
from meterhub.pluginhost import PluginHost, build_plugin_host

ROOT = Path(__file__).resolve().parents[2]


def _load_plugins_cmd() -> ModuleType:
    """The command module; loaded from its file when the CLI package cannot import yet.

    ``meterhub.cli`` imports every command of the CLI; while one of them is still being written,
    this command is tested on its own (the CLI's own tests cover the package).
    """
    try:
        return importlib.import_module("meterhub.cli.plugins_cmd")
    except ImportError:
        path = ROOT / "core" / "cli" / "plugins_cmd.py"
        spec = importlib.util.spec_from_file_location("_meterhub_plugins_cmd", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module


plugins_cmd = _load_plugins_cmd()


def test_lists_the_builtins() -> None:
    result = CliRunner().invoke(plugins_cmd.plugins_command, [])
    assert result.exit_code == 0, result.output
    output = result.output
    assert "License: license development for Development (no license file)" in output
    # every built-in plugin loads (the media and driver plugins come in the same distribution)
    loaded = json.loads(CliRunner().invoke(plugins_cmd.plugins_command, ["--json"]).output)
    assert f"Loaded ({len(loaded)}):" in output
    assert re.search(
        r"simulated +meterhub\.drivers +meterhub 0\.1\.0 +feature driver:simulated", output
    )
    assert "Refused (0):" in output and "Failed (0):" in output
    assert re.search(
        r"driver +simulated +from meterhub\.drivers:simulated \(meterhub 0\.1\.0\)", output
    )


def test_json_lists_the_records() -> None:
    result = CliRunner().invoke(plugins_cmd.plugins_command, ["--json"])
    assert result.exit_code == 0, result.output
    records = json.loads(result.output)
    assert {(r["group"], r["name"], r["status"]) for r in records} >= {
        ("meterhub.drivers", "simulated", "loaded"),
        ("meterhub.exports", "memory", "loaded"),
        ("meterhub.media", "tcp", "loaded"),
    }
    assert {r["status"] for r in records} == {"loaded"}
    assert set(records[0]) == {
        "group",
        "name",
        "distribution",
        "version",
        "feature",
        "status",
        "reason",
        "target",
    }


def test_shows_refusals_and_failures_with_their_reasons(
    monkeypatch: pytest.MonkeyPatch,
    make_settings: Callable[..., Settings],
    stub_license: Callable[..., Any],
    tmp_path: Path,
) -> None:
    site = tmp_path / "site"
    dist_info = site / "meterhub_broken-0.1.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: meterhub-broken\nVersion: 0.1\n"
    )
    (dist_info / "entry_points.txt").write_text("[meterhub.reports]\nbroken = mh_cmd_broken:P\n")
    (site / "mh_cmd_broken.py").write_text("raise ImportError('needs libxlsx')\n")
    monkeypatch.syspath_prepend(str(site))
    license = stub_license(denied=("export:memory",))

    def build_host() -> PluginHost:
        return build_plugin_host(license, make_settings())

    monkeypatch.setattr(plugins_cmd, "build_host", build_host)
    result = CliRunner().invoke(plugins_cmd.plugins_command, [])
    assert result.exit_code == 0, result.output
    output = result.output
    assert "Refused (1):" in output
    assert (
        "memory  meterhub.exports  meterhub 0.1.0  "
        "feature export:memory not enabled by license L-1 for Acme"
    ) in output
    assert "Failed (1):" in output
    assert "broken  meterhub.reports  meterhub-broken 0.1  ImportError: needs libxlsx" in output


def test_strict_failure_exits_with_the_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    dist_info = site / "meterhub_broken-0.1.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: meterhub-broken\nVersion: 0.1\n"
    )
    (dist_info / "entry_points.txt").write_text("[meterhub.reports]\nbroken = mh_cmd_broken2:P\n")
    (site / "mh_cmd_broken2.py").write_text("raise ImportError('needs libxlsx')\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("METERHUB_PLUGINS_STRICT", "true")
    result = CliRunner().invoke(plugins_cmd.plugins_command, [])
    assert result.exit_code != 0
    assert "needs libxlsx" in str(result.exception)
