"""Line pools: the communication capacity the acquisition engine may use at once.

A **line pool** (a modem pool, a set of serial ports, the sockets of an acquisition host) has a
capacity: never more sessions at once than that over its devices. A communication device
(:mod:`meterhub.model.devices`) belongs to at most one pool (:class:`PoolDevice`). A device in
no pool is its own pool when it can carry one call at a time (a ``modem`` or ``serial``
device: capacity 1) and is in the **default pool** otherwise (``ip`` devices, and meters read
without a device such as simulated meters), whose capacity is the
``acquisition_default_capacity`` setting. The operations are in :mod:`meterhub.inventory.lines`.
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, Identity, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from meterhub.model.base import Base


class LinePool(Base):
    """A named pool of communication lines with a capacity (sessions at once)."""

    __tablename__ = "acq_line_pool"
    __table_args__ = (CheckConstraint("capacity >= 1", name="capacity"),)

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    capacity: Mapped[int] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"<LinePool {self.id} {self.name!r} capacity={self.capacity}>"


class PoolDevice(Base):
    """Device ``device_id`` belongs to pool ``pool_id`` (a device is in at most one pool)."""

    __tablename__ = "acq_pool_device"

    device_id: Mapped[int] = mapped_column(
        ForeignKey("communication_device.id", ondelete="CASCADE"), primary_key=True
    )
    pool_id: Mapped[int] = mapped_column(
        ForeignKey("acq_line_pool.id", ondelete="CASCADE"), index=True
    )
