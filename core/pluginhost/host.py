"""The plugin host: registers plugins in pluggy, keeps their records and their contributions."""

from __future__ import annotations

import importlib.metadata
import inspect
import logging
from collections.abc import Mapping, Sequence
from typing import Any, cast

import pluggy
from stevedore.extension import Extension, ExtensionManager

from meterhub.errors import NotFound
from meterhub.extensions.api import ApiExtension
from meterhub.extensions.calculation import Calculation
from meterhub.extensions.cim import CimAdapter
from meterhub.extensions.driver import Driver
from meterhub.extensions.estimator import Estimator
from meterhub.extensions.export import ExportDestination
from meterhub.extensions.importer import ImportFormat
from meterhub.extensions.medium import Medium
from meterhub.extensions.metertype import MeterType
from meterhub.extensions.report import ReportRenderer
from meterhub.extensions.simulator import Simulator
from meterhub.extensions.validator import Validator
from meterhub.pluginhost.contributions import (
    Contribution,
    call_one,
    collect_contributions,
    implementations,
)
from meterhub.pluginhost.discovery import (
    FreshEntryPointManager,
    describe_license,
    distribution_of,
    error_text,
    normalize,
)
from meterhub.pluginhost.kinds import EVENT_HOOKS, EXTRA_GROUP, GROUPS, KINDS
from meterhub.pluginhost.records import Conflict, LicenseLike, PluginRecord, Status

__all__ = ["PluginHost"]

log = logging.getLogger("meterhub.pluginhost")


