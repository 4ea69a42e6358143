"""Canaries for the stevedore defects the plugin host works around.

The plugin host lists entry points itself and hands them to stevedore through
``meterhub.pluginhost.discovery.FreshEntryPointManager`` instead of letting stevedore list them,
because stevedore's entry-point caches go stale (measured with stevedore 5.10):

1. ``ExtensionManager.ENTRY_POINT_CACHE`` is a class-level dict keyed only by the group: once a
   process has looked at a group, a plugin installed (or a ``sys.path`` entry added) afterwards
   stays invisible to every later manager of that group in the process.
2. The file cache (``~/.cache/python-entrypoints``) is keyed by a hash of the file mtimes packed
   as 32-bit floats: today's epoch seconds lose their last 7 bits (128 s), so an
   ``entry_points.txt`` rewritten within that window (a plugin reinstalled with new entry points)
   is read from the stale cache by the next process.

Each test asserts the defect. **When one fails, stevedore has fixed (or changed) that cache**:
re-check it, and once neither defect is real, drop ``FreshEntryPointManager`` and let stevedore
list the entry points.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

#: A group no real distribution uses.
GROUP = "meterhub.canary.stevedore"

_PROBE = """
import importlib, importlib.metadata, json, sys
from stevedore.extension import ExtensionManager

group, site = sys.argv[1], sys.argv[2]
before = ExtensionManager(group).names()
sys.path.insert(0, site)
importlib.invalidate_caches()
after = ExtensionManager(group).names()
metadata = [ep.name for ep in importlib.metadata.entry_points(group=group)]
print(json.dumps({"before": before, "after": after, "metadata": metadata}))
"""


def _write_dist(site: Path, entry_points: dict[str, str]) -> Path:
    """An installed distribution with ``entry_points`` in :data:`GROUP`; its entry_points.txt."""
    dist_info = site / "canary_dist-1.0.dist-info"
    dist_info.mkdir(parents=True, exist_ok=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: canary-dist\nVersion: 1.0\n", encoding="utf-8"
    )
    (site / "canary_module.py").write_text("class Plugin:\n    pass\n", encoding="utf-8")
    lines = [f"[{GROUP}]", *(f"{name} = {value}" for name, value in entry_points.items())]
    path = dist_info / "entry_points.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_stevedore_class_cache_hides_a_plugin_installed_later(tmp_path: Path) -> None:
    """Defect 1; run in a subprocess with its own cache directory, so nothing leaks."""
    site = tmp_path / "site"
    _write_dist(site, {"late": "canary_module:Plugin"})
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    environment["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_PROBE), GROUP, str(site)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    seen = json.loads(result.stdout)
    assert seen["metadata"] == ["late"], "the plugin is installed and importlib.metadata sees it"
    assert seen["before"] == []
    assert seen["after"] == [], (
        "stevedore now sees a plugin installed after its first look at the group: the class "
        "cache defect is fixed; re-check and drop FreshEntryPointManager if the file cache "
        "canary agrees"
    )


def test_stevedore_file_cache_key_ignores_mtime_changes_under_128_seconds(
    tmp_path: Path,
) -> None:
    """Defect 2: two different mtimes of the same entry_points.txt give the same cache key."""
    from stevedore import _cache

    site = tmp_path / "site"
    entry_points = _write_dist(site, {"first": "canary_module:Plugin"})
    bucket = 128
    base = 1_700_000_000 - 1_700_000_000 % bucket + 1  # early in a float32 rounding bucket
    os.utime(entry_points, (base, base))
    first_key, _ = _cache._hash_settings_for_path((str(site),))
    _write_dist(site, {"first": "canary_module:Plugin", "second": "canary_module:Plugin"})
    os.utime(entry_points, (base + 30, base + 30))  # rewritten 30 s later
    second_key, _ = _cache._hash_settings_for_path((str(site),))
    os.utime(entry_points, (base + 10 * bucket, base + 10 * bucket))
    far_key, _ = _cache._hash_settings_for_path((str(site),))
    assert far_key != first_key, "the key does depend on the mtime (the probe works)"
    assert second_key == first_key, (
        "stevedore's file cache now notices an entry_points.txt rewritten 30 s later: the "
        "mtime defect is fixed; re-check and drop FreshEntryPointManager if the class cache "
        "canary agrees"
    )
