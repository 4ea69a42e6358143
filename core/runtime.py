"""The running system's state: settings, license, database and plugins, built once per process.

The web application, the CLI and the workers each build one :class:`Runtime` from the settings;
nothing here is a module global, so tests build as many as they need.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from meterhub.config import Settings, load_settings
from meterhub.db import make_engine, make_sessionmaker, require_current_schema
from meterhub.licensing import License, load_license
from meterhub.pluginhost import PluginHost, build_plugin_host

if TYPE_CHECKING:
    from meterhub.acquisition.metrics import AcquisitionMetrics
    from meterhub.calculations import CalculationEngine
    from meterhub.timeseries import MeterDataStore
    from meterhub.vee import Editing, IngestValidation, VeeEngine

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Everything a request, a command or a worker needs, built from one settings object."""

    settings: Settings
    license: License
    engine: Engine
    sessions: sessionmaker[Session]
    plugins: PluginHost

    @cached_property
    def store(self) -> MeterDataStore:
        """The meter data store on this runtime's database, built on first use.

        It owns the transactions of meter data and fires the plugins' ``readings_stored`` and
        ``values_edited`` events through :meth:`PluginHost.notify` after each commit.
        """
        from meterhub.timeseries import MeterDataStore

        return MeterDataStore(
            self.engine, notify=self.plugins.notify, ingest_check=self.ingest_validation
        )

    @cached_property
    def ingest_validation(self) -> IngestValidation:
        """The on-the-fly validation the store runs inside its ingest transaction."""
        from meterhub.vee import IngestValidation

        return IngestValidation(self.plugins)

    @cached_property
    def vee(self) -> VeeEngine:
        """The VEE engine: validation profiles on demand, on a schedule, after ingest."""
        from meterhub.vee import VeeEngine

        return VeeEngine(self.store, self.sessions, self.plugins, ingest=self.ingest_validation)

    @cached_property
    def editing(self) -> Editing:
        """Manual edits and billing releases."""
        from meterhub.vee import Editing

        return Editing(self.store, self.sessions)

    @cached_property
    def calculations(self) -> CalculationEngine:
        """The engine of calculated channels."""
        from meterhub.calculations import CalculationEngine

        return CalculationEngine(self.store, self.sessions, self.plugins)

    @cached_property
    def metrics(self) -> AcquisitionMetrics:
        """The Prometheus metrics of acquisition, in a registry of this runtime's own: the
        engine on this runtime moves them, ``/metrics`` and ``meterhub acquire
        --metrics-port`` serve them."""
        from meterhub.acquisition.metrics import AcquisitionMetrics

        return AcquisitionMetrics()

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()


def build_runtime(settings: Settings | None = None, *, require_schema: bool = False) -> Runtime:
    """Read the license, open the database and load the licensed plugins (no web code).

    With ``require_schema`` the database is checked first: one that ``meterhub init`` has not
    brought up to this release raises :class:`meterhub.errors.ConfigurationError` before the
    license is read or a plugin loaded. A refused license file raises
    :class:`meterhub.errors.LicenseError`; a plugin that fails to load is reported and left out
    (unless ``plugins_strict`` is set).
    """
    settings = settings if settings is not None else load_settings()
    engine = make_engine(settings.effective_database_url)
    try:
        if require_schema:
            require_current_schema(engine)
        license = load_license(settings.effective_license_file, settings.license_public_key)
        if license.development:
            log.warning("%s", license.development_note())
        else:
            log.info("license %s for %s", license.license_id, license.customer)
        sessions = make_sessionmaker(engine, license=license)
        plugins = build_plugin_host(license, settings)
    except BaseException:
        engine.dispose()
        raise
    runtime = Runtime(settings, license, engine, sessions, plugins)
    from meterhub.vee.service import VeeService

    # VEE hears the store's events like a plugin: validation after ingest, calculations after
    # changes of their inputs (see meterhub.vee.service).
    plugins.pm.register(VeeService(runtime), name="core:vee")
    return runtime
