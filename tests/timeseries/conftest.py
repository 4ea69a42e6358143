"""Fixtures of the meter data store tests: a store on a migrated database and channels to fill."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from meterhub import hookimpl
from meterhub.config import load_settings
from meterhub.db import transaction
from meterhub.inventory.elements import create_element
from meterhub.inventory.metering import add_channel, create_metering_point, create_virtual_meter
from meterhub.inventory.templates import create_template
from meterhub.pluginhost import PluginHost, build_plugin_host
from meterhub.timeseries import MeterDataStore

_numbers = count(1)


@pytest.fixture
def store(engine: Engine, session_factory: sessionmaker[Session]) -> Iterator[MeterDataStore]:
    """A store on the shared migrated database, emptied before and after the test."""
    yield MeterDataStore(engine)


class ChannelMaker:
    """Creates channels through the public inventory operations."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def __call__(
        self,
        count_: int = 1,
        *,
        interval: int | None = 15,
        kind: str = "profile",
        unit: str | None = "Wh",
        scaler: int = 0,
        obis: str = "1-0:1.29.0*255",
    ) -> list[int]:
        n = next(_numbers)
        with transaction(self.factory, user="tester") as session:
            template = create_template(session, f"tpl{n}")
            element = create_element(session, template=template, name=f"consumer{n}")
            point = create_metering_point(session, element=element, name=f"mp{n}")
            ids = []
            for i in range(count_):
                meter = create_virtual_meter(session, metering_point=point, name=f"vm{i}")
                channel = add_channel(
                    session,
                    virtual_meter=meter,
                    obis=obis,
                    kind=kind,
                    interval_minutes=interval if kind == "profile" else None,
                    unit=unit,
                    scaler=scaler,
                )
                session.flush()
                ids.append(channel.id)
            return ids

    def meters_of(self, channel_ids: Sequence[int]) -> list[int]:
        from sqlalchemy import select

        from meterhub.model.metering import Channel

        with self.factory() as session:
            return list(
                session.scalars(select(Channel.virtual_meter_id).where(Channel.id.in_(channel_ids)))
            )


@pytest.fixture
def channels(session_factory: sessionmaker[Session]) -> ChannelMaker:
    """``channels(n, interval=15, kind="profile", unit="Wh", scaler=0)`` → new channel ids."""
    return ChannelMaker(session_factory)


class Clock:
    """A clock the test moves: each call returns the current setting."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float = 1.0) -> datetime:
        self.now = self.now + timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock() -> Clock:
    """A test clock starting 2026-06-01 12:00 UTC."""
    return Clock(datetime(2026, 6, 1, 12, tzinfo=UTC))


@pytest.fixture
def clocked_store(
    engine: Engine, session_factory: sessionmaker[Session], clock: Clock
) -> MeterDataStore:
    """A store whose notion of 'now' is :func:`clock`."""
    return MeterDataStore(engine, clock=clock)


class Listener:
    """A real plugin: records the meter data events it receives, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, object]]] = []

    @hookimpl
    def readings_stored(
        self, channel_ids: tuple[int, ...], start: datetime, end: datetime, kind: str
    ) -> None:
        self.calls.append(
            (
                "readings_stored",
                {"channel_ids": channel_ids, "start": start, "end": end, "kind": kind},
            )
        )

    @hookimpl
    def values_edited(
        self, channel_id: int, start: datetime, end: datetime, user: str, reason: str
    ) -> None:
        self.calls.append(
            (
                "values_edited",
                {
                    "channel_id": channel_id,
                    "start": start,
                    "end": end,
                    "user": user,
                    "reason": reason,
                },
            )
        )


class DevelopmentLicense:
    """Allows every feature (the plugin host only asks ``allows``)."""

    customer = "tests"
    development = True

    def allows(self, feature: str) -> bool:
        return True


@pytest.fixture
def listener() -> Listener:
    """A listener plugin; see :func:`plugin_host`."""
    return Listener()


@pytest.fixture
def make_host(tmp_path) -> Callable[..., PluginHost]:
    """``make_host(*plugins)``: a real plugin host (no installed plugins) with ``plugins``."""

    def make(*plugins: object) -> PluginHost:
        settings = load_settings(data_dir=tmp_path, plugins_disable_autoload=True)
        return build_plugin_host(DevelopmentLicense(), settings, extra_plugins=plugins)

    return make


@pytest.fixture
def plugin_host(listener: Listener, make_host: Callable[..., PluginHost]) -> PluginHost:
    """A real plugin host with :func:`listener` registered."""
    return make_host(listener)


@pytest.fixture
def notifying_store(
    engine: Engine, session_factory: sessionmaker[Session], plugin_host: PluginHost, clock: Clock
) -> MeterDataStore:
    """A store that fires its events into :func:`plugin_host`, with the test clock."""
    return MeterDataStore(engine, clock=clock, notify=plugin_host.notify)
