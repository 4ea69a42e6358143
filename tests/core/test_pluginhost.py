"""The plugin host: discovery through entry points, license gating, failures, switches."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pluggy
import pytest
from stevedore.extension import ExtensionManager

import meterhub
from meterhub import hookimpl
from meterhub.config import Settings
from meterhub.errors import MeterHubError, NotFound
from meterhub.licensing import development_license
from meterhub.pluginhost import (
    GROUPS,
    KINDS,
    PluginHost,
    PluginLoadError,
    build_plugin_host,
)
from meterhub.plugins.drivers.simulated import SimulatedDriver, SimulatedDriverPlugin
from meterhub.plugins.exports.memory import MemoryExportPlugin

FakeDist = Callable[..., Path]

ROOT = Path(__file__).resolve().parents[2]

#: A plugin module whose hooks count their calls in a module global.
COUNTING_EXPORT = """
from meterhub import hookimpl
from meterhub.extensions.export import ExportDestination

CALLS = []

class Hello(ExportDestination):
    name = "hello"

    def deliver(self, payload, metadata):
        return None

class HelloPlugin:
    feature = "export:hello"

    @hookimpl
    def register_exports(self):
        CALLS.append("register_exports")
        return [Hello]

    @hookimpl
    def job_finished(self, job):
        CALLS.append("job_finished")
"""

#: A validator plugin declared as a module, without a feature attribute.
MODULE_VALIDATOR = """
from meterhub import hookimpl
from meterhub.extensions.validator import Validator

class Nothing(Validator):
    name = "nothing"

    def validate(self, block, parameters):
        return []

@hookimpl
def register_validators():
    return [Nothing]
"""

#: A driver named like the built-in one, from an installed distribution.
RIVAL_DRIVER = """
from meterhub import hookimpl
from meterhub.plugins.drivers.simulated import SimulatedDriver

class BetterSimulated(SimulatedDriver):
    pass

class RivalPlugin:
    @hookimpl
    def register_drivers(self):
        return [BetterSimulated]
