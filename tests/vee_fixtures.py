"""Fixtures of the VEE, calculation and sandbox tests: channels made through the inventory, a
runtime on the test database with the installed (built-in) plugins, quarter-hour helpers.

Imported by the conftest files of ``tests/vee`` and ``tests/calculations``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from meterhub.config import load_settings
from meterhub.db import transaction
from meterhub.inventory.elements import create_element
from meterhub.inventory.groups import add_members, create_group
from meterhub.inventory.metering import add_channel, create_metering_point, create_virtual_meter
from meterhub.inventory.templates import create_template
from meterhub.runtime import Runtime, build_runtime

#: Quarter-hour step and the first instant most tests use.
QUARTER = timedelta(minutes=15)
DAY0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday

_numbers = count(1)


class Fleet:
    """Creates virtual meters with channels through the inventory operations."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def channels(
        self,
        count_: int = 1,
        *,
        interval: int = 15,
        kind: str = "profile",
        unit: str | None = "kWh",
        obis: str = "1-0:1.29.0*255",
        extra: tuple[tuple[str, str, int | None], ...] = (),
        group: str | None = None,
        template: str | None = None,
    ) -> list[int]:
        """``count_`` virtual meters with one channel each (plus ``extra`` channels on the same
        meter: (OBIS, kind, interval)); the first channels' ids."""
        n = next(_numbers)
        with transaction(self.factory, user="tester") as session:
            template_name = template or f"tpl{n}"
            from sqlalchemy import select

            from meterhub.model.templates import Template

            if (
                session.scalars(select(Template).where(Template.name == template_name)).first()
                is None
            ):
                create_template(session, template_name)
            element = create_element(session, template=template_name, name=f"consumer{n}")
            point = create_metering_point(session, element=element, name=f"mp{n}")
            ids = []
            meters = []
            for i in range(count_):
                meter = create_virtual_meter(session, metering_point=point, name=f"vm{i}")
                meters.append(meter)
                channel = add_channel(
                    session,
                    virtual_meter=meter,
                    obis=obis,
                    kind=kind,
                    interval_minutes=interval if kind == "profile" else None,
                    unit=unit,
                )
                for extra_obis, extra_kind, extra_interval in extra:
                    add_channel(
                        session,
                        virtual_meter=meter,
                        obis=extra_obis,
                        kind=extra_kind,
                        interval_minutes=extra_interval,
                        unit=unit,
                    )
                session.flush()
                ids.append(channel.id)
            if group is not None:
                from sqlalchemy import select

                from meterhub.model.groups import MeterGroup

                found = session.scalars(select(MeterGroup).where(MeterGroup.name == group)).first()
                found = found or create_group(session, name=group)
                add_members(session, found, meters)
            return ids

    def channel_on_same_meter(self, channel_id: int, obis: str) -> int:
        """The id of the channel ``obis`` on the virtual meter of ``channel_id``."""
        from sqlalchemy import select

        from meterhub.identifiers import canonical_obis
        from meterhub.model.metering import Channel

        with self.factory() as session:
            meter = session.get(Channel, channel_id).virtual_meter_id  # type: ignore[union-attr]
            return int(
                session.scalars(
                    select(Channel.id).where(
                        Channel.virtual_meter_id == meter, Channel.obis == str(canonical_obis(obis))
                    )
                ).one()
            )


@pytest.fixture
def fleet(session_factory: sessionmaker[Session]) -> Fleet:
    """Makes channels: ``fleet.channels(3, interval=15)``."""
    return Fleet(session_factory)


@pytest.fixture
def runtime(
    engine: Engine, database_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> Iterator[Runtime]:
    """A runtime on the test database with the installed plugins (the built-in VEE plugins
    among them) under the development license; its store validates at ingest and its VEE
    listener is registered."""
    settings = load_settings(data_dir=tmp_path / "var", database_url=database_url)
    built = build_runtime(settings)
    yield built
    built.close()


def profile_values(days: int, seed: int = 1, channels: int = 1) -> np.ndarray:
    """Plausible quarter-hour energy (kWh) over ``days`` days: a daily shape plus noise."""
    rng = np.random.default_rng(seed)
    slot = np.arange(96 * days) % 96
    shape = 0.2 + 0.3 * np.sin(np.pi * slot / 96) ** 2
    return np.round(shape + rng.uniform(0, 0.05, (channels, 96 * days)), 3)
