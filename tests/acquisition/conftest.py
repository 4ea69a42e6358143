"""Fixtures of the acquisition tests: a runtime on the test database, simulated fleets, an
engine, and waiting for runs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from script_fixtures import (  # noqa: F401 - fixtures are found by name
    cli_env,
    meterhub,
    meterhub_here,
)
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from meterhub import hookimpl
from meterhub.acquisition.engine import AcquisitionEngine, EngineOptions
from meterhub.config import load_settings
from meterhub.db import transaction
from meterhub.extensions.events import FinishedJob, FinishedTask
from meterhub.inventory import devices, groups, meters
from meterhub.inventory.elements import create_element
from meterhub.inventory.metering import add_channel, create_metering_point, create_virtual_meter
from meterhub.inventory.templates import create_template
from meterhub.model.templates import Template
from meterhub.runtime import Runtime, build_runtime

START = datetime(2026, 1, 1, tzinfo=UTC)


class Listener:
    """A plugin that records the acquisition events it hears."""

    def __init__(self) -> None:
        self.tasks: list[FinishedTask] = []
        self.jobs: list[FinishedJob] = []
        self.stored: list[tuple[tuple[int, ...], datetime, datetime, str]] = []

    @hookimpl
    def task_finished(self, task: FinishedTask) -> None:
        self.tasks.append(task)

    @hookimpl
    def job_finished(self, job: FinishedJob) -> None:
        self.jobs.append(job)

    @hookimpl
    def readings_stored(self, channel_ids: Any, start: datetime, end: datetime, kind: str) -> None:
        self.stored.append((tuple(channel_ids), start, end, kind))


@pytest.fixture
def make_runtime(
    tmp_path: Path, database_url: str, engine: Engine, session_factory: sessionmaker[Session]
) -> Iterator[Callable[..., Runtime]]:
    """Build runtimes on the test database (tables emptied per test), closed afterwards."""
    built: list[Runtime] = []

    def make(*plugins: object, **overrides: Any) -> Runtime:
        values = {
            "data_dir": tmp_path / "data",
            "database_url": database_url,
            "acquisition_batch_seconds": 0.05,
        } | overrides
        runtime = build_runtime(load_settings(**values))
        for plugin in plugins:
            runtime.plugins.pm.register(plugin)
        built.append(runtime)
        return runtime

    yield make
    for runtime in built:
        runtime.close()


@pytest.fixture
def listener() -> Listener:
    return Listener()


@pytest.fixture
def runtime(make_runtime: Callable[..., Runtime], listener: Listener) -> Runtime:
    return make_runtime(listener)


@dataclass
class Fleet:
    """Simulated meters, each serving one virtual meter with channels."""

    meter_ids: list[int] = field(default_factory=list)
    serials: list[str] = field(default_factory=list)
    virtual_meter_ids: list[int] = field(default_factory=list)
    channels: dict[tuple[int, str], int] = field(default_factory=dict)
    group_id: int | None = None


@pytest.fixture
def make_fleet(runtime: Runtime) -> Callable[..., Fleet]:
    """Create ``count`` simulated meters with profile, register and event channels."""
    counter = iter(range(1, 10_000))

    def make(
        count: int = 3,
        *,
        settings: dict[str, Any] | None = None,
        profile: tuple[str, ...] = ("1-0:1.29.0", "1-0:3.29.0"),
        registers: tuple[str, ...] = ("1-0:1.8.0",),
        events: tuple[str, ...] = ("0-0:99.98.0",),
        group: str | None = None,
        paths: list[dict[str, Any]] | None = None,
    ) -> Fleet:
        fleet = Fleet()
        number = next(counter)
        with transaction(runtime.sessions, user="tester") as session:
            if session.scalars(select(Template).where(Template.name == "Site")).first() is None:
                create_template(session, "Site")
            element = create_element(session, template="Site", name=f"site {number}")
            meter_group = groups.create_group(session, name=group) if group else None
            drivers = runtime.plugins.drivers()
            for index in range(count):
                serial = f"F{number}-{index:03d}"
                point = create_metering_point(session, element=element, name=f"point {index}")
                virtual = create_virtual_meter(session, metering_point=point, name="main")
                for obis in profile:
                    channel = add_channel(
                        session, virtual_meter=virtual, obis=obis, interval_minutes=15, unit=None
                    )
                    fleet.channels[(virtual.id, channel.obis)] = channel.id
                for obis in registers:
                    channel = add_channel(
                        session, virtual_meter=virtual, obis=obis, kind="register"
                    )
                    fleet.channels[(virtual.id, channel.obis)] = channel.id
                for obis in events:
                    channel = add_channel(session, virtual_meter=virtual, obis=obis, kind="event")
                    fleet.channels[(virtual.id, channel.obis)] = channel.id
                meter = meters.create_meter(
                    session,
                    manufacturer="Sim",
                    serial_number=serial,
                    driver="simulated",
                    driver_settings=settings or {},
                    drivers=drivers,
                )
                meters.assign_meter(session, virtual, meter, START)
                for priority, spec in enumerate(paths or [], start=1):
                    device = devices.create_device(
                        session,
                        name=f"{serial} path {priority}",
                        kind=spec.get("kind", "ip"),
                        host=spec.get("host", "127.0.0.1")
                        if spec.get("kind", "ip") == "ip"
                        else None,
                        port=spec.get("port", 4059) if spec.get("kind", "ip") == "ip" else None,
                        serial_port=spec.get("serial_port"),
                    )
                    devices.add_path(
                        session, meter, device, priority, address=serial,
                        settings=spec.get("settings"),
                    )  # fmt: skip
                if meter_group is not None:
                    groups.add_members(session, meter_group, [virtual])
                fleet.meter_ids.append(meter.id)
                fleet.serials.append(serial)
                fleet.virtual_meter_ids.append(virtual.id)
            fleet.group_id = meter_group.id if meter_group else None
        return fleet

    return make


@pytest.fixture
def start_engine(runtime: Runtime) -> Iterator[Callable[..., AcquisitionEngine]]:
    """Start engines on the runtime; stopped after the test."""
    engines: list[AcquisitionEngine] = []

    def start(target: Runtime | None = None, **options: Any) -> AcquisitionEngine:
        drivers = options.pop("drivers", None)
        options.setdefault("poll_seconds", 0.05)
        engine = AcquisitionEngine(
            target or runtime, options=EngineOptions(**options), drivers=drivers
        )
        engines.append(engine.start())
        return engine

    yield start
    for engine in engines:
        engine.stop()
