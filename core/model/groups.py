"""Meter groups: named sets of virtual meters (for reading jobs, reports, exports).

The operations are in :mod:`meterhub.inventory.groups`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Identity, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from meterhub.model.base import Base
from meterhub.model.metering import NAME_LENGTH

if TYPE_CHECKING:
    from meterhub.model.metering import VirtualMeter


class MeterGroup(Base):
    """A named set of virtual meters (for reading jobs, reports, exports)."""

    __tablename__ = "meter_group"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)

    def __repr__(self) -> str:
        return f"<MeterGroup {self.id} {self.name!r}>"


class MeterGroupMember(Base):
    """Membership of a virtual meter in a group; a pair appears at most once.

    Removed with the group or the virtual meter (``ON DELETE CASCADE``).
    """

    __tablename__ = "meter_group_member"
    __table_args__ = (UniqueConstraint("group_id", "virtual_meter_id"),)

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("meter_group.id", ondelete="CASCADE"))
    virtual_meter_id: Mapped[int] = mapped_column(
        ForeignKey("virtual_meter.id", ondelete="CASCADE"), index=True
    )

    group: Mapped[MeterGroup] = relationship()
    virtual_meter: Mapped[VirtualMeter] = relationship()

    def __repr__(self) -> str:
        return f"<MeterGroupMember group={self.group_id} virtual_meter={self.virtual_meter_id}>"
