"""The import contracts of ``.importlinter`` cover the whole core.

import-linter reads a package from one directory, while ``meterhub`` spans core/, plugins/ and
webapi/: the core contract therefore lists the core's modules one by one, and this test fails
when a module is added to core/ without being listed.
"""

from __future__ import annotations

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _contract(name: str) -> configparser.SectionProxy:
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    return config[f"importlinter:contract:{name}"]


def _lines(value: str) -> set[str]:
    return {line.strip() for line in value.splitlines() if line.strip()}


def test_the_core_contract_lists_every_core_module() -> None:
    contract = _contract("core-is-not-web-or-plugins")
    listed = _lines(contract["source_modules"])
    core = ROOT / "core"
    present = {
        f"meterhub.{path.stem}"
        for path in core.iterdir()
        if (path.suffix == ".py" and path.stem != "__init__")
        or (path.is_dir() and (path / "__init__.py").is_file())
    }
    assert present - listed == set(), "add these to .importlinter source_modules"
    assert listed - present == set(), "these are listed in .importlinter but gone from core/"
    assert _lines(contract["forbidden_modules"]) == {"meterhub.plugins", "meterhub.webapi"}


def test_the_independence_contract_lists_every_plugin() -> None:
    listed = _lines(_contract("plugins-are-independent")["modules"])
    plugins = ROOT / "plugins"
    present = {
        f"meterhub.plugins.{path.name}"
        for path in plugins.iterdir()
        if path.is_dir() and (path / "__init__.py").is_file() and path.name != "drivers"
    }
    drivers = plugins / "drivers"
    present |= {
        f"meterhub.plugins.drivers.{path.stem}"
        for path in drivers.iterdir()
        if (path.suffix == ".py" and path.stem != "__init__")
        or (path.is_dir() and (path / "__init__.py").is_file())
    }
    assert present - listed == set(), "add these to the plugins-are-independent contract"
    assert listed - present == set(), "these are listed in .importlinter but gone from plugins/"
