"""Collecting contributions: each ``register_*`` hook called once, one implementation at a time.

:func:`collect_contributions` runs when the host is built. Each implementation is called on its
own (through a pluggy subset caller, so ``plugins_trace`` shows it), so one that raises or
returns nonsense loses only its own contributions. A contribution must be a concrete subclass of
the kind's base class with a non-empty key (``Driver.key`` names the attribute: ``name``); a
name contributed twice goes to the implementation pluggy calls first and is reported as a
:class:`~meterhub.pluginhost.records.Conflict`. Every problem is logged once, here.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import pluggy

from meterhub.pluginhost.discovery import error_text
from meterhub.pluginhost.kinds import KINDS, Kind
from meterhub.pluginhost.records import Conflict

__all__ = ["Collected", "Contribution", "call_one", "collect_contributions", "implementations"]

log = logging.getLogger("meterhub.pluginhost")


@dataclass(frozen=True, slots=True, kw_only=True)
class Contribution:
    """One collected contribution: the class and the pluggy name of the plugin that gave it."""

    cls: type
    plugin_name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Collected:
    """Every kind's contributions (kind → name → :class:`Contribution`) and the conflicts."""

    by_kind: Mapping[str, Mapping[str, Contribution]]
    conflicts: tuple[Conflict, ...] = field(default=())


def implementations(pm: pluggy.PluginManager, hook_name: str) -> list[pluggy.HookImpl]:
    """The plain (non-wrapper) implementations of ``hook_name`` in call order."""
    caller: pluggy.HookCaller = getattr(pm.hook, hook_name)
    impls = [impl for impl in caller.get_hookimpls() if not (impl.wrapper or impl.hookwrapper)]
    return list(reversed(impls))


def call_one(
    pm: pluggy.PluginManager, hook_name: str, impl: pluggy.HookImpl, kwargs: Mapping[str, Any]
) -> Any:
    """Call ``hook_name`` on the one plugin of ``impl`` (traced like any hook call)."""
    others = [plugin for plugin in pm.get_plugins() if plugin is not impl.plugin]
    return pm.subset_hook_caller(hook_name, remove_plugins=others)(**kwargs)


def _key_of(spec: Kind, item: object, plugin: str) -> str | None:
    """The contribution's key, or ``None`` (logged) when ``item`` is no valid contribution."""
    problem = ""
    key: object = None
    if not inspect.isclass(item) or not issubclass(item, spec.base):
        problem = f"is not a subclass of {spec.base.__module__}.{spec.base.__name__}"
    elif inspect.isabstract(item):
        missing = ", ".join(sorted(getattr(item, "__abstractmethods__", ())))
        problem = f"is abstract (does not implement {missing})"
    else:
        key = getattr(item, spec.key, None)
        if not isinstance(key, str) or not key:
            problem = f"has no {spec.key!r} (a non-empty string class attribute)"
    if problem:
        log.error("%s() of plugin %s: %r %s; left out", spec.hook, plugin, item, problem)
        return None
    return cast(str, key)


def _collect_kind(
    pm: pluggy.PluginManager,
    kind: str,
    spec: Kind,
    describe: Callable[[str], str],
    conflicts: list[Conflict],
) -> dict[str, Contribution]:
    found: dict[str, Contribution] = {}
    for impl in implementations(pm, spec.hook):
        plugin = describe(impl.plugin_name)
        try:
            results = call_one(pm, spec.hook, impl, {})
        except Exception as exc:
            log.debug("%s raised in %s", spec.hook, plugin, exc_info=exc)
            log.error(
                "%s() of plugin %s raised %s; its contributions are left out",
                spec.hook,
                plugin,
                error_text(exc),
            )
            continue
        for result in results:
            if not isinstance(result, list | tuple):
                log.error(
                    "%s() of plugin %s returned %s; it must return a list of classes",
                    spec.hook,
                    plugin,
                    type(result).__name__,
                )
                continue
            for item in result:
                key = _key_of(spec, item, plugin)
                if key is None:
                    continue
                if key not in found:
                    found[key] = Contribution(cls=item, plugin_name=impl.plugin_name)
                elif found[key].cls is not item:
                    conflict = Conflict(
                        kind=kind,
                        name=key,
                        used=describe(found[key].plugin_name),
                        ignored=describe(impl.plugin_name),
                    )
                    log.warning("%s", conflict.describe())
                    conflicts.append(conflict)
    return found


def collect_contributions(pm: pluggy.PluginManager, describe: Callable[[str], str]) -> Collected:
    """Call every contribution hook of :data:`KINDS` once; ``describe`` names plugins in logs.

    ``describe`` turns a pluggy plugin name into ``group:name (distribution version)``.
    """
    conflicts: list[Conflict] = []
    by_kind = {
        kind: _collect_kind(pm, kind, spec, describe, conflicts) for kind, spec in KINDS.items()
    }
    return Collected(by_kind=by_kind, conflicts=tuple(conflicts))
