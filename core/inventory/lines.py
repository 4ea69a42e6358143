"""Operations on line pools: create a pool, change its capacity, put devices in it.

See :mod:`meterhub.model.lines` for what a pool is and which pool a device without one falls
into. A device belongs to at most one pool. A running engine reads pool changes within seconds.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterhub.errors import Conflict, InvalidValue, NotFound
from meterhub.inventory.common import check_name, flush, optional_text
from meterhub.inventory.metering import clean_int, in_session
from meterhub.model.devices import CommunicationDevice
from meterhub.model.lines import LinePool, PoolDevice

__all__ = ["add_device", "create_pool", "find_pool", "remove_device", "set_capacity"]

#: The largest capacity of a pool.
MAX_CAPACITY = 100_000


def create_pool(
    session: Session, *, name: str, capacity: int, description: str | None = None
) -> LinePool:
    """Create a pool of ``capacity`` lines (sessions at once)."""
    name = check_name(name, field="name", max_length=100)
    capacity = clean_int(capacity, "capacity", minimum=1, maximum=MAX_CAPACITY)
    if session.scalars(select(LinePool).where(LinePool.name == name)).first() is not None:
        raise Conflict("name", f"a line pool named {name!r} exists")
    pool = LinePool(
        name=name, capacity=capacity, description=optional_text(description, field="description")
    )
    session.add(pool)
    flush(session, field="name")
    return pool


def find_pool(session: Session, name: str) -> LinePool:
    """The pool named ``name``."""
    pool = session.scalars(select(LinePool).where(LinePool.name == name)).first()
    if pool is None:
        raise NotFound(f"no line pool {name!r}")
    return pool


def set_capacity(session: Session, pool: LinePool, capacity: int) -> LinePool:
    """Change a pool's capacity."""
    pool = in_session(session, pool, "pool", LinePool)
    pool.capacity = clean_int(capacity, "capacity", minimum=1, maximum=MAX_CAPACITY)
    flush(session, field="capacity")
    return pool


def add_device(session: Session, pool: LinePool, device: CommunicationDevice) -> PoolDevice:
    """Put ``device`` in ``pool``; a device already in another pool is refused."""
    pool = in_session(session, pool, "pool", LinePool)
    device = in_session(session, device, "device", CommunicationDevice)
    current = session.get(PoolDevice, device.id)
    if current is not None:
        if current.pool_id == pool.id:
            return current
        other = session.get(LinePool, current.pool_id)
        raise InvalidValue(
            "device",
            f"device {device.name!r} is in line pool {other.name if other else current.pool_id!r};"
            " remove it there first",
        )
    member = PoolDevice(device_id=device.id, pool_id=pool.id)
    session.add(member)
    flush(session, field="device")
    return member


def remove_device(session: Session, device: CommunicationDevice) -> None:
    """Take ``device`` out of its pool (it falls back to the implicit pools)."""
    device = in_session(session, device, "device", CommunicationDevice)
    current = session.get(PoolDevice, device.id)
    if current is not None:
        session.delete(current)
        flush(session, field="device")
