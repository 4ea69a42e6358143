"""The hook specifications: every place where MeterHub calls plugins.

A plugin implements hooks by name with :data:`meterhub.hookimpl`::

    from meterhub import hookimpl

    @hookimpl
    def register_exports():
        return [MyDestination]

A hook implementation may accept fewer arguments than the specification names (pluggy passes
only the ones asked for), so new arguments can be added later without breaking plugins.

There are two kinds of hooks:

* **Contributions** (``register_<things>()``): each implementation returns a *list of classes*,
  subclasses of the extension point's base class in :mod:`meterhub.extensions`, or ``None`` for
  nothing. The class attribute ``name`` (``noun`` for CIM adapters) is the contribution's key;
  :class:`meterhub.pluginhost.PluginHost` merges the lists into name → class mappings. When two
  plugins contribute the same name, the implementation called first wins: installed plugins
  before the built-ins, which are marked ``trylast``.
* **Events** (named after what happened): fire-and-forget notifications called after the fact,
  once the data is committed. They carry plain data only (ids, names, aware UTC datetimes and the
  records of :mod:`meterhub.extensions.events`), never ORM objects or sessions; return values
  are ignored, and an exception in one implementation is logged and does not stop the others
  or the caller. Implementations run in the caller's thread: hand long work to a job.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from meterhub import hookspec

if TYPE_CHECKING:
    from meterhub.extensions.api import ApiExtension
    from meterhub.extensions.calculation import Calculation
    from meterhub.extensions.cim import CimAdapter
    from meterhub.extensions.driver import Driver
    from meterhub.extensions.estimator import Estimator
    from meterhub.extensions.events import FinishedJob, FinishedTask, MeterAlarm
    from meterhub.extensions.export import ExportDestination
    from meterhub.extensions.importer import ImportFormat
    from meterhub.extensions.medium import Medium
    from meterhub.extensions.metertype import MeterType
    from meterhub.extensions.report import ReportRenderer
    from meterhub.extensions.simulator import Simulator
    from meterhub.extensions.validator import Validator


# ---------------------------------------------------------------------------------------------
# Contributions: acquisition
# ---------------------------------------------------------------------------------------------


@hookspec
def register_drivers() -> list[type[Driver]] | None:
    """Contribute protocol drivers.

    Return a list of :class:`~meterhub.extensions.driver.Driver` subclasses. The key is
    ``Driver.name``, the short name meters are configured with (``dlms``, ``modbus``).
    """


@hookspec
def register_media() -> list[type[Medium]] | None:
    """Contribute communication media (transports such as TCP, serial lines, modems).

    Return a list of :class:`~meterhub.extensions.medium.Medium` subclasses. The key is
    ``Medium.name``, which communication paths refer to.
    """


@hookspec
def register_simulators() -> list[type[Simulator]] | None:
    """Contribute meter simulators: protocol peers for tests, ``make demo`` and benchmarks.

    Return a list of :class:`~meterhub.extensions.simulator.Simulator` subclasses. The key is
    ``Simulator.name``, the protocol that ``meterhub simulate --protocol`` takes (``dlms``,
    ``modbus``, ``iec62056-21``). Simulators have no entry-point group of their own: the driver
    plugin of a protocol usually contributes its simulator too, under the driver's feature.
    """


@hookspec
def register_meter_types() -> list[type[MeterType]] | None:
    """Contribute meter types: the driver, settings and channels of a make and model of meter.

    Return a list of :class:`~meterhub.extensions.metertype.MeterType` subclasses (usually made
    from data with ``MeterType.from_mapping``). The key is ``MeterType.name``. Like simulators,
    meter types have no entry-point group of their own: a driver plugin contributes the types of
    the meters it reads, under its own feature.
    """


# ---------------------------------------------------------------------------------------------
# Contributions: validation, estimation, calculation
# ---------------------------------------------------------------------------------------------


@hookspec
def register_validators() -> list[type[Validator]] | None:
    """Contribute validation checks for VEE.

    Return a list of :class:`~meterhub.extensions.validator.Validator` subclasses. The key is
    ``Validator.name``, which rule sets refer to; the order checks run in is the rule set's.
    """


@hookspec
def register_estimators() -> list[type[Estimator]] | None:
    """Contribute estimation methods for VEE.

    Return a list of :class:`~meterhub.extensions.estimator.Estimator` subclasses. The key is
    ``Estimator.name``, which rule sets and estimated-value flags refer to.
    """


@hookspec
def register_calculations() -> list[type[Calculation]] | None:
    """Contribute calculation functions for virtual meters and formulas.

    Return a list of :class:`~meterhub.extensions.calculation.Calculation` subclasses. The key
    is ``Calculation.name``, which formulas refer to.
    """


# ---------------------------------------------------------------------------------------------
# Contributions: data exchange and presentation
# ---------------------------------------------------------------------------------------------


@hookspec
def register_exports() -> list[type[ExportDestination]] | None:
    """Contribute export destinations.

    Return a list of :class:`~meterhub.extensions.export.ExportDestination` subclasses. The key
    is ``ExportDestination.name``, the scheme of an export target (``memory:demo``).
    """


@hookspec
def register_imports() -> list[type[ImportFormat]] | None:
    """Contribute import formats.

    Return a list of :class:`~meterhub.extensions.importer.ImportFormat` subclasses. The key is
    ``ImportFormat.name``, which import commands and jobs refer to.
    """


@hookspec
def register_reports() -> list[type[ReportRenderer]] | None:
    """Contribute report renderers (file formats for reports).

    Return a list of :class:`~meterhub.extensions.report.ReportRenderer` subclasses. The key is
    ``ReportRenderer.name``, which report definitions refer to.
    """


@hookspec
def register_cim_adapters() -> list[type[CimAdapter]] | None:
    """Contribute IEC 61968-9 adapters, one per CIM noun.

    Return a list of :class:`~meterhub.extensions.cim.CimAdapter` subclasses. The key is
    ``CimAdapter.noun`` (``MeterReadings``), the noun of the messages the adapter handles.
    """


@hookspec
def register_api_blueprints() -> list[type[ApiExtension]] | None:
    """Contribute REST API and web UI endpoints.

    Return a list of :class:`~meterhub.extensions.api.ApiExtension` subclasses, each building
    one Flask blueprint. The key is ``ApiExtension.name``, used as the blueprint's name.
    """


# ---------------------------------------------------------------------------------------------
# Events: meter data
# ---------------------------------------------------------------------------------------------


@hookspec
def readings_stored(channel_ids: Sequence[int], start: datetime, end: datetime, kind: str) -> None:
    """Interval values of some channels were stored (after the transaction committed).

    Chains such as "calculate after acquisition" or "export after validation" listen here.
    The meter data store fires it once its transaction has committed, never for one that was
    rolled back: after ``write_intervals`` (kind ``raw``: new raw values or a differing
    re-read) and after ``write_normalized`` with kind ``validated``, ``estimated`` or
    ``calculated``. A unit of work fires once, after its commit, with its writes merged: each
    channel appears once per kind, and channels with the same period share one call.

    :param channel_ids: the ids of the channels written, a tuple of ints (ascending).
    :param start: the start of the first interval written, an aware UTC datetime.
    :param end: the end of the last interval written, an aware UTC datetime.
    :param kind: what was stored: ``raw`` (acquired or imported), ``validated``,
        ``estimated`` or ``calculated``.
    """


@hookspec
def values_edited(channel_id: int, start: datetime, end: datetime, user: str, reason: str) -> None:
    """A user edited interval values by hand; the edit is stored as a new version.

    The meter data store fires it once per changed channel after the transaction committed:
    after ``write_normalized`` with kind ``manual`` (the default), ``recalculate`` and
    ``restore`` (edits a person starts). Only the slots whose value or flags changed count.

    :param channel_id: the id of the channel edited.
    :param start: the start of the first interval edited, an aware UTC datetime.
    :param end: the end of the last interval edited, an aware UTC datetime.
    :param user: the login name of the user who edited.
    :param reason: the reason the user gave for the edit.
    """


# ---------------------------------------------------------------------------------------------
# Events: acquisition
# ---------------------------------------------------------------------------------------------


@hookspec
def task_finished(task: FinishedTask) -> None:
    """An acquisition task ended (succeeded, failed after its last attempt, or cancelled).

    :param task: a :class:`~meterhub.extensions.events.FinishedTask` record.
    """


@hookspec
def job_finished(job: FinishedJob) -> None:
    """A job ended: every task it expanded into has ended.

    :param job: a :class:`~meterhub.extensions.events.FinishedJob` record.
    """


@hookspec
def alarms_stored(meter_id: int, alarms: Sequence[MeterAlarm]) -> None:
    """A meter pushed alarms (power failure, tamper, relay ...); they are stored as events.

    The listener for meters that call in (:mod:`meterhub.acquisition.inbound`) fires it once
    per pushed message that carries alarms, after the transaction that stored the message's
    values and events committed, and before the meter's waiting tasks run; on a worker of the
    scaled-out mode the batch writer fires it after the batch that stored them committed. A
    plugin forwards them here, for example to an outage management system.

    :param meter_id: the id of the meter that pushed.
    :param alarms: the alarms, a tuple of :class:`~meterhub.extensions.events.MeterAlarm`.
    """
