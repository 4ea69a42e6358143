"""Meters heard on air: every sender a receiver heard, known to the inventory or not.

One row per driver and address (``acq_heard_meter``). For wireless M-Bus the address is the
link layer's M-Bus address, ``"<manufacturer> <identification> <version> <device type>"``
(``"KAM 12345678 01 07"``, version and device type in hex): manufacturer code,
identification number, version and medium (device type) are kept in columns of their own too.

``first_heard`` and ``last_heard`` are the receiver's times of the first and latest telegram,
``telegrams`` how many were heard; ``last_status`` what came of the latest one
(:data:`HEARD_STATUSES`: ``stored``, or why it was not: ``unknown meter``, ``meter disabled``,
``no key``, ``wrong key``, ``replay``, ``refused``); ``source`` the receiver that heard it and
``rssi`` its last signal strength in dBm when the receiver reports one.

The telegram stream (:mod:`meterhub.acquisition.telegrams`) adds to these rows in the same
transaction as the values it stores (:mod:`meterhub.acquisition.heard`). A row says nothing of
the inventory: whether the meter is in it is looked up when the rows are listed, so a meter
added since shows as known at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from meterhub.model.base import Base
from meterhub.model.types import Float64, UTCDateTime

#: ``last_status`` of a telegram whose values were stored.
HEARD_STORED = "stored"

#: What can come of a telegram (``last_status``).
HEARD_STATUSES: tuple[str, ...] = (
    HEARD_STORED,
    "unknown meter",
    "meter disabled",
    "no key",
    "wrong key",
    "replay",
    "refused",
)


class HeardMeter(Base):
    """A sender heard on air (see the module docstring)."""

    __tablename__ = "acq_heard_meter"
    __table_args__ = (Index(None, "last_heard"),)

    driver: Mapped[str] = mapped_column(String(32), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    manufacturer: Mapped[str | None] = mapped_column(String(16))
    identification: Mapped[str] = mapped_column(String(32))
    version: Mapped[int | None] = mapped_column(Integer)
    device_type: Mapped[int | None] = mapped_column(Integer)
    medium: Mapped[str | None] = mapped_column(String(32))
    first_heard: Mapped[datetime] = mapped_column(UTCDateTime)
    last_heard: Mapped[datetime] = mapped_column(UTCDateTime)
    telegrams: Mapped[int] = mapped_column(Integer, default=0)
    last_status: Mapped[str] = mapped_column(String(32))
    source: Mapped[str | None] = mapped_column(String(200))
    rssi: Mapped[float | None] = mapped_column(Float64)

    def __repr__(self) -> str:
        return f"<HeardMeter {self.driver} {self.address}: {self.telegrams} {self.last_status}>"
