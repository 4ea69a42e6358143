"""Physical meters, their assignment to virtual meters, communication devices and paths.

A **meter** is a device with a manufacturer and serial number, read by a driver (``dlms``,
``modbus``, ``iec62056_21``, ``simulated``) with driver settings and credentials that are stored
only encrypted (:mod:`meterhub.credentials`). A **meter assignment** says which meter served
which virtual meter from when until when (a half-open period ``[valid_from, valid_to)``,
``valid_to`` ``None`` while it lasts), so a meter exchange keeps its history. A meter is reached
through **communication paths** in order of priority (1 = main, 2 = backup, ...), each over a
**communication device** (a modem with a phone number, an IP endpoint, a serial port).
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
    from meterhub.model.metering import VirtualMeter

#: Kinds of communication device.
DEVICE_KINDS: tuple[str, ...] = ("modem", "ip", "serial")


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
    serial_number: Mapped[str] = mapped_column(String(64))
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


class CommunicationDevice(Base):
    """A way to reach meters: a ``modem`` (phone number), ``ip`` (host, port) or ``serial`` port.

    ``settings`` holds further options as a JSON object (init string, timeouts, parity, ...).
    """

    __tablename__ = "communication_device"
    __table_args__ = (
        CheckConstraint("kind IN ('modem', 'ip', 'serial')", name="kind"),
        CheckConstraint("kind <> 'modem' OR phone_number IS NOT NULL", name="modem_phone"),
        CheckConstraint(
            "kind <> 'ip' OR (host IS NOT NULL AND port IS NOT NULL)", name="ip_endpoint"
        ),
        CheckConstraint("kind <> 'serial' OR serial_port IS NOT NULL", name="serial_port"),
        CheckConstraint("port IS NULL OR (port >= 1 AND port <= 65535)", name="port"),
        CheckConstraint("baud_rate IS NULL OR baud_rate > 0", name="baud_rate"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    phone_number: Mapped[str | None] = mapped_column(String(32))
    host: Mapped[str | None] = mapped_column(String(255))
    port: Mapped[int | None] = mapped_column(Integer)
    serial_port: Mapped[str | None] = mapped_column(String(100))
    baud_rate: Mapped[int | None] = mapped_column(Integer)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONText, default=lambda: {})
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)

    paths: Mapped[list[CommunicationPath]] = relationship(back_populates="device")

    def __repr__(self) -> str:
        return f"<CommunicationDevice {self.id} {self.name!r} {self.kind}>"


class CommunicationPath(Base):
    """One way to reach ``meter`` through ``device``; priority 1 is the main path, 2 the backup.

    ``address`` is the meter's address on this hop (HDLC server address, Modbus unit id,
    IEC 62056-21 device address); ``settings`` more options for this hop as a JSON object.
    """

    __tablename__ = "communication_path"
    __table_args__ = (
        UniqueConstraint("meter_id", "priority"),
        CheckConstraint("priority >= 1", name="priority"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id"))
    device_id: Mapped[int] = mapped_column(ForeignKey("communication_device.id"), index=True)
    priority: Mapped[int] = mapped_column(Integer)
    address: Mapped[str | None] = mapped_column(String(64))
    settings: Mapped[dict[str, Any]] = mapped_column(JSONText, default=lambda: {})

    meter: Mapped[Meter] = relationship(back_populates="paths")
    device: Mapped[CommunicationDevice] = relationship(back_populates="paths")

    def __repr__(self) -> str:
        return f"<CommunicationPath meter={self.meter_id} priority={self.priority}>"