"""


def build(settings: Settings, license: object | None = None, **kwargs: object) -> PluginHost:
    return build_plugin_host(license or development_license(), settings, **kwargs)  # type: ignore[arg-type]


# -- built-ins -------------------------------------------------------------------------------


def test_builtins_load_through_entry_points(make_settings: Callable[..., Settings]) -> None:
    host = build(make_settings())
    loaded = {(r.group, r.name): r for r in host.loaded()}
    simulated = loaded["meterhub.drivers", "simulated"]
    memory = loaded["meterhub.exports", "memory"]
    for record in (simulated, memory):
        assert (record.distribution, record.version) == ("meterhub", meterhub.__version__)
    assert simulated.feature == "driver:simulated"
    assert memory.feature == "export:memory"
    assert simulated.target == "meterhub.plugins.drivers.simulated:SimulatedDriverPlugin"
    assert isinstance(host.pm.get_plugin("meterhub.drivers:simulated"), SimulatedDriverPlugin)
    assert host.plugin("meterhub.drivers", "simulated") is host.pm.get_plugin(
        "meterhub.drivers:simulated"
    )
    assert host.plugin("meterhub.drivers", "no-such-driver") is None
    assert isinstance(host.pm.get_plugin("meterhub.exports:memory"), MemoryExportPlugin)
    assert host.drivers()["simulated"] is SimulatedDriver
    assert host.failed() == [] and host.refused() == []


def test_builtin_hooks_are_trylast(make_settings: Callable[..., Settings]) -> None:
    host = build(make_settings())
    for hook_name in ("register_drivers", "register_exports"):
        impls = getattr(host.hook, hook_name).get_hookimpls()
        builtin = [impl for impl in impls if impl.plugin_name.startswith("meterhub.")]
        assert builtin and all(impl.trylast for impl in builtin)


def test_host_exposes_pluggy_manager_with_specs(make_settings: Callable[..., Settings]) -> None:
    host = build(make_settings(plugins_disable_autoload=True))
    assert isinstance(host.pm, pluggy.PluginManager)
    assert host.hook is host.pm.hook
    assert host.pm.project_name == meterhub.PROJECT_NAME
    for kind in KINDS.values():
        assert getattr(host.hook, kind.hook).has_spec()


def test_core_never_imports_a_plugin_module_by_name() -> None:
    pattern = re.compile(r"^\s*(from|import)\s+meterhub\.plugins\b", re.MULTILINE)
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "core").rglob("*.py")
        if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_groups_match_the_architecture() -> None:
    assert list(GROUPS) == [
        "meterhub.drivers",
        "meterhub.media",
        "meterhub.validators",
        "meterhub.estimators",
        "meterhub.calculations",
        "meterhub.exports",
        "meterhub.imports",
        "meterhub.reports",
        "meterhub.cim",
        "meterhub.api",
    ]


def test_hosts_are_independent(make_settings: Callable[..., Settings]) -> None:
    first, second = build(make_settings()), build(make_settings())
    assert first.pm is not second.pm
    assert first.exports()["memory"] is not second.exports()["memory"]
    first.exports()["memory"]("box").deliver(b"1", _metadata())
    assert second.exports()["memory"].mailbox("box") == []


def _metadata():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from meterhub.extensions.export import ExportMetadata

    return ExportMetadata("f.txt", "text/plain", "test", datetime(2026, 1, 1, tzinfo=UTC))


# -- license gating ------------------------------------------------------------------------------


def test_license_refusal(
    make_settings: Callable[..., Settings],
    fake_dist: FakeDist,
    caplog: pytest.LogCaptureFixture,
    stub_license: Callable[..., Any],
) -> None:
    fake_dist(
        "meterhub-counting",
        "0.3",
        {"meterhub.exports": {"hello": "mh_counting:HelloPlugin"}},
        {"mh_counting": COUNTING_EXPORT},
    )
    license = stub_license(denied=("export:hello", "export:memory"))
    with caplog.at_level(logging.WARNING, logger="meterhub.pluginhost"):
        host = build(make_settings(), license)
    hello = host.record("meterhub.exports", "hello")
    assert hello.status == "refused"
    assert hello.feature == "export:hello"
    assert hello.reason == "feature export:hello not enabled by license L-1 for Acme"
    assert (hello.distribution, hello.version) == ("meterhub-counting", "0.3")
    memory = host.record("meterhub.exports", "memory")
    assert memory.status == "refused"
    assert "export:hello not enabled by license L-1 for Acme" in caplog.text
    # Refused plugins are not registered, so their hooks are never called.
    assert host.pm.get_plugin("meterhub.exports:hello") is None
    assert host.exports() == {}
    host.hook.register_exports()
    from datetime import UTC, datetime

    from meterhub.extensions.events import FinishedJob

    now = datetime.now(UTC)
    host.notify("job_finished", job=FinishedJob(1, "j", "succeeded", now, now, 0, 0, 0))
    import mh_counting  # type: ignore[import-not-found]

    assert mh_counting.CALLS == []
    # The driver is still there: refusal is per plugin.
    assert "simulated" in host.drivers()
    assert "export:hello" in license.asked


def test_allowed_plugin_hooks_are_called(
    make_settings: Callable[..., Settings], fake_dist: FakeDist, stub_license: Callable[..., Any]
) -> None:
    fake_dist(
        "meterhub-counting",
        "0.3",
        {"meterhub.exports": {"hello": "mh_counting:HelloPlugin"}},
        {"mh_counting": COUNTING_EXPORT},
    )
    host = build(make_settings(), stub_license())
    assert sorted(host.exports()) == ["hello", "memory"]
    import mh_counting  # type: ignore[import-not-found]

    assert mh_counting.CALLS == ["register_exports"]


def test_default_feature_is_kind_and_entry_point_name(
    make_settings: Callable[..., Settings], fake_dist: FakeDist, stub_license: Callable[..., Any]
) -> None:
    fake_dist(
        "vee-extras",
        "1.0",
        {"meterhub.validators": {"nothing": "mh_validator"}},
        {"mh_validator": MODULE_VALIDATOR},
    )
    license = stub_license(denied=("validator:nothing",))
    record = build(make_settings(), license).record("meterhub.validators", "nothing")
    assert (record.status, record.feature) == ("refused", "validator:nothing")
    host = build(make_settings(), stub_license())
    assert host.record("meterhub.validators", "nothing").status == "loaded"
    assert "nothing" in host.validators(), "a module can be the plugin object"
    assert "vee-extras" in host.contribution_sources("validator")["nothing"]


def test_extra_plugin_with_feature_is_gated(
    make_settings: Callable[..., Settings], stub_license: Callable[..., Any]
) -> None:
    class Gated:
        feature = "smart-functions"

        @hookimpl
        def register_drivers(self) -> list[type]:
            return []

    settings = make_settings(plugins_disable_autoload=True)
    host = build(settings, stub_license(denied=("smart-functions",)), extra_plugins=[Gated])
    (record,) = host.records
    assert (record.group, record.name, record.status) == ("extra", "Gated", "refused")
    assert record.reason == "feature smart-functions not enabled by license L-1 for Acme"


# -- failures --------------------------------------------------------------------------------


def _install_broken(fake_dist: FakeDist) -> None:
    fake_dist(
        "meterhub-broken",
        "0.1",
        {"meterhub.exports": {"broken": "mh_broken:Plugin"}},
        {"mh_broken": "import mh_dependency_that_is_not_installed\n"},
    )


def test_broken_plugin_is_reported_and_the_others_load(
    make_settings: Callable[..., Settings],
    fake_dist: FakeDist,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _install_broken(fake_dist)
    with caplog.at_level(logging.ERROR, logger="meterhub.pluginhost"):
        host = build(make_settings(plugins_only=["simulated", "memory", "broken"]))
    broken = host.record("meterhub.exports", "broken")
    assert broken.status == "failed"
    assert broken.reason == (
        "ModuleNotFoundError: No module named 'mh_dependency_that_is_not_installed'"
    )
    assert (broken.distribution, broken.version) == ("meterhub-broken", "0.1")
    assert "meterhub.exports:broken (meterhub-broken 0.1) failed" in caplog.text
    assert "mh_dependency_that_is_not_installed" in caplog.text
    assert [r.levelno for r in caplog.records if "broken" in r.getMessage()] == [logging.ERROR]
    assert "simulated" in host.drivers()
    assert "memory" in host.exports()


@pytest.mark.parametrize(
    ("source", "target", "reason"),
    [
        ("raise ImportError('needs libfoo')\n", "mh_bad:Plugin", "ImportError: needs libfoo"),
        ("x = 1\n", "mh_bad:Plugin", "AttributeError:"),
        (
            "from meterhub import hookimpl\n"
            "class Plugin:\n"
            "    @hookimpl\n"
            "    def register_driver(self):\n"
            "        return []\n",
            "mh_bad:Plugin",
            "PluginValidationError: unknown hook 'register_driver'; see meterhub.hookspecs",
        ),
        ("class Plugin:\n    pass\n", "mh_bad:Plugin", "LookupError: has no hook implementations"),
        (
            "class Plugin:\n    def __init__(self):\n        raise RuntimeError('boom')\n",
            "mh_bad:Plugin",
            "RuntimeError: boom",
        ),
        (
            "from meterhub import hookimpl\n"
            "class Plugin:\n"
            "    @hookimpl\n"
            "    def job_finished(self, job, extra):\n"
            "        pass\n",
            "mh_bad:Plugin",
            "PluginValidationError",
        ),
        ("class Plugin:\n    feature = 42\n", "mh_bad:Plugin", "TypeError: its 'feature'"),
    ],
    ids=[
        "import-error",
        "missing-attribute",
        "unknown-hook",
        "no-hooks",
        "init",
        "args",
        "feature",
    ],
)
def test_failures_of_every_kind_are_recorded(
    make_settings: Callable[..., Settings],
    fake_dist: FakeDist,
    source: str,
    target: str,
    reason: str,
) -> None:
    fake_dist("meterhub-bad", "0.1", {"meterhub.reports": {"bad": target}}, {"mh_bad": source})
    host = build(make_settings())
    record = host.record("meterhub.reports", "bad")
    assert record.status == "failed"
    assert record.reason.startswith(reason), record.reason
    assert host.pm.get_plugin("meterhub.reports:bad") is None
    assert "simulated" in host.drivers()


def test_strict_switch_raises(make_settings: Callable[..., Settings], fake_dist: FakeDist) -> None:
    _install_broken(fake_dist)
    with pytest.raises(PluginLoadError) as caught:
        build(make_settings(plugins_strict=True))
    assert isinstance(caught.value, MeterHubError)
    message = str(caught.value)
    assert "1 plugin failed to load (plugins_strict is set)" in message
    assert "meterhub.exports:broken (meterhub-broken 0.1)" in message
    assert "mh_dependency_that_is_not_installed" in message
    assert [r.name for r in caught.value.records] == ["broken"]


def test_strict_switch_accepts_refusals(
    make_settings: Callable[..., Settings], stub_license: Callable[..., Any]
) -> None:
    license = stub_license(denied=("export:memory",))
    host = build(make_settings(plugins_strict=True), license)
    assert host.record("meterhub.exports", "memory").status == "refused"


# -- switches --------------------------------------------------------------------------------


def test_plugins_only(make_settings: Callable[..., Settings], fake_dist: FakeDist) -> None:
    _install_broken(fake_dist)
    host = build(make_settings(plugins_only=["memory"]))
    assert host.record("meterhub.exports", "memory").status == "loaded"
    simulated = host.record("meterhub.drivers", "simulated")
    assert simulated.status == "refused"
    assert simulated.reason == "not listed in plugins_only (memory)"
    assert simulated.feature is None
    # Not even imported: a broken plugin can be left out this way.
    assert host.record("meterhub.exports", "broken").status == "refused"
    assert host.drivers() == {}


def test_plugins_only_accepts_distribution_names(
    make_settings: Callable[..., Settings], fake_dist: FakeDist
) -> None:
    _install_broken(fake_dist)
    host = build(make_settings(plugins_only=["meterhub"]))
    assert {r.name for r in host.loaded()} >= {"simulated", "memory", "tcp"}
    assert {r.distribution for r in host.loaded()} == {"meterhub"}
    assert host.record("meterhub.exports", "broken").status == "refused"


def test_disable_autoload_keeps_extra_plugins(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(plugins_disable_autoload=True)
    host = build(settings, extra_plugins=[SimulatedDriverPlugin])
    assert [(r.group, r.name, r.status) for r in host.records] == [
        ("extra", "SimulatedDriverPlugin", "loaded")
    ]
    assert host.records[0].feature == "driver:simulated"
    assert host.records[0].distribution is None
    assert host.drivers()["simulated"] is SimulatedDriver


def test_trace_logs_every_hook_call(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="meterhub.pluginhost.trace"):
        # Contribution hooks are called while the host is built.
        host = build(make_settings(plugins_trace=True))
        host.drivers()
        host.hook.register_exports()
    traced = [r.getMessage() for r in caplog.records if r.name == "meterhub.pluginhost.trace"]
    assert any("register_drivers" in line for line in traced)
    assert any("register_exports" in line for line in traced)
    assert any("finish" in line for line in traced)


def test_no_trace_by_default(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="meterhub.pluginhost.trace"):
        host = build(make_settings())
        host.drivers()
    assert not [r for r in caplog.records if r.name == "meterhub.pluginhost.trace"]


# -- contributions ---------------------------------------------------------------------------


def test_installed_plugin_wins_a_name_conflict_with_a_builtin(
    make_settings: Callable[..., Settings],
    fake_dist: FakeDist,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_dist(
        "meterhub-rival",
        "2.0",
        {"meterhub.drivers": {"rival": "mh_rival:RivalPlugin"}},
        {"mh_rival": RIVAL_DRIVER},
    )
    with caplog.at_level(logging.WARNING, logger="meterhub.pluginhost"):
        host = build(make_settings(plugins_only=["simulated", "rival"]))
        drivers = host.drivers()
        host.drivers()
    import mh_rival  # type: ignore[import-not-found]

    assert drivers["simulated"] is mh_rival.BetterSimulated
    (conflict,) = host.conflicts
    assert conflict.used == "meterhub.drivers:rival (meterhub-rival 2.0)"
    assert conflict.ignored == "meterhub.drivers:simulated (meterhub 0.1.0)"
    assert conflict.describe() == (
        "driver 'simulated' is contributed by meterhub.drivers:rival (meterhub-rival 2.0) and by "
        "meterhub.drivers:simulated (meterhub 0.1.0); using the one from "
        "meterhub.drivers:rival (meterhub-rival 2.0)"
    )
    warnings = [r for r in caplog.records if "is contributed by" in r.getMessage()]
    assert len(warnings) == 1, "reported once, however often the accessor is called"
    sources = host.contribution_sources("driver")
    assert sources["simulated"] == "meterhub.drivers:rival (meterhub-rival 2.0)"


def test_invalid_contributions_are_left_out(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    from meterhub.extensions.driver import Driver

    class Abstract(Driver):
        name = "abstract"

    class Nameless(SimulatedDriver):
        name = ""

    class Sloppy:
        @hookimpl
        def register_drivers(self) -> list[object]:
            return [SimulatedDriver, "dlms", Abstract, Nameless, int]

        @hookimpl
        def register_exports(self) -> object:
            return {"not": "a list"}

    class Raising:
        @hookimpl
        def register_media(self) -> list[type]:
            raise RuntimeError("oops")

    settings = make_settings(plugins_disable_autoload=True)
    with caplog.at_level(logging.ERROR, logger="meterhub.pluginhost"):
        host = build(settings, extra_plugins=[Sloppy, Raising])
        assert host.drivers()["simulated"] is SimulatedDriver
        assert host.exports() == {}
        assert host.media() == {}
    text = caplog.text
    assert "'dlms' is not a subclass of meterhub.extensions.driver.Driver" in text
    assert "is abstract (does not implement connect, info)" in text
    assert "has no 'name'" in text
    assert "register_exports() of plugin extra:Sloppy returned dict" in text
    assert "register_media() of plugin extra:Raising raised RuntimeError: oops" in text


def test_get_names_the_available_contributions(make_settings: Callable[..., Settings]) -> None:
    host = build(make_settings())
    assert host.get("driver", "simulated") is SimulatedDriver
    available = ", ".join(sorted(host.drivers()))
    assert "simulated" in available
    with pytest.raises(NotFound, match=f"no driver named 'nope'; available: {available}$"):
        host.get("driver", "nope")
    with pytest.raises(NotFound, match="unknown extension kind 'gadget'"):
        host.contributions("gadget")


def test_notify_checks_the_event_and_its_arguments(
    make_settings: Callable[..., Settings],
) -> None:
    host = build(make_settings(plugins_disable_autoload=True))
    with pytest.raises(NotFound, match="not an event hook"):
        host.notify("register_drivers")
    with pytest.raises(TypeError, match="task_finished takes task; got job"):
        host.notify("task_finished", job=None)


# -- discovery is fresh ----------------------------------------------------------------------


def test_a_plugin_installed_after_a_first_build_is_found(
    make_settings: Callable[..., Settings], fake_dist: FakeDist
) -> None:
    """No stale entry-point cache (stevedore's class cache and file cache are bypassed)."""
    before = build(make_settings())
    assert "nothing" not in [r.name for r in before.records if r.group == "meterhub.validators"]
    fake_dist(
        "vee-extras",
        "1.0",
        {"meterhub.validators": {"nothing": "mh_validator"}},
        {"mh_validator": MODULE_VALIDATOR},
    )
    after = build(make_settings())
    assert after.record("meterhub.validators", "nothing").status == "loaded"
    assert not set(GROUPS) & set(ExtensionManager.ENTRY_POINT_CACHE)


def test_same_entry_point_name_from_two_distributions(
    make_settings: Callable[..., Settings], fake_dist: FakeDist
) -> None:
    for dist, module in (("vee-one", "mh_one"), ("vee-two", "mh_two")):
        fake_dist(
            dist, "1.0", {"meterhub.validators": {"same": module}}, {module: MODULE_VALIDATOR}
        )
    host = build(make_settings())
    first, second = [r for r in host.records if r.name == "same"]
    assert {first.distribution, second.distribution} == {"vee-one", "vee-two"}
    assert first.status == second.status == "loaded"
    names = sorted(n for n, _ in host.pm.list_name_plugin() if "same" in n)
    assert names == ["meterhub.validators:same", f"meterhub.validators:same@{second.distribution}"]
    assert host.plugin("meterhub.validators", "same") is host.pm.get_plugin(names[1])
    assert "nothing" in host.validators()
    (conflict,) = host.conflicts
    assert conflict.kind == "validator" and conflict.name == "nothing"


def test_a_module_listed_twice_is_registered_once(
    make_settings: Callable[..., Settings], fake_dist: FakeDist
) -> None:
    fake_dist(
        "vee-twice",
        "1.0",
        {
            "meterhub.validators": {"first": "mh_twice"},
            "meterhub.estimators": {"second": "mh_twice"},
        },
        {"mh_twice": MODULE_VALIDATOR},
    )
    host = build(make_settings())
    second = host.record("meterhub.estimators", "second")
    assert second.status == "loaded"
    assert second.reason == "the same object as meterhub.validators:first, registered once"
    assert "nothing" in host.validators()
    assert host.conflicts == []


# -- collected once, at build time -----------------------------------------------------------


def test_contributions_are_collected_once_when_the_host_is_built(
    make_settings: Callable[..., Settings],
    fake_dist: FakeDist,
    stub_license: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_dist(
        "meterhub-counting",
        "0.3",
        {"meterhub.exports": {"hello": "mh_counting:HelloPlugin"}},
        {"mh_counting": COUNTING_EXPORT},
    )

    class Raising:
        @hookimpl
        def register_media(self) -> list[type]:
            raise RuntimeError("oops")

    with caplog.at_level(logging.ERROR, logger="meterhub.pluginhost"):
        host = build(make_settings(), stub_license(), extra_plugins=[Raising])
        import mh_counting  # type: ignore[import-not-found]

        assert mh_counting.CALLS == ["register_exports"], "called while the host was built"
        for _ in range(3):
            assert sorted(host.exports()) == ["hello", "memory"]
            host.media()
            host.contribution_sources("export")
    assert mh_counting.CALLS == ["register_exports"], "the accessors call no hook"
    raised = [r for r in caplog.records if "raised RuntimeError: oops" in r.getMessage()]
    assert len(raised) == 1
    # The accessors hand out copies: a caller cannot change what the host holds.
    host.exports().clear()
    assert sorted(host.exports()) == ["hello", "memory"]


def test_kinds_derive_hook_and_key_from_the_base_classes() -> None:
    specified = set(vars(build_hookspecs_manager().hook))
    for name, kind in KINDS.items():
        assert kind.hook == kind.base.hook, name  # type: ignore[attr-defined]
        assert kind.key == kind.base.key, name  # type: ignore[attr-defined]
        assert kind.hook in specified, f"{kind.base.__name__}.hook names no hook spec"
        assert kind.key in kind.base.__annotations__, f"{kind.base.__name__} lacks {kind.key}"
    assert (KINDS["cim"].hook, KINDS["cim"].key) == ("register_cim_adapters", "noun")
    assert (KINDS["driver"].hook, KINDS["driver"].key) == ("register_drivers", "name")


def build_hookspecs_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(meterhub.PROJECT_NAME)
    pm.add_hookspecs(meterhub.hookspecs)
    return pm


def test_records_are_built_with_keywords() -> None:
    from meterhub.pluginhost import Conflict, PluginRecord

    with pytest.raises(TypeError):
        PluginRecord("g", "n", None, None, None, "loaded")  # type: ignore[misc]
    with pytest.raises(TypeError):
        Conflict("driver", "x", "a", "b")  # type: ignore[misc]


def test_an_unknown_hook_is_found_by_pluggy_and_named(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    class Misspelled:
        @hookimpl
        def register_exports(self) -> list[type]:
            return []

        @hookimpl
        def job_finnished(self, job: object) -> None:
            pass

    class Optional:
        @hookimpl
        def register_exports(self) -> list[type]:
            return []

        @hookimpl(optionalhook=True)
        def a_hook_of_a_later_release(self) -> None:
            pass

    settings = make_settings(plugins_disable_autoload=True)
    with caplog.at_level(logging.ERROR, logger="meterhub.pluginhost"):
        host = build(settings, extra_plugins=[Misspelled, Optional])
    misspelled = host.record("extra", "Misspelled")
    assert misspelled.status == "failed"
    assert misspelled.reason == (
        "PluginValidationError: unknown hook 'job_finnished'; see meterhub.hookspecs for the hooks"
    )
    assert "job_finnished" in caplog.text
    assert host.plugin("extra", "Misspelled") is None
    assert host.record("extra", "Optional").status == "loaded", "optional hooks are allowed"
    host.pm.check_pending()  # nothing unknown stays registered
