"""VEE (validation, estimation, editing): validation profiles, their runs and results, and the
release of data for billing.

- A :class:`ValidationProfile` is an ordered list of :class:`ProfileStep` — checks (validator
  plugins or customer scripts) and estimation methods (estimator plugins or scripts) with their
  parameters — plus when it runs: ``at_ingest`` (the steps that can run inside the ingest
  transaction run there, the rest right after it), on a ``schedule`` (an RFC 5545 RRULE the
  acquisition scheduler expands; each run covers ``lookback_days``) and always on demand.
- A :class:`ProfileAssignment` applies a profile to one channel, to the channels of a meter
  group or to the channels of the elements of a template, with parameter ``overrides`` per step
  (a customer's thresholds). A channel's own assignment wins over its groups' (lowest group id
  first), which win over its template's.
- A :class:`ValidationRun` records one run (trigger, period, counts, summary); the results per
  value are rows of ``vee_result`` (written in bulk, not audited one by one).
- A :class:`BillingRelease` releases a channel's period for billing; a change of a released
  period needs a reason and revokes the release (``revoked_*``), after which the period is
  released again as a new row: what was released when stays on record.

The operations are in :mod:`meterhub.inventory.vee`, the engine in :mod:`meterhub.vee`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from meterhub.model.base import Base
from meterhub.model.templates import JSONText
from meterhub.model.types import UTCDateTime

#: Longest profile name.
PROFILE_NAME_LENGTH = 100

#: What a profile step is: a plugin check, a plugin estimation method, or a customer script.
STEP_KINDS: tuple[str, ...] = ("check", "estimate", "script_check", "script_estimate")

#: What started a run.
RUN_TRIGGERS: tuple[str, ...] = ("ingest", "schedule", "demand", "event")

#: How a run ended (``running`` while it runs, or when the process running it died).
RUN_STATUSES: tuple[str, ...] = ("running", "succeeded", "partial", "failed", "interrupted")


class ValidationProfile(Base):
    """Which checks and estimation methods run, in which order, and when."""

    __tablename__ = "vee_profile"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(PROFILE_NAME_LENGTH), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    calendar_id: Mapped[int | None] = mapped_column(ForeignKey("cal_calendar.id"))
    at_ingest: Mapped[bool] = mapped_column(Boolean, default=False)
    schedule: Mapped[str | None] = mapped_column(String(200))
    lookback_days: Mapped[int] = mapped_column(Integer, default=3)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)

    steps: Mapped[list[ProfileStep]] = relationship(
        back_populates="profile", cascade="all, delete-orphan", order_by="ProfileStep.position"
    )
    assignments: Mapped[list[ProfileAssignment]] = relationship(
        back_populates="profile", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<ValidationProfile {self.id} {self.name!r}>"


class ProfileStep(Base):
    """One step of a profile: a check or estimation method by name, with parameters."""

    __tablename__ = "vee_step"
    __table_args__ = (
        UniqueConstraint("profile_id", "position"),
        CheckConstraint("kind IN (" + ", ".join(f"'{k}'" for k in STEP_KINDS) + ")", name="kind"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("vee_profile.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONText, default=lambda: {})

    profile: Mapped[ValidationProfile] = relationship(back_populates="steps")

    def __repr__(self) -> str:
        return f"<ProfileStep {self.position} {self.kind} {self.name}>"


class ProfileAssignment(Base):
    """A profile applied to a channel, a meter group or a template (exactly one of them)."""

    __tablename__ = "vee_assignment"
    __table_args__ = (
        CheckConstraint(
            "(CASE WHEN channel_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN group_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN template_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="one_target",
        ),
        UniqueConstraint("profile_id", "channel_id", "group_id", "template_id"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("vee_profile.id", ondelete="CASCADE"))
    channel_id: Mapped[int | None] = mapped_column(
        ForeignKey("channel.id", ondelete="CASCADE"), index=True
    )
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("meter_group.id", ondelete="CASCADE"), index=True
    )
    template_id: Mapped[int | None] = mapped_column(
        ForeignKey("template.id", ondelete="CASCADE"), index=True
    )
    #: Parameter overrides by step name: ``{"limits": {"max": 2.5}}``.
    overrides: Mapped[dict[str, Any]] = mapped_column(JSONText, default=lambda: {})

    profile: Mapped[ValidationProfile] = relationship(back_populates="assignments")

    def __repr__(self) -> str:
        target = (
            f"channel {self.channel_id}"
            if self.channel_id is not None
            else f"group {self.group_id}"
            if self.group_id is not None
            else f"template {self.template_id}"
        )
        return f"<ProfileAssignment profile={self.profile_id} {target}>"


class ValidationRun(Base):
    """One run of a profile (or of the ingest checks): when, over what, and what it found."""

    __tablename__ = "vee_run"
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in RUN_STATUSES) + ")", name="status"
        ),
        CheckConstraint(
            "trigger_kind IN (" + ", ".join(f"'{t}'" for t in RUN_TRIGGERS) + ")",
            name="trigger_kind",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    profile_id: Mapped[int | None] = mapped_column(
        ForeignKey("vee_profile.id", ondelete="SET NULL"), index=True
    )
    trigger_kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    user_name: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime)
    channels_total: Mapped[int] = mapped_column(Integer, default=0)
    channels_done: Mapped[int] = mapped_column(Integer, default=0)
    channels_failed: Mapped[int] = mapped_column(Integer, default=0)
    values_checked: Mapped[int] = mapped_column(BigInteger, default=0)
    values_suspect: Mapped[int] = mapped_column(BigInteger, default=0)
    values_estimated: Mapped[int] = mapped_column(BigInteger, default=0)
    summary: Mapped[dict[str, Any]] = mapped_column(JSONText, default=lambda: {})

    def __repr__(self) -> str:
        return f"<ValidationRun {self.id} {self.trigger_kind} {self.status}>"


#: The results per value: one row per suspect, missing or estimated value, or per failed channel
#: (``ts`` NULL). Written in bulk with Core statements, so they are not audited row by row.
validation_result = Table(
    "vee_result",
    Base.metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), Identity(), primary_key=True),
    Column("run_id", Integer, ForeignKey("vee_run.id", ondelete="CASCADE"), nullable=True),
    Column("channel_id", Integer, ForeignKey("channel.id", ondelete="CASCADE"), nullable=False),
    Column("ts", BigInteger, nullable=True, comment="slot start, UTC microseconds"),
    Column("check_name", String(100), nullable=False),
    Column("outcome", String(20), nullable=False, comment="suspect, missing, estimated or failed"),
    Column("message", String(500), nullable=True),
    Index(None, "channel_id", "ts"),
    Index(None, "run_id"),
    comment="VEE results per value (suspect, estimated) and per failed channel",
)


class BillingRelease(Base):
    """A channel's period released for billing (and, once changed, revoked with a reason)."""

    __tablename__ = "vee_release"
    __table_args__ = (
        CheckConstraint("period_end > period_start", name="period"),
        Index(None, "channel_id", "period_start"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channel.id", ondelete="CASCADE"))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime)
    released_at: Mapped[datetime] = mapped_column(UTCDateTime)
    released_by: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(200))
    revoke_reason: Mapped[str | None] = mapped_column(Text)

    @property
    def active(self) -> bool:
        """Whether the release still stands."""
        return self.revoked_at is None

    def __repr__(self) -> str:
        return f"<BillingRelease {self.id} channel={self.channel_id} {self.period_start}..>"
