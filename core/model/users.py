"""Named users of MeterHub: login name, password hash (argon2), enabled flag, segment grants.

The license limits the number of *enabled* named users (``named_users``); the operations in
:mod:`meterhub.inventory.users` enforce it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Identity, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from meterhub.model.audit import AuditedPart
from meterhub.model.base import Base
from meterhub.model.segments import DataSegment
from meterhub.model.types import UTCDateTime, utcnow


class AppUser(Base):
    """A named user. ``password_hash`` is ``None`` for users authenticated elsewhere (LDAP)."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255), info={"secret": True})
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, info={"audit": False})

    segment_links: Mapped[list[UserSegment]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    @property
    def segments(self) -> list[DataSegment]:
        """The data segments granted to this user."""
        return [link.segment for link in self.segment_links]

    def __repr__(self) -> str:
        return f"<AppUser {self.username!r}>"


class UserSegment(AuditedPart, Base):
    """A data segment granted to a user; audited as attribute ``segments`` of the user."""

    __tablename__ = "app_user_segment"

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    segment_id: Mapped[int] = mapped_column(
        ForeignKey("data_segment.id"), primary_key=True, index=True
    )

    user: Mapped[AppUser] = relationship(back_populates="segment_links")
    segment: Mapped[DataSegment] = relationship(back_populates="user_links", lazy="joined")

    audit_owner_relationship = "user"

    def audit_attribute(self) -> str:
        """Always ``segments``."""
        return "segments"

    def audit_value(self) -> str | None:
        """The segment's name."""
        return self.segment.name if self.segment is not None else f"#{self.segment_id}"
