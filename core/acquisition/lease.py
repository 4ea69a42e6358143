"""Engine leases through the database: one engine per database in the embedded mode.

A lease is a row of ``acq_lease`` (name, holder, expiry). :func:`take_lease` takes it when it
is free, expired or already ours, and refuses with :class:`EngineBusy` (naming the holder)
otherwise; the holder renews it well before it expires. A process that dies stops renewing, so
its lease lapses after ``ttl`` seconds and another engine may take over. The scaled-out
``meterhub scheduler`` elects its one active instance the same way.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from meterhub.acquisition.tables import table_of as _table
from meterhub.errors import MeterHubError
from meterhub.model.sessionstate import EngineLease

__all__ = ["EngineBusy", "holder_name", "lease_holder", "release_lease", "take_lease"]

_TABLE = _table(EngineLease)


class EngineBusy(MeterHubError):
    """Another process holds the lease (runs the engine on this database)."""


def holder_name() -> str:
    """``host:pid`` of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def take_lease(engine: Engine, name: str, holder: str, ttl: float, now: datetime) -> None:
    """Take or renew lease ``name`` for ``ttl`` seconds; :class:`EngineBusy` if held."""
    expires = now + timedelta(seconds=ttl)
    with engine.begin() as connection:
        row = connection.execute(
            select(_TABLE.c.holder, _TABLE.c.expires_at)
            .where(_TABLE.c.name == name)
            .with_for_update()
        ).first()
        if row is None:
            try:
                with connection.begin_nested():
                    connection.execute(
                        insert(_TABLE),
                        {"name": name, "holder": holder, "acquired_at": now, "expires_at": expires},
                    )
                return
            except IntegrityError:
                row = connection.execute(
                    select(_TABLE.c.holder, _TABLE.c.expires_at).where(_TABLE.c.name == name)
                ).first()
                assert row is not None
        if row.holder != holder and _aware(row.expires_at) > now:
            raise EngineBusy(
                f"another acquisition engine ({row.holder}) runs on this database (its lease "
                f"lasts until {_aware(row.expires_at).isoformat(timespec='seconds')}); stop it "
                "first, or submit work to it with 'meterhub job run'"
            )
        values = {"holder": holder, "expires_at": expires}
        if row.holder != holder:
            values["acquired_at"] = now
        connection.execute(update(_TABLE).where(_TABLE.c.name == name).values(**values))


def release_lease(engine: Engine, name: str, holder: str) -> None:
    """Give lease ``name`` up if ``holder`` has it."""
    with engine.begin() as connection:
        connection.execute(delete(_TABLE).where(_TABLE.c.name == name, _TABLE.c.holder == holder))


def lease_holder(engine: Engine, name: str, now: datetime) -> str | None:
    """Who holds lease ``name`` now (``None``: nobody, or it lapsed)."""
    with engine.connect() as connection:
        row = connection.execute(
            select(_TABLE.c.holder, _TABLE.c.expires_at).where(_TABLE.c.name == name)
        ).first()
    if row is None or _aware(row.expires_at) <= now:
        return None
    return str(row.holder)
