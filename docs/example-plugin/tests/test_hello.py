"""Tests of the example plugin, the way a plugin author writes them."""

from __future__ import annotations

import importlib.metadata
from datetime import UTC, datetime
from pathlib import Path

from meterhub_hello import HelloDestination, HelloPlugin

from meterhub.config import load_settings
from meterhub.extensions.events import FinishedJob
from meterhub.extensions.export import ExportMetadata
from meterhub.licensing import development_license
from meterhub.pluginhost import build_plugin_host


def test_entry_point_is_installed() -> None:
    """The installed distribution declares the entry point MeterHub discovers."""
    (entry_point,) = importlib.metadata.entry_points(group="meterhub.exports", name="hello")
    assert entry_point.load() is HelloPlugin


def test_destination_writes_the_payload(tmp_path: Path) -> None:
    """The contributed destination writes the payload where the target says."""
    # Registered in code, without MeterHub's other plugins: fast and independent.
    settings = load_settings(plugins_disable_autoload=True)
    host = build_plugin_host(development_license(), settings, extra_plugins=[HelloPlugin])
    destination = host.exports()["hello"](str(tmp_path))
    metadata = ExportMetadata("day.csv", "text/csv", "daily", datetime.now(UTC))
    assert destination.deliver(b"a;b\n", metadata) == str(tmp_path / "day.csv")
    assert (tmp_path / "day.csv").read_bytes() == b"a;b\n"
    assert isinstance(destination, HelloDestination)


def test_job_finished_is_recorded() -> None:
    """The event hook receives the finished job."""
    settings = load_settings(plugins_disable_autoload=True)
    host = build_plugin_host(development_license(), settings, extra_plugins=[HelloPlugin])
    now = datetime.now(UTC)
    host.notify("job_finished", job=FinishedJob(7, "daily", "succeeded", now, now, 1, 1, 0))
    plugin = host.plugin("extra", "HelloPlugin")
    assert isinstance(plugin, HelloPlugin)
    assert plugin.finished_jobs == [7]
