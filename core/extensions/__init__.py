"""Extension points: one abstract base class per kind of plugin contribution.

A plugin contributes *classes* (never instances) through the ``register_*`` hooks of
:mod:`meterhub.hookspecs`; the core instantiates them when it needs them. Each module here holds
one extension point with the plain value types that belong to it:

================================  ===========================  ==============================
module                            base class                   hook
================================  ===========================  ==============================
:mod:`~.driver`                   :class:`Driver`              ``register_drivers()``
:mod:`~.medium`                   :class:`Medium`              ``register_media()``
:mod:`~.validator`                :class:`Validator`           ``register_validators()``
:mod:`~.estimator`                :class:`Estimator`           ``register_estimators()``
:mod:`~.calculation`              :class:`Calculation`         ``register_calculations()``
:mod:`~.export`                   :class:`ExportDestination`   ``register_exports()``
:mod:`~.importer`                 :class:`ImportFormat`        ``register_imports()``
:mod:`~.report`                   :class:`ReportRenderer`      ``register_reports()``
:mod:`~.cim`                      :class:`CimAdapter`          ``register_cim_adapters()``
:mod:`~.api`                      :class:`ApiExtension`        ``register_api_blueprints()``
:mod:`~.metertype`                :class:`MeterType`           ``register_meter_types()``
================================  ===========================  ==============================

:mod:`~.series` holds the interval block shared by validators, estimators and calculations;
:mod:`~.events` the plain records that event hooks carry; :mod:`~.settings` the settings
models of drivers and media; :mod:`~.driverkit` what drivers and simulators share (exact reads,
ptys, a frame server, the simulated meter model); :mod:`~.veecontext` the parameters, context
and verdicts of VEE plugins and :mod:`~.veekit` the numpy kernels they share.
"""

from meterhub.extensions.api import ApiExtension
from meterhub.extensions.calculation import Calculation
from meterhub.extensions.cim import CimAdapter, CimMessage
from meterhub.extensions.driver import (
    Action,
    AuthenticationFailed,
    BillingPeriod,
    BillingValues,
    DeviceError,
    Driver,
    DriverConnection,
    DriverError,
    DriverInfo,
    ErrorKind,
    EventLog,
    LinkLost,
    LoadLimit,
    LoadProfile,
    MeterEvent,
    MeterTimeout,
    ProfileChannel,
    ProtocolError,
    Quality,
    Reading,
    Submeter,
    UnsupportedAction,
    profile_channel,
)
from meterhub.extensions.estimator import Estimator
from meterhub.extensions.events import FinishedJob, FinishedTask, MeterAlarm
from meterhub.extensions.export import DeliveryFailed, ExportDestination, ExportMetadata
from meterhub.extensions.importer import ImportFormat, ImportRecord, ParseError
from meterhub.extensions.medium import Medium
from meterhub.extensions.metertype import ChannelSpec, MeterType
from meterhub.extensions.report import Column, ReportData, ReportRenderer
from meterhub.extensions.series import IntervalBlock
from meterhub.extensions.settings import PluginSettings, SecretSpec, WholeNumber, secret
from meterhub.extensions.trace import FrameTrace
from meterhub.extensions.validator import Validator
from meterhub.extensions.veecontext import (
    ChannelFacts,
    Finding,
    NoParameters,
    RegisterSeries,
    SlotCalendar,
    VeeContext,
    VeeParameters,
    Verdict,
)

__all__ = [
    "Action",
    "AuthenticationFailed",
    "BillingPeriod",
    "BillingValues",
    "LoadLimit",
    "PluginSettings",
    "ProfileChannel",
    "SecretSpec",
    "WholeNumber",
    "profile_channel",
    "secret",
    "DeviceError",
    "DriverError",
    "ErrorKind",
    "FrameTrace",
    "MeterTimeout",
    "ProtocolError",
    "ApiExtension",
    "Calculation",
    "CimAdapter",
    "CimMessage",
    "Column",
    "DeliveryFailed",
    "Driver",
    "DriverConnection",
    "DriverInfo",
    "Estimator",
    "EventLog",
    "ExportDestination",
    "ExportMetadata",
    "Finding",
    "FinishedJob",
    "MeterAlarm",
    "FinishedTask",
    "ImportFormat",
    "ImportRecord",
    "IntervalBlock",
    "LinkLost",
    "LoadProfile",
    "Medium",
    "MeterType",
    "ChannelSpec",
    "MeterEvent",
    "ParseError",
    "Quality",
    "Reading",
    "ReportData",
    "ReportRenderer",
    "Submeter",
    "UnsupportedAction",
    "Validator",
    "ChannelFacts",
    "NoParameters",
    "RegisterSeries",
    "SlotCalendar",
    "VeeContext",
    "VeeParameters",
    "Verdict",
]
