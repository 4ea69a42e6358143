"""Communication devices and the paths over which meters are reached.

A meter (:mod:`meterhub.model.meters`) is reached through **communication paths** in order of
priority (1 = main, 2 = backup, ...), each over a **communication device** (a modem with a phone
number, an IP endpoint, a serial port). The operations are in :mod:`meterhub.inventory.devices`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
from meterhub.model.templates import JSONText

if TYPE_CHECKING:
    from meterhub.model.meters import Meter

#: Kinds of communication device.
DEVICE_KINDS: tuple[str, ...] = ("modem", "ip", "serial")


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
