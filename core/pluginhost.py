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

Settings (see :class:`meterhub.config.Settings`): ``plugins_only`` loads only the entry points
whose name or distribution name is listed; ``plugins_disable_autoload`` loads no entry points at
all; ``plugins_strict`` raises :class:`PluginLoadError` when any plugin failed; and
``plugins_trace`` logs every hook call on the ``meterhub.pluginhost.trace`` logger at INFO.

Entry points are read fresh from :mod:`importlib.metadata` on every build rather than through
stevedore's entry-point cache: that cache is a class-level dict keyed only by group (blind to
``sys.path`` changes) plus a file cache in ``~/.cache/python-entrypoints`` keyed by file mtimes
packed as 32-bit floats (about two minutes' resolution), so a plugin installed moments ago could
stay invisible. A host is built once per process, so a fresh scan costs little.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol, TypeVar, cast

import pluggy
from stevedore.enabled import EnabledExtensionManager
from stevedore.extension import Extension, ExtensionManager

from meterhub import PROJECT_NAME, hookspecs
from meterhub.errors import MeterHubError, NotFound
from meterhub.extensions.api import ApiExtension
from meterhub.extensions.calculation import Calculation
from meterhub.extensions.cim import CimAdapter
from meterhub.extensions.driver import Driver
from meterhub.extensions.estimator import Estimator
from meterhub.extensions.export import ExportDestination
from meterhub.extensions.importer import ImportFormat
from meterhub.extensions.medium import Medium
from meterhub.extensions.report import ReportRenderer
from meterhub.extensions.simulator import Simulator
from meterhub.extensions.validator import Validator

if TYPE_CHECKING:
    from meterhub.config import Settings

__all__ = [
    "CONTRIBUTION_HOOKS",
    "EVENT_HOOKS",
    "GROUPS",
    "KINDS",
    "Conflict",
    "LicenseLike",
    "PluginHost",
    "PluginLoadError",
    "PluginRecord",
    "build_plugin_host",
]

log = logging.getLogger(__name__)
trace_log = logging.getLogger(f"{__name__}.trace")

T = TypeVar("T")

Status = Literal["loaded", "refused", "failed"]


class Kind(NamedTuple):
    """One extension point: its entry-point group, contribution hook, base class and key.

    ``group`` is ``None`` for an extension point without an entry-point group of its own
    (simulators, which the driver plugins contribute).
    """

    group: str | None
    hook: str
    base: type
    key: str


#: The extension points by kind. The kind is also the first half of a plugin's default
#: feature: an entry point ``hello`` in ``meterhub.exports`` needs the feature ``export:hello``.
KINDS: Mapping[str, Kind] = MappingProxyType(
    {
        "driver": Kind("meterhub.drivers", "register_drivers", Driver, "name"),
        "medium": Kind("meterhub.media", "register_media", Medium, "name"),
        "validator": Kind("meterhub.validators", "register_validators", Validator, "name"),
        "estimator": Kind("meterhub.estimators", "register_estimators", Estimator, "name"),
        "calculation": Kind("meterhub.calculations", "register_calculations", Calculation, "name"),
        "export": Kind("meterhub.exports", "register_exports", ExportDestination, "name"),
        "import": Kind("meterhub.imports", "register_imports", ImportFormat, "name"),
        "report": Kind("meterhub.reports", "register_reports", ReportRenderer, "name"),
        "cim": Kind("meterhub.cim", "register_cim_adapters", CimAdapter, "noun"),
        "api": Kind("meterhub.api", "register_api_blueprints", ApiExtension, "name"),
        "simulator": Kind(None, "register_simulators", Simulator, "name"),
    }
)

#: Entry-point group → kind, in the order groups are loaded.
GROUPS: Mapping[str, str] = MappingProxyType(
    {kind.group: name for name, kind in KINDS.items() if kind.group is not None}
)

#: The contribution hooks, in the order of :data:`KINDS`.
CONTRIBUTION_HOOKS: tuple[str, ...] = tuple(kind.hook for kind in KINDS.values())

#: The event hooks; call them through :meth:`PluginHost.notify`.
EVENT_HOOKS: tuple[str, ...] = ("readings_stored", "values_edited", "task_finished", "job_finished")

#: The pseudo group of plugins registered in code through ``extra_plugins``.
EXTRA_GROUP = "extra"


class LicenseLike(Protocol):
    """What the plugin host needs of a license (:class:`meterhub.licensing.License` fits)."""

    @property
    def customer(self) -> str:
        """Who the license is for."""
        ...

    @property
    def development(self) -> bool:
        """Whether this is the development license (no license file)."""
        ...

    def allows(self, feature: str) -> bool:
        """Whether ``feature`` is enabled."""
        ...


@dataclass(frozen=True, slots=True)
class PluginRecord:
    """What happened to one plugin while the host was built.

    ``status`` is ``loaded``, ``refused`` (the license does not enable ``feature``, or
    ``plugins_only`` does not list it) or ``failed`` (it did not import, could not be
    instantiated or registered); ``reason`` says why in words a user can act on, and is empty
    for a plain load. ``distribution`` and ``version`` name the installed distribution the
    entry point comes from (``None`` for ``extra_plugins``); ``target`` is the entry point's
    ``module:attribute``. ``feature`` is ``None`` when the plugin was never loaded or, for an
    extra plugin, declares none.
    """

    group: str
    name: str
    distribution: str | None
    version: str | None
    feature: str | None
    status: Status
    reason: str = ""
    target: str = ""

    def describe(self) -> str:
        """``group:name (distribution version)`` for messages."""
        origin = f" ({self.distribution} {self.version})" if self.distribution else ""
        return f"{self.group}:{self.name}{origin}"

    def as_dict(self) -> dict[str, Any]:
        """The record as JSON-ready data."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Conflict:
    """Two plugins contributed the same name; ``used`` won and ``ignored`` was left out.

    ``used`` and ``ignored`` describe the plugins as ``group:name (distribution version)``.
    """

    kind: str
    name: str
    used: str
    ignored: str

    def describe(self) -> str:
        """One line for logs and the ``plugins`` command."""
        return (
            f"{self.kind} {self.name!r} is contributed by {self.used} and by {self.ignored}; "
            f"using the one from {self.used}"
        )


class PluginLoadError(MeterHubError):
    """Plugins failed to load while ``plugins_strict`` is set; ``records`` lists them."""

    def __init__(self, records: Sequence[PluginRecord]) -> None:
        details = "; ".join(f"{record.describe()}: {record.reason}" for record in records)
        count = len(records)
        super().__init__(
            f"{count} plugin{'s' if count != 1 else ''} failed to load (plugins_strict is "
            f"set): {details}"
        )
        self.records = tuple(records)


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _distribution(entry_point: importlib.metadata.EntryPoint) -> tuple[str | None, str | None]:
    dist = getattr(entry_point, "dist", None)
    if dist is None:
        return None, None
    return dist.metadata["Name"], dist.version


def _normalize(name: str) -> str:
    """A distribution or plugin name compared the way PyPI compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _describe_license(license: LicenseLike) -> str:
    """``license L-1 for Acme``: the license's own text, or one built from its fields."""
    if type(license).__str__ is not object.__str__:
        return str(license)
    ident = getattr(license, "license_id", None)
    if ident:
        return f"license {ident} for {license.customer}"
    return f"the license of {license.customer}"


class _FreshEntryPointManager(EnabledExtensionManager[Any]):
    """An EnabledExtensionManager over a given list of entry points (no stevedore cache)."""

    def __init__(
        self,
        namespace: str,
        entry_points: Sequence[importlib.metadata.EntryPoint],
        check_func: Callable[[Extension[Any]], bool],
        on_load_failure_callback: Callable[
            [ExtensionManager[Any], importlib.metadata.EntryPoint, BaseException], None
        ],
    ) -> None:
        self._given_entry_points = list(entry_points)
        super().__init__(
            namespace,
            check_func=check_func,
            invoke_on_load=False,
            on_load_failure_callback=on_load_failure_callback,
        )

    def list_entry_points(self) -> list[importlib.metadata.EntryPoint]:
        """The entry points given to the constructor, bypassing stevedore's caches."""
        return self._given_entry_points


class PluginHost:
    """The plugins of one application: the pluggy manager, load records and typed accessors.

    Build it with :func:`build_plugin_host`. :attr:`pm` is the :class:`pluggy.PluginManager`
    (hook specifications added), :attr:`hook` its hook relay, :attr:`records` one
    :class:`PluginRecord` per plugin seen. The accessors (:meth:`drivers`, :meth:`exports`, ...)
    call the contribution hook of their kind each time and return name → class; a name
    contributed twice is reported once in :attr:`conflicts` and logged as a WARNING.
    """

    def __init__(self, pm: pluggy.PluginManager, license: LicenseLike) -> None:
        self.pm = pm
        self.license = license
        self.records: list[PluginRecord] = []
        self.conflicts: list[Conflict] = []
        self._lock = threading.Lock()
        self._reported: set[tuple[str, ...]] = set()
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
        return f"feature {feature} not enabled by {_describe_license(self.license)}"

    def _register(self, obj: object, plugin_name: str) -> str:
        """Register ``obj`` (instantiating a class); return a note, or raise on failure."""
        other = self._registered_objects.get(id(obj))
        if other is not None:
            return f"the same object as {other}, registered once"
        plugin = obj() if inspect.isclass(obj) else obj
        self.pm.register(plugin, name=plugin_name)
        callers = self.pm.get_hookcallers(plugin) or []
        unknown = sorted(
            caller.name
            for caller in callers
            if not caller.has_spec()
            and not all(impl.optionalhook for impl in caller.get_hookimpls())
        )
        if unknown or not callers:
            self.pm.unregister(plugin)
            if unknown:
                raise LookupError(
                    f"implements unknown hook{'s' if len(unknown) > 1 else ''} "
                    f"{', '.join(unknown)}; see meterhub.hookspecs for the hooks"
                )
            raise LookupError("has no hook implementations (is @meterhub.hookimpl missing?)")
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
        wanted = {_normalize(item) for item in only}
        selected: list[importlib.metadata.EntryPoint] = []
        for entry_point in entry_points:
            distribution, version = _distribution(entry_point)
            names = {_normalize(entry_point.name)}
            if distribution:
                names.add(_normalize(distribution))
            if wanted and not names & wanted:
                self._add_record(
                    PluginRecord(
                        group,
                        entry_point.name,
                        distribution,
                        version,
                        None,
                        "refused",
                        f"not listed in plugins_only ({', '.join(only)})",
                        entry_point.value,
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
            distribution, version = _distribution(extension.entry_point)
            self._add_record(
                PluginRecord(
                    group,
                    extension.name,
                    distribution,
                    version,
                    feature,
                    "refused",
                    self._refusal(feature),
                    extension.entry_point.value,
                )
            )
            return False

        def failed(
            _manager: ExtensionManager[Any],
            entry_point: importlib.metadata.EntryPoint,
            exc: BaseException,
        ) -> None:
            distribution, version = _distribution(entry_point)
            log.debug("plugin %s:%s failed to load", group, entry_point.name, exc_info=exc)
            self._add_record(
                PluginRecord(
                    group,
                    entry_point.name,
                    distribution,
                    version,
                    features.get(id(entry_point)),
                    "failed",
                    _error_text(exc),
                    entry_point.value,
                )
            )

        manager = _FreshEntryPointManager(group, selected, check, failed)
        for extension in manager.extensions:
            entry_point = extension.entry_point
            distribution, version = _distribution(entry_point)
            feature = features[id(entry_point)]
            plugin_name = self._unique_name(group, extension.name, distribution)
            try:
                note = self._register(extension.plugin, plugin_name)
            except Exception as exc:
                log.debug("plugin %s failed to register", plugin_name, exc_info=exc)
                record = PluginRecord(
                    group,
                    extension.name,
                    distribution,
                    version,
                    feature,
                    "failed",
                    _error_text(exc),
                    entry_point.value,
                )
            else:
                record = PluginRecord(
                    group,
                    extension.name,
                    distribution,
                    version,
                    feature,
                    "loaded",
                    note,
                    entry_point.value,
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
        try:
            feature = self._feature(obj, None)
            if feature is not None and not self.license.allows(feature):
                record = PluginRecord(
                    EXTRA_GROUP,
                    name,
                    None,
                    None,
                    feature,
                    "refused",
                    self._refusal(feature),
                    target,
                )
                self._add_record(record)
                return
            plugin_name = self._unique_name(EXTRA_GROUP, name, None)
            note = self._register(obj, plugin_name)
        except Exception as exc:
            log.debug("extra plugin %s failed to load", name, exc_info=exc)
            self._add_record(
                PluginRecord(
                    EXTRA_GROUP, name, None, None, feature, "failed", _error_text(exc), target
                )
            )
            return
        record = PluginRecord(EXTRA_GROUP, name, None, None, feature, "loaded", note, target)
        self._add_record(record)
        self._remember(plugin_name, record)

    def _remember(self, plugin_name: str, record: PluginRecord) -> None:
        if record.status == "loaded" and self.pm.has_plugin(plugin_name):
            self._by_plugin_name[plugin_name] = record
            self._plugin_names[record.group, record.name] = plugin_name

    # -- calling -------------------------------------------------------------------------------

    def _implementations(self, hook_name: str) -> list[pluggy.HookImpl]:
        """The plain (non-wrapper) implementations of ``hook_name`` in call order."""
        caller: pluggy.HookCaller = getattr(self.pm.hook, hook_name)
        impls = [impl for impl in caller.get_hookimpls() if not (impl.wrapper or impl.hookwrapper)]
        return list(reversed(impls))

    def _call_one(self, hook_name: str, impl: pluggy.HookImpl, kwargs: Mapping[str, Any]) -> Any:
        """Call ``hook_name`` on the one plugin of ``impl`` (traced like any hook call)."""
        others = [plugin for plugin in self.pm.get_plugins() if plugin is not impl.plugin]
        return self.pm.subset_hook_caller(hook_name, remove_plugins=others)(**kwargs)

    def _describe_plugin(self, plugin_name: str) -> str:
        record = self._by_plugin_name.get(plugin_name)
        if record is None:
            return plugin_name
        origin = f" ({record.distribution} {record.version})" if record.distribution else ""
        return f"{plugin_name}{origin}"

    def _report_once(self, key: tuple[str, ...], level: int, message: str) -> bool:
        """Log ``message`` the first time ``key`` is seen; return whether it was the first."""
        with self._lock:
            if key in self._reported:
                return False
            self._reported.add(key)
        log.log(level, "%s", message)
        return True

    def _collect(self, kind: str) -> dict[str, tuple[type, str]]:
        """Name → (class, plugin name) for ``kind``, first called implementation winning."""
        try:
            spec = KINDS[kind]
        except KeyError:
            known = ", ".join(KINDS)
            raise NotFound(f"unknown extension kind {kind!r}; the kinds are {known}") from None
        found: dict[str, tuple[type, str]] = {}
        for impl in self._implementations(spec.hook):
            plugin = self._describe_plugin(impl.plugin_name)
            try:
                results = self._call_one(spec.hook, impl, {})
            except Exception as exc:
                log.debug("%s raised in %s", spec.hook, plugin, exc_info=exc)
                self._report_once(
                    ("raised", spec.hook, impl.plugin_name),
                    logging.ERROR,
                    f"{spec.hook}() of plugin {plugin} raised {_error_text(exc)}; "
                    "its contributions are left out",
                )
                continue
            for result in results:
                if not isinstance(result, list | tuple):
                    self._report_once(
                        ("result", spec.hook, impl.plugin_name),
                        logging.ERROR,
                        f"{spec.hook}() of plugin {plugin} returned {type(result).__name__}; "
                        "it must return a list of classes",
                    )
                    continue
                for item in result:
                    key = self._check_contribution(spec, kind, item, plugin, impl.plugin_name)
                    if key is None:
                        continue
                    if key not in found:
                        found[key] = (item, impl.plugin_name)
                    elif found[key][0] is not item:
                        self._conflict(kind, key, found[key][1], impl.plugin_name)
        return found

    def _check_contribution(
        self, spec: Kind, kind: str, item: object, plugin: str, plugin_name: str
    ) -> str | None:
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
            self._report_once(
                ("invalid", spec.hook, plugin_name, repr(item)),
                logging.ERROR,
                f"{spec.hook}() of plugin {plugin}: {item!r} {problem}; left out",
            )
            return None
        return cast(str, key)

    def _conflict(self, kind: str, name: str, used: str, ignored: str) -> None:
        conflict = Conflict(kind, name, self._describe_plugin(used), self._describe_plugin(ignored))
        key = ("conflict", kind, name, used, ignored)
        if self._report_once(key, logging.WARNING, conflict.describe()):
            self.conflicts.append(conflict)

    def contributions(self, kind: str) -> dict[str, type]:
        """Name → class of every contribution of ``kind`` (a key of :data:`KINDS`)."""
        return {name: cls for name, (cls, _plugin) in self._collect(kind).items()}

    def contribution_sources(self, kind: str) -> dict[str, str]:
        """Name → the plugin (``group:name (distribution version)``) that contributed it."""
        return {
            name: self._describe_plugin(plugin)
            for name, (_cls, plugin) in self._collect(kind).items()
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
        for impl in self._implementations(event):
            try:
                self._call_one(event, impl, kwargs)
            except Exception:
                log.exception(
                    "event %s: plugin %s raised; the other listeners still run",
                    event,
                    self._describe_plugin(impl.plugin_name),
                )


def _trace_writer(text: str) -> None:
    trace_log.info("%s", text.rstrip("\n"))


def _entry_points_by_group() -> dict[str, list[importlib.metadata.EntryPoint]]:
    """Every MeterHub entry point by group, read fresh, without duplicates."""
    everything = importlib.metadata.entry_points()
    by_group: dict[str, list[importlib.metadata.EntryPoint]] = {}
    for group in GROUPS:
        seen: set[tuple[str, str]] = set()
        by_group[group] = []
        for entry_point in everything.select(group=group):
            if (entry_point.name, entry_point.value) not in seen:
                seen.add((entry_point.name, entry_point.value))
                by_group[group].append(entry_point)
    return by_group


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
        for group, entry_points in _entry_points_by_group().items():
            host._load_group(group, entry_points, settings.plugins_only)
    for obj in extra_plugins:
        host._load_extra(obj)
    failures = host.failed()
    if failures and settings.plugins_strict:
        raise PluginLoadError(failures)
    return host
