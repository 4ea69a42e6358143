"""The plugin host: stevedore finds plugins, the license enables them, pluggy calls them.

:func:`build_plugin_host` builds one :class:`PluginHost` per application (never a module
global). For each entry-point group in :data:`GROUPS` it:

1. lists the group's entry points with :mod:`importlib.metadata`, remembering the distribution
   (name and version) each comes from;
2. loads them one by one with a stevedore
   :class:`~stevedore.enabled.EnabledExtensionManager`: an entry point that fails to import is
   recorded as ``failed`` with its error and logged at ERROR, and the others load on;
3. asks the license (``check_func``) whether the plugin's feature is enabled. The feature is the
   loaded object's ``feature`` attribute, or ``<kind>:<entry point name>`` when it has none
   (``driver:simulated``, ``export:memory``). A refused plugin is recorded as ``refused`` and
   never registered, so none of its hooks is ever called;
4. registers each enabled object in one :class:`pluggy.PluginManager` under the name
   ``<group>:<entry point name>``. A class is instantiated with no arguments first (its hook
   implementations are ordinary methods); a module is registered as it is.

Built-in plugins come through the very same entry points (MeterHub's own ``setup.cfg``); their
hook implementations are ``trylast`` so that an installed plugin contributing the same name
wins. ``extra_plugins`` (objects registered in code, for tests and embedding) are registered
after the entry points, so their implementations are called first of all.

Once every plugin is registered, the host calls each contribution hook (``register_drivers``,
...) once, implementation by implementation, and keeps the name → class mappings for the host's
life: the accessors (:meth:`PluginHost.drivers`, ...) only read them, and a bad contribution or a
name conflict is logged once, while the host is built. Which hook and which key belong to a
kind is declared by the kind's base class (``Driver.hook == "register_drivers"``,
``Driver.key == "name"``); :data:`KINDS` adds the entry-point group.

Settings (see :class:`meterhub.config.Settings`): ``plugins_only`` loads only the entry points
whose name or distribution name is listed; ``plugins_disable_autoload`` loads no entry points at
all; ``plugins_strict`` raises :class:`PluginLoadError` when any plugin failed; and
``plugins_trace`` logs every hook call on the ``meterhub.pluginhost.trace`` logger at INFO.

Entry points are read fresh from :mod:`importlib.metadata` on every build rather than through
stevedore's entry-point cache (:class:`~meterhub.pluginhost.discovery.FreshEntryPointManager`).
In stevedore 5.10 that cache is a class-level dict keyed only by group, so a process never sees
a plugin installed (or a ``sys.path`` entry added) after its first look at the group, plus a file
cache in ``~/.cache/python-entrypoints`` keyed by file mtimes packed as 32-bit floats (128
seconds' resolution today), so an ``entry_points.txt`` rewritten within that window is read
stale. ``tests/plugins/test_stevedore_canary.py`` fails when stevedore fixes either; then the
subclass can go. A host is built once per process, so a fresh scan costs little.

The package holds one job per module: :mod:`~.kinds` (the extension points), :mod:`~.records`
(what the host reports), :mod:`~.discovery` (entry points and stevedore), :mod:`~.host`
(registration in pluggy) and :mod:`~.contributions` (calling the ``register_*`` hooks).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

import pluggy

from meterhub import PROJECT_NAME, hookspecs
from meterhub.pluginhost.discovery import entry_points_by_group
from meterhub.pluginhost.host import PluginHost
from meterhub.pluginhost.kinds import (
    CONTRIBUTION_HOOKS,
    EVENT_HOOKS,
    EXTRA_GROUP,
    GROUPS,
    KINDS,
    Kind,
)
from meterhub.pluginhost.records import (
    Conflict,
    LicenseLike,
    PluginLoadError,
    PluginRecord,
    Status,
)

if TYPE_CHECKING:
    from meterhub.config import Settings

__all__ = [
    "CONTRIBUTION_HOOKS",
    "EVENT_HOOKS",
    "EXTRA_GROUP",
    "GROUPS",
    "KINDS",
    "Conflict",
    "Kind",
    "LicenseLike",
    "PluginHost",
    "PluginLoadError",
    "PluginRecord",
    "Status",
    "build_plugin_host",
]

trace_log = logging.getLogger("meterhub.pluginhost.trace")


def _trace_writer(text: str) -> None:
    trace_log.info("%s", text.rstrip("\n"))


def build_plugin_host(
    license: LicenseLike, settings: Settings, *, extra_plugins: Iterable[object] = ()
) -> PluginHost:
    """Discover, gate and register the plugins of one application; see the module docs.

    :param license: decides which plugin features are enabled (``license.allows(feature)``).
    :param settings: supplies ``plugins_only``, ``plugins_disable_autoload``,
        ``plugins_strict`` and ``plugins_trace``.
    :param extra_plugins: plugin objects (modules, classes or instances) registered after the
        entry points, so they are called first. One with a ``feature`` attribute is gated by the
        license like an entry point; one without is always registered.
    :raises PluginLoadError: ``plugins_strict`` is set and at least one plugin failed.
    """
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    if settings.plugins_trace:
        pm.trace.root.setwriter(_trace_writer)
        pm.enable_tracing()
    host = PluginHost(pm, license)
    if not settings.plugins_disable_autoload:
        for group, entry_points in entry_points_by_group().items():
            host._load_group(group, entry_points, settings.plugins_only)
    for obj in extra_plugins:
        host._load_extra(obj)
    host._collect_contributions()
    failures = host.failed()
    if failures and settings.plugins_strict:
        raise PluginLoadError(failures)
    return host
