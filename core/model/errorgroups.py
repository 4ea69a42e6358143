"""Error groups: meters whose acquisition failed, kept so they can be looked at and run again.

After the last attempt of a run, the meters whose tasks failed form a ``job`` error group,
created automatically (named after the job and run). Meters whose clock could not be
synchronised (the command failed, or the deviation was beyond the maximum that is corrected
automatically) are members of the one ``time_sync`` group until a later synchronisation
succeeds. A job may target error groups, so a group can be run again. The operations are in
:mod:`meterhub.inventory.errorgroups`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Identity,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from meterhub.model.base import Base
from meterhub.model.types import UTCDateTime

#: Kinds of error group.
ERROR_GROUP_KINDS: tuple[str, ...] = ("job", "time_sync")

#: The name of the time-sync error group.
TIME_SYNC_GROUP = "time-sync errors"


class ErrorGroup(Base):
    """A named set of meters that failed: of run ``run_id`` (kind ``job``) or ``time_sync``."""

    __tablename__ = "acq_error_group"
    __table_args__ = (CheckConstraint("kind IN ('job', 'time_sync')", name="kind"),)

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    job_id: Mapped[int | None] = mapped_column(Integer)
    run_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<ErrorGroup {self.id} {self.name!r}>"


class ErrorGroupMember(Base):
    """Meter ``meter_id`` in error group ``group_id``, with the error that put it there."""

    __tablename__ = "acq_error_member"
    __table_args__ = (UniqueConstraint("group_id", "meter_id"),)

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("acq_error_group.id", ondelete="CASCADE"))
    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[int | None] = mapped_column(Integer)
    error_class: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(Text)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