class PluginHost:
    """The plugins of one application: the pluggy manager, load records and contributions.

    Build it with :func:`build_plugin_host`. :attr:`pm` is the :class:`pluggy.PluginManager`
    (hook specifications added), :attr:`hook` its hook relay, :attr:`records` one
    :class:`PluginRecord` per plugin seen. The contributions are collected once, when the host
    is built; the accessors (:meth:`drivers`, :meth:`exports`, ...) return name → class from
    that collection, and :attr:`conflicts` lists the names contributed twice.
    """

    def __init__(self, pm: pluggy.PluginManager, license: LicenseLike) -> None:
        self.pm = pm
        self.license = license
        self.records: list[PluginRecord] = []
        self.conflicts: list[Conflict] = []
        self._contributions: Mapping[str, Mapping[str, Contribution]] = {}
        self._by_plugin_name: dict[str, PluginRecord] = {}
        self._plugin_names: dict[tuple[str, str], str] = {}
        self._registered_objects: dict[int, str] = {}

    @property
    def hook(self) -> pluggy.HookRelay:
        """The hook relay: ``host.hook.register_drivers()``."""
        return self.pm.hook

    # -- records ---------------------------------------------------------------------------

    def loaded(self) -> list[PluginRecord]:
        """The records of the plugins that are registered."""
        return [record for record in self.records if record.status == "loaded"]

    def refused(self) -> list[PluginRecord]:
        """The records of the plugins left out by the license or ``plugins_only``."""
        return [record for record in self.records if record.status == "refused"]

    def failed(self) -> list[PluginRecord]:
        """The records of the plugins that failed to load."""
        return [record for record in self.records if record.status == "failed"]

    def record(self, group: str, name: str) -> PluginRecord:
        """The last record of the plugin ``name`` in ``group``; :class:`NotFound` if none."""
        for record in reversed(self.records):
            if record.group == group and record.name == name:
                return record
        raise NotFound(f"no plugin {name!r} in {group}")

    def plugin(self, group: str, name: str) -> object | None:
        """The registered plugin object (an instance or a module) of a loaded plugin, or ``None``.

        Plugins registered in code through ``extra_plugins`` have the group ``extra``.
        """
        plugin_name = self._plugin_names.get((group, name))
        return None if plugin_name is None else self.pm.get_plugin(plugin_name)

    def _add_record(self, record: PluginRecord) -> None:
        self.records.append(record)
        level = {"loaded": logging.DEBUG, "refused": logging.WARNING, "failed": logging.ERROR}
        message = f"plugin {record.describe()} {record.status}"
        log.log(
            level[record.status], "%s%s", message, f": {record.reason}" if record.reason else ""
        )

    # -- registration --------------------------------------------------------------------------

    def _feature(self, obj: object, default: str | None) -> str | None:
        feature = getattr(obj, "feature", None)
        if feature is None:
            return default
        if not isinstance(feature, str) or not feature.strip():
            raise TypeError(f"its 'feature' must be a non-empty string, got {feature!r}")
        return feature

    def _refusal(self, feature: str) -> str:
        return f"feature {feature} not enabled by {describe_license(self.license)}"

    def _register(self, obj: object, plugin_name: str) -> str:
        """Register ``obj`` (instantiating a class); return a note, or raise on failure.

        pluggy checks the hook signatures (:meth:`~pluggy.PluginManager.register`) and, through
        :meth:`~pluggy.PluginManager.check_pending`, that every hook implemented is specified.
        Every plugin registered before passed that check, so what it finds is this plugin's.
        """
        other = self._registered_objects.get(id(obj))
        if other is not None:
            return f"the same object as {other}, registered once"
        plugin = obj() if inspect.isclass(obj) else obj
        self.pm.register(plugin, name=plugin_name)
        if not self.pm.get_hookcallers(plugin):
            self.pm.unregister(plugin)
            raise LookupError("has no hook implementations (is @meterhub.hookimpl missing?)")
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            self.pm.unregister(plugin)
            # pluggy says "unknown hook 'x' in plugin <repr>"; the record names the plugin.
            problem = str(exc).replace(f" in plugin {plugin!r}", "")
            raise pluggy.PluginValidationError(
                plugin, f"{problem}; see meterhub.hookspecs for the hooks"
            ) from None
        self._registered_objects[id(obj)] = plugin_name
        return ""

    def _unique_name(self, group: str, name: str, distribution: str | None) -> str:
        base = f"{group}:{name}"
        if not self.pm.has_plugin(base):
            return base
        suffix = distribution or "extra"
        candidate, number = f"{base}@{suffix}", 2
        while self.pm.has_plugin(candidate):
            candidate, number = f"{base}@{suffix}-{number}", number + 1
        return candidate

    def _load_group(
        self,
        group: str,
        entry_points: Sequence[importlib.metadata.EntryPoint],
        only: Sequence[str],
    ) -> None:
        kind = GROUPS[group]
        wanted = {normalize(item) for item in only}
        selected: list[importlib.metadata.EntryPoint] = []
        for entry_point in entry_points:
            distribution, version = distribution_of(entry_point)
            names = {normalize(entry_point.name)}
            if distribution:
                names.add(normalize(distribution))
            if wanted and not names & wanted:
                self._add_record(
                    PluginRecord(
                        group=group,
                        name=entry_point.name,
                        distribution=distribution,
                        version=version,
                        feature=None,
                        status="refused",
                        reason=f"not listed in plugins_only ({', '.join(only)})",
                        target=entry_point.value,
                    )
                )
                continue
            selected.append(entry_point)

        features: dict[int, str] = {}

        def check(extension: Extension[Any]) -> bool:
            feature = self._feature(extension.plugin, f"{kind}:{extension.name}")
            assert feature is not None
            features[id(extension.entry_point)] = feature
            if self.license.allows(feature):
                return True
            distribution, version = distribution_of(extension.entry_point)
            self._add_record(
                PluginRecord(
                    group=group,
                    name=extension.name,
                    distribution=distribution,
                    version=version,
                    feature=feature,
                    status="refused",
                    reason=self._refusal(feature),
                    target=extension.entry_point.value,
                )
            )
            return False

        def failed(
            _manager: ExtensionManager[Any],
            entry_point: importlib.metadata.EntryPoint,
            exc: BaseException,
        ) -> None:
            distribution, version = distribution_of(entry_point)
            log.debug("plugin %s:%s failed to load", group, entry_point.name, exc_info=exc)
            self._add_record(
                PluginRecord(
                    group=group,
                    name=entry_point.name,
                    distribution=distribution,
                    version=version,
                    feature=features.get(id(entry_point)),
                    status="failed",
                    reason=error_text(exc),
                    target=entry_point.value,
                )
            )

        manager = FreshEntryPointManager(group, selected, check, failed)
        for extension in manager.extensions:
            entry_point = extension.entry_point
            distribution, version = distribution_of(entry_point)
            plugin_name = self._unique_name(group, extension.name, distribution)
            status: Status = "loaded"
            try:
                reason = self._register(extension.plugin, plugin_name)
            except Exception as exc:
                log.debug("plugin %s failed to register", plugin_name, exc_info=exc)
                status, reason = "failed", error_text(exc)
            record = PluginRecord(
                group=group,
                name=extension.name,
                distribution=distribution,
                version=version,
                feature=features[id(entry_point)],
                status=status,
                reason=reason,
                target=entry_point.value,
            )
            self._add_record(record)
            self._remember(plugin_name, record)

    def _load_extra(self, obj: object) -> None:
        if inspect.ismodule(obj):
            name = target = obj.__name__
        else:
            owner = obj if inspect.isclass(obj) else type(obj)
            name, target = owner.__name__, f"{owner.__module__}:{owner.__qualname__}"
        feature: str | None = None
        plugin_name = ""
        status: Status = "loaded"
        try:
            feature = self._feature(obj, None)
            if feature is not None and not self.license.allows(feature):
                status, reason = "refused", self._refusal(feature)
            else:
                plugin_name = self._unique_name(EXTRA_GROUP, name, None)
                reason = self._register(obj, plugin_name)
        except Exception as exc:
            log.debug("extra plugin %s failed to load", name, exc_info=exc)
            status, reason = "failed", error_text(exc)
        record = PluginRecord(
            group=EXTRA_GROUP,
            name=name,
            distribution=None,
            version=None,
            feature=feature,
            status=status,
            reason=reason,
            target=target,
        )
        self._add_record(record)
        self._remember(plugin_name, record)

    def _remember(self, plugin_name: str, record: PluginRecord) -> None:
        if record.status == "loaded" and self.pm.has_plugin(plugin_name):
            self._by_plugin_name[plugin_name] = record
            self._plugin_names[record.group, record.name] = plugin_name

    # -- contributions -------------------------------------------------------------------------

    def _describe_plugin(self, plugin_name: str) -> str:
        record = self._by_plugin_name.get(plugin_name)
        if record is None:
            return plugin_name
        origin = f" ({record.distribution} {record.version})" if record.distribution else ""
        return f"{plugin_name}{origin}"

    def _collect_contributions(self) -> None:
        """Call every contribution hook once and keep what they gave (at build time)."""
        collected = collect_contributions(self.pm, self._describe_plugin)
        self._contributions = collected.by_kind
        self.conflicts = list(collected.conflicts)

    def _of_kind(self, kind: str) -> Mapping[str, Contribution]:
        try:
            return self._contributions[kind]
        except KeyError:
            known = ", ".join(KINDS)
            raise NotFound(f"unknown extension kind {kind!r}; the kinds are {known}") from None

    def contributions(self, kind: str) -> dict[str, type]:
        """Name → class of every contribution of ``kind`` (a key of :data:`KINDS`)."""
        return {name: found.cls for name, found in self._of_kind(kind).items()}

    def contribution_sources(self, kind: str) -> dict[str, str]:
        """Name → the plugin (``group:name (distribution version)``) that contributed it."""
        return {
            name: self._describe_plugin(found.plugin_name)
            for name, found in self._of_kind(kind).items()
        }

    def get(self, kind: str, name: str) -> type:
        """The class contributed as ``name`` for ``kind``; :class:`NotFound` lists the names."""
        found = self.contributions(kind)
        try:
            return found[name]
        except KeyError:
            names = ", ".join(sorted(found)) or "none"
            raise NotFound(f"no {kind} named {name!r}; available: {names}") from None

    def drivers(self) -> dict[str, type[Driver]]:
        """Protocol drivers by name."""
        return cast(dict[str, type[Driver]], self.contributions("driver"))

    def media(self) -> dict[str, type[Medium]]:
        """Communication media by name."""
        return cast(dict[str, type[Medium]], self.contributions("medium"))

    def validators(self) -> dict[str, type[Validator]]:
        """Validation checks by name."""
        return cast(dict[str, type[Validator]], self.contributions("validator"))

    def estimators(self) -> dict[str, type[Estimator]]:
        """Estimation methods by name."""
        return cast(dict[str, type[Estimator]], self.contributions("estimator"))

    def calculations(self) -> dict[str, type[Calculation]]:
        """Calculation functions by name."""
        return cast(dict[str, type[Calculation]], self.contributions("calculation"))

    def exports(self) -> dict[str, type[ExportDestination]]:
        """Export destinations by name."""
        return cast(dict[str, type[ExportDestination]], self.contributions("export"))

    def imports(self) -> dict[str, type[ImportFormat]]:
        """Import formats by name."""
        return cast(dict[str, type[ImportFormat]], self.contributions("import"))

    def reports(self) -> dict[str, type[ReportRenderer]]:
        """Report renderers by name."""
        return cast(dict[str, type[ReportRenderer]], self.contributions("report"))

    def cim_adapters(self) -> dict[str, type[CimAdapter]]:
        """IEC 61968-9 adapters by noun."""
        return cast(dict[str, type[CimAdapter]], self.contributions("cim"))

    def api_extensions(self) -> dict[str, type[ApiExtension]]:
        """API extensions (blueprint builders) by name."""
        return cast(dict[str, type[ApiExtension]], self.contributions("api"))

    def simulators(self) -> dict[str, type[Simulator]]:
        """Meter simulators by protocol name (``dlms``, ``modbus``, ``iec62056-21``)."""
        return cast(dict[str, type[Simulator]], self.contributions("simulator"))

    def meter_types(self) -> dict[str, type[MeterType]]:
        """Meter types by name (``kamstrup-multical-603``)."""
        return cast(dict[str, type[MeterType]], self.contributions("meter_type"))

    # -- events --------------------------------------------------------------------------------

    def notify(self, event: str, **kwargs: Any) -> None:
        """Call the event hook ``event`` on every plugin, fire-and-forget.

        Each implementation is called on its own: one that raises is logged at ERROR with the
        plugin's name and the others are still called. The arguments must be exactly the
        hook's (a missing or unknown one raises :class:`TypeError`, a bug in the caller).
        """
        if event not in EVENT_HOOKS:
            raise NotFound(
                f"{event!r} is not an event hook; the events are {', '.join(EVENT_HOOKS)}"
            )
        caller: pluggy.HookCaller = getattr(self.pm.hook, event)
        assert caller.spec is not None
        expected = set(caller.spec.argnames)
        if set(kwargs) != expected:
            raise TypeError(
                f"{event} takes {', '.join(caller.spec.argnames)}; got {', '.join(sorted(kwargs))}"
            )
        for impl in implementations(self.pm, event):
            try:
                call_one(self.pm, event, impl, kwargs)
            except Exception:
                log.exception(
                    "event %s: plugin %s raised; the other listeners still run",
                    event,
                    self._describe_plugin(impl.plugin_name),
                )
