"""Metering points, virtual meters, containers and channels.

A **metering point** (identified by EIC, EAN-18 and/or a metering code) hangs on an element of
the business tree (a consumer or contract). It has **virtual meters** — the logical meters the
license counts, which keep their identity and their data across meter exchanges — and optional
**containers** of processed data.

**Channels belong to the virtual meter**, not to the physical meter: a channel ("+A energy,
15-minute profile") is what the data series hangs on, so a meter exchange
(:mod:`meterhub.model.meters`, ``meter_assignment``) changes which device delivers the values
while the series continues without a break.

Every name is unique in its context by a database constraint (``uq_*``); the operations in
:mod:`meterhub.inventory.metering` check the same rules first to give clear errors.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Identity,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from meterhub.model.base import Base

if TYPE_CHECKING:
    from meterhub.model.elements import Element
    from meterhub.model.meters import MeterAssignment

#: Longest name of a metering point, virtual meter, container, channel, group.
NAME_LENGTH = 100

#: Media a metering point may measure (the ``A`` group of OBIS names most of them).
MEDIA: tuple[str, ...] = (
    "electricity",
    "gas",
    "heat",
    "cold",
    "water",
    "hot_water",
    "heat_cost_allocator",
    "other",
)

#: Channel kinds: interval values (``profile``), sparse register readings, device events.
CHANNEL_KINDS: tuple[str, ...] = ("profile", "register", "event")

#: Intervals (minutes) a profile channel may have.
PROFILE_INTERVALS: tuple[int, ...] = (1, 5, 10, 15, 30, 60, 1440)

#: Stored in ``channel.interval_minutes`` for registers and events, which have no interval.
#: Not NULL, so that the unique constraint (virtual meter, OBIS, interval) also holds for them:
#: SQL treats NULLs as distinct in unique constraints (and Oracle differently from the others).
NO_INTERVAL = 0


def _in_list(column: str, values: tuple[str, ...] | tuple[int, ...]) -> str:
    rendered = ", ".join(f"'{v}'" if isinstance(v, str) else str(v) for v in values)
    return f"{column} IN ({rendered})"


class MeteringPoint(Base):
    """A point of delivery on an element of the business tree (a consumer or contract).

    ``eic``, ``ean`` and ``metering_code`` are optional identifiers, each unique among all
    metering points when given. ``medium`` is one of :data:`MEDIA`.
    """

    __tablename__ = "metering_point"
    __table_args__ = (UniqueConstraint("element_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    element_id: Mapped[int] = mapped_column(ForeignKey("element.id"))
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    eic: Mapped[str | None] = mapped_column(String(16), unique=True)
    ean: Mapped[str | None] = mapped_column(String(18), unique=True)
    metering_code: Mapped[str | None] = mapped_column(String(64), unique=True)
    medium: Mapped[str] = mapped_column(String(32), default="electricity")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)

    element: Mapped[Element] = relationship()
    virtual_meters: Mapped[list[VirtualMeter]] = relationship(
        back_populates="metering_point", order_by="VirtualMeter.name"
    )
    containers: Mapped[list[Container]] = relationship(
        back_populates="metering_point", order_by="Container.name"
    )

    def __repr__(self) -> str:
        return f"<MeteringPoint {self.id} {self.name!r}>"


class VirtualMeter(Base):
    """A logical meter of a metering point: what the license counts and channels belong to.

    Which physical meter serves it, and when, is the ``meter_assignment`` history.
    """

    __tablename__ = "virtual_meter"
    __table_args__ = (UniqueConstraint("metering_point_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    metering_point_id: Mapped[int] = mapped_column(ForeignKey("metering_point.id"))
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)

    metering_point: Mapped[MeteringPoint] = relationship(back_populates="virtual_meters")
    channels: Mapped[list[Channel]] = relationship(
        back_populates="virtual_meter", order_by="Channel.id"
    )
    assignments: Mapped[list[MeterAssignment]] = relationship(
        back_populates="virtual_meter", order_by="MeterAssignment.valid_from"
    )

    def __repr__(self) -> str:
        return f"<VirtualMeter {self.id} {self.name!r}>"


class Container(Base):
    """A holder of processed data (calculated, aggregated series) of a metering point."""

    __tablename__ = "container"
    __table_args__ = (UniqueConstraint("metering_point_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    metering_point_id: Mapped[int] = mapped_column(ForeignKey("metering_point.id"))
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))

    metering_point: Mapped[MeteringPoint] = relationship(back_populates="containers")

    def __repr__(self) -> str:
        return f"<Container {self.id} {self.name!r}>"


class Channel(Base):
    """One quantity of a virtual meter: an OBIS code, a unit, a scaler and an interval.

    ``obis`` is the canonical text ``A-B:C.D.E*F``. ``scaler`` is the power of ten of the raw
    value (DLMS convention: value × 10^scaler in ``unit``). ``interval_minutes`` is one of
    :data:`PROFILE_INTERVALS` for a profile and :data:`NO_INTERVAL` (0) for registers and events;
    :attr:`interval` gives it as a ``timedelta`` or ``None``.
    """

    __tablename__ = "channel"
    __table_args__ = (
        UniqueConstraint("virtual_meter_id", "obis", "interval_minutes"),
        UniqueConstraint("virtual_meter_id", "name"),
        CheckConstraint(_in_list("kind", CHANNEL_KINDS), name="kind"),
        CheckConstraint(
            f"(kind = 'profile' AND {_in_list('interval_minutes', PROFILE_INTERVALS)})"
            f" OR (kind <> 'profile' AND interval_minutes = {NO_INTERVAL})",
            name="interval_minutes",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    virtual_meter_id: Mapped[int] = mapped_column(ForeignKey("virtual_meter.id"))
    obis: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    unit: Mapped[str | None] = mapped_column(String(16))
    scaler: Mapped[int] = mapped_column(Integer, default=0)
    interval_minutes: Mapped[int] = mapped_column(Integer, default=NO_INTERVAL)
    kind: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)

    virtual_meter: Mapped[VirtualMeter] = relationship(back_populates="channels")

    @property
    def interval(self) -> timedelta | None:
        """The interval of a profile channel; ``None`` for registers and events."""
        if not self.interval_minutes:
            return None
        return timedelta(minutes=self.interval_minutes)

    def __repr__(self) -> str:
        return f"<Channel {self.id} {self.obis} {self.kind} {self.interval_minutes}>"
