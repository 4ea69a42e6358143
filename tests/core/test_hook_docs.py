"""The documentation keeps up with the hooks (datasette's test_docs idea).

For every hook in :mod:`meterhub.hookspecs`: a docstring with a ``:param:`` line per argument
(and the fixed firstresult sentence exactly on firstresult hooks), a heading in
``docs/plugins.md`` with the exact signature, and a test named ``test_hook_<name>`` somewhere in
``tests/plugins``.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pluggy
import pytest

from meterhub import PROJECT_NAME, hookspecs
from meterhub.pluginhost import CONTRIBUTION_HOOKS, EVENT_HOOKS, KINDS

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "plugins.md"
TESTS = Path(__file__).resolve().parent
FIRSTRESULT_SENTENCE = "Stops at first non-None result."


def _specs() -> dict[str, pluggy.HookCaller]:
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    return {name: caller for name, caller in vars(pm.hook).items() if caller.has_spec()}


SPECS = _specs()
HOOKS = sorted(SPECS)


def signature(name: str) -> str:
    spec = SPECS[name].spec
    assert spec is not None
    return f"{name}({', '.join(spec.argnames)})"


def _headings() -> list[str]:
    return [line for line in GUIDE.read_text(encoding="utf-8").splitlines() if line.startswith("#")]


def test_hooks_exist() -> None:
    assert len(HOOKS) >= 14


def test_every_hook_is_a_contribution_or_an_event() -> None:
    assert sorted(CONTRIBUTION_HOOKS + EVENT_HOOKS) == HOOKS
    assert [kind.hook for kind in KINDS.values()] == list(CONTRIBUTION_HOOKS)


@pytest.mark.parametrize("name", HOOKS)
def test_hook_has_docstring(name: str) -> None:
    spec = SPECS[name].spec
    assert spec is not None
    doc = inspect.getdoc(spec.function)
    assert doc, f"hook {name} has no docstring"
    for arg in spec.argnames:
        assert f":param {arg}:" in doc, f"hook {name}: no ':param {arg}:' line"
    params = re.findall(r":param (\w+):", doc)
    assert set(params) <= set(spec.argnames), f"hook {name} documents unknown params {params}"
    firstresult = spec.opts.get("firstresult", False)
    assert (FIRSTRESULT_SENTENCE in doc) == firstresult, (
        f"hook {name}: the sentence {FIRSTRESULT_SENTENCE!r} belongs on firstresult hooks only"
    )


@pytest.mark.parametrize("name", HOOKS)
def test_hook_has_heading_with_signature(name: str) -> None:
    wanted = signature(name)
    matching = [h for h in _headings() if re.search(rf"\b{re.escape(wanted)}", h)]
    assert matching, f"docs/plugins.md has no heading with the signature {wanted}"


@pytest.mark.parametrize("name", HOOKS)
def test_hook_has_a_test(name: str) -> None:
    pattern = re.compile(rf"^\s*def test_hook_{name}\b", re.MULTILINE)
    found = [p.name for p in TESTS.glob("*.py") if pattern.search(p.read_text(encoding="utf-8"))]
    assert found, f"no test named test_hook_{name} in tests/plugins"


def test_every_signature_heading_names_a_hook() -> None:
    """No stale documentation: a heading that looks like a hook signature names a real hook."""
    documented = set()
    for heading in _headings():
        match = re.search(r"`(register_\w+|\w+_(?:stored|edited|finished))\(([^)]*)\)`", heading)
        if match:
            assert match.group(1) in SPECS, f"docs/plugins.md documents no hook {match.group(1)}"
            documented.add(match.group(1))
            assert f"{match.group(1)}({match.group(2)})" == signature(match.group(1))
    assert documented == set(HOOKS)


def test_example_plugin_is_shown_in_the_guide() -> None:
    """The guide shows the example plugin's files exactly as they are in docs/example-plugin."""
    guide = GUIDE.read_text(encoding="utf-8")
    for relative in ("pyproject.toml", "src/meterhub_hello/__init__.py"):
        text = (ROOT / "docs" / "example-plugin" / relative).read_text(encoding="utf-8")
        assert text.strip() in guide, f"docs/plugins.md does not show {relative} as it is"
