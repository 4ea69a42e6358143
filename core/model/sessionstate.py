"""State the acquisition engine keeps per meter between sessions, apart from its settings.

* **Session state** (:class:`SessionState`): values a protocol carries from one session to the
  next, such as the DLMS HLS invocation counter. It is not a setting (a meter's settings are
  changed by people and audited; this changes every session). A value a driver declares as a
  *session counter* is never used twice: before a session the engine **reserves** a block of
  counters (``reserved_to``, committed before the session starts), so a task delivered again
  after a crash starts after the whole block and can never replay a counter the lost session
  may have sent.
* **Last reads** (:class:`LastRead`): up to when a meter's profile, events or billing values
  were read successfully, for read ranges "since the last successful read".
* **Engine leases** (:class:`EngineLease`): which process runs the engine (the embedded mode
  allows one per database; a scaled-out scheduler elects itself the same way).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from meterhub.model.base import Base
from meterhub.model.types import UTCDateTime


class SessionState(Base):
    """One state value of one meter: ``value`` as text; ``reserved_to`` for a session counter
    is the first counter not yet reserved (every counter below it may have been used)."""

    __tablename__ = "acq_session_state"

    meter_id: Mapped[int] = mapped_column(
        ForeignKey("meter.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    reserved_to: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LastRead(Base):
    """Up to when action ``action`` of meter ``meter_id`` was read and stored successfully."""

    __tablename__ = "acq_last_read"

    meter_id: Mapped[int] = mapped_column(
        ForeignKey("meter.id", ondelete="CASCADE"), primary_key=True
    )
    action: Mapped[str] = mapped_column(String(32), primary_key=True)
    read_to: Mapped[datetime] = mapped_column(UTCDateTime)


class EngineLease(Base):
    """A named lease (``engine``): held by ``holder`` until ``expires_at`` unless renewed."""

    __tablename__ = "acq_lease"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
