"""Physical meters and their assignment to virtual meters.

A **meter** is a device with a manufacturer and serial number, read by a driver (``dlms``,
``modbus``, ``iec62056_21``, ``simulated``) with driver settings and credentials that are stored
only encrypted (:mod:`meterhub.credentials`). A **meter assignment** says which meter served
which virtual meter from when until when (a half-open period ``[valid_from, valid_to)``,
``valid_to`` ``None`` while it lasts), so a meter exchange keeps its history. The ways to reach
a meter are in :mod:`meterhub.model.devices`; the operations in :mod:`meterhub.inventory.meters`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Identity,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from meterhub.model.base import Base
from meterhub.model.templates import JSONText
from meterhub.model.types import UTCDateTime

if TYPE_CHECKING:
    from meterhub.model.devices import CommunicationPath
    from meterhub.model.metering import VirtualMeter


class Meter(Base):
    """A physical meter, unique by manufacturer and serial number.

    ``driver`` is the driver's short name; ``driver_settings`` a JSON object the driver
    understands; ``credentials_encrypted`` the token of :class:`meterhub.credentials
    .CredentialCipher` (never a secret in clear), ``None`` when the meter needs none.
    """

    __tablename__ = "meter"
    __table_args__ = (UniqueConstraint("manufacturer", "serial_number"),)

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    manufacturer: Mapped[str] = mapped_column(String(64))
    serial_number: Mapped[str] = mapped_column(String(64), index=True)
    model: Mapped[str | None] = mapped_column(String(64))
    driver: Mapped[str] = mapped_column(String(64))
    driver_settings: Mapped[dict[str, Any]] = mapped_column(JSONText, default=lambda: {})
    credentials_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary, info={"secret": True})
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)

    assignments: Mapped[list[MeterAssignment]] = relationship(
        back_populates="meter", order_by="MeterAssignment.valid_from"
    )
    paths: Mapped[list[CommunicationPath]] = relationship(
        back_populates="meter", order_by="CommunicationPath.priority"
    )

    def __repr__(self) -> str:
        return f"<Meter {self.id} {self.manufacturer} {self.serial_number}>"


class MeterAssignment(Base):
    """Meter ``meter`` served virtual meter ``virtual_meter`` during ``[valid_from, valid_to)``.

    The operations (:func:`meterhub.inventory.meters.assign_meter`) keep the periods of a
    virtual meter, and those of a meter, free of overlaps.
    """

    __tablename__ = "meter_assignment"
    __table_args__ = (
        UniqueConstraint("virtual_meter_id", "valid_from"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="period"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    virtual_meter_id: Mapped[int] = mapped_column(ForeignKey("virtual_meter.id"))
    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id"), index=True)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime)

    virtual_meter: Mapped[VirtualMeter] = relationship(back_populates="assignments")
    meter: Mapped[Meter] = relationship(back_populates="assignments")

    def covers(self, instant: datetime) -> bool:
        """Whether ``instant`` (aware) lies in ``[valid_from, valid_to)``."""
        return self.valid_from <= instant and (self.valid_to is None or instant < self.valid_to)

    def __repr__(self) -> str:
        return (
            f"<MeterAssignment virtual_meter={self.virtual_meter_id} meter={self.meter_id} "
            f"{self.valid_from.isoformat()}..{self.valid_to.isoformat() if self.valid_to else ''}>"
        )
