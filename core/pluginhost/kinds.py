"""The extension points: for each kind, its entry-point group and its base class.

The base class declares the contribution hook and the key of its kind (``Driver.hook`` is
``register_drivers``, ``Driver.key`` is ``name``); :data:`KINDS` only adds the entry-point
group, so the hook and key of a kind are written down once, next to the base class.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import cast

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

__all__ = ["CONTRIBUTION_HOOKS", "EVENT_HOOKS", "EXTRA_GROUP", "GROUPS", "KINDS", "Kind"]


@dataclass(frozen=True, slots=True)
class Kind:
    """One extension point: its entry-point group and base class.

    The contribution hook and the key (the class attribute that names a contribution) are the
    base class's own declarations, :attr:`hook` and :attr:`key`. ``group`` is ``None`` for an
    extension point without an entry-point group of its own (simulators, which the driver
    plugins contribute).
    """

    group: str | None
    base: type

    @property
    def hook(self) -> str:
        """The contribution hook, as the base class declares it (``register_drivers``)."""
        return cast(str, self.base.hook)  # type: ignore[attr-defined]

    @property
    def key(self) -> str:
        """The class attribute naming a contribution, as the base class declares it (``name``)."""
        return cast(str, self.base.key)  # type: ignore[attr-defined]


#: The extension points by kind. The kind is also the first half of a plugin's default
#: feature: an entry point ``hello`` in ``meterhub.exports`` needs the feature ``export:hello``.
KINDS: Mapping[str, Kind] = MappingProxyType(
    {
        "driver": Kind("meterhub.drivers", Driver),
        "medium": Kind("meterhub.media", Medium),
        "validator": Kind("meterhub.validators", Validator),
        "estimator": Kind("meterhub.estimators", Estimator),
        "calculation": Kind("meterhub.calculations", Calculation),
        "export": Kind("meterhub.exports", ExportDestination),
        "import": Kind("meterhub.imports", ImportFormat),
        "report": Kind("meterhub.reports", ReportRenderer),
        "cim": Kind("meterhub.cim", CimAdapter),
        "api": Kind("meterhub.api", ApiExtension),
        "simulator": Kind(None, Simulator),
        "meter_type": Kind(None, MeterType),
    }
)

#: Entry-point group → kind, in the order groups are loaded.
GROUPS: Mapping[str, str] = MappingProxyType(
    {kind.group: name for name, kind in KINDS.items() if kind.group is not None}
)

#: The contribution hooks, in the order of :data:`KINDS`.
CONTRIBUTION_HOOKS: tuple[str, ...] = tuple(kind.hook for kind in KINDS.values())

#: The event hooks; call them through :meth:`PluginHost.notify`.
EVENT_HOOKS: tuple[str, ...] = (
    "readings_stored",
    "values_edited",
    "task_finished",
    "job_finished",
    "alarms_stored",
)

#: The pseudo group of plugins registered in code through ``extra_plugins``.
EXTRA_GROUP = "extra"
