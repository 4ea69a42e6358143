"""The firmware image store: images with their version and SHA-256 hash.

A firmware upgrade job names an image; the engine reads it from here, checks its hash before
sending it, and passes its version to the driver. The operations are in
:mod:`meterhub.inventory.firmware`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Identity, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from meterhub.model.base import Base
from meterhub.model.types import UTCDateTime


class FirmwareImage(Base):
    """One firmware image: ``name`` and ``version`` unique together, ``sha256`` of ``content``."""

    __tablename__ = "acq_firmware_image"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    description: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<FirmwareImage {self.id} {self.name} {self.version}>"
