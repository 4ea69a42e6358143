"""Named users of MeterHub: login name, password hash (argon2), profile, roles, segment grants.

The license limits the number of *enabled* named users (``named_users``); the operations in
:mod:`meterhub.inventory.users` enforce it. A user is ``local`` (password hash here, the
password policy applies) or ``directory`` (authenticated by LDAP/Active Directory, roles from
the directory's groups). The hashes of earlier passwords (:class:`PasswordHistory`) keep a user
from reusing one.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, ForeignKey, Identity, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from meterhub.model.audit import AuditedPart
from meterhub.model.base import Base
from meterhub.model.segments import DataSegment
from meterhub.model.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from meterhub.model.roles import Role, UserRole

#: Where a user's password is checked.
USER_SOURCES: tuple[str, ...] = ("local", "directory")


class AppUser(Base):
    """A named user. ``password_hash`` is ``None`` for users authenticated elsewhere (LDAP)."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255), info={"secret": True})
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, info={"audit": False})
    email: Mapped[str | None] = mapped_column(String(254))
    #: Language of the user interface (BCP 47 tag: ``en``, ``cs``, ``de-AT``).
    language: Mapped[str] = mapped_column(String(35), default="en")
    #: IANA time zone in which the user sees times (``Europe/Prague``).
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    #: ``local`` or ``directory`` (:data:`USER_SOURCES`).
    source: Mapped[str] = mapped_column(String(16), default="local")
    #: Failed logins since the last successful one (the lockout counts them).
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, info={"audit": False})
    #: When the account was locked after too many failed logins; ``None`` when not locked.
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the password was last set (its expiry counts from here).
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, info={"audit": False})
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, info={"audit": False})

    segment_links: Mapped[list[UserSegment]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )
    role_links: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )
    password_history: Mapped[list[PasswordHistory]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="PasswordHistory.id.desc()"
    )

    @property
    def roles(self) -> list[Role]:
        """The roles granted to this user, by name."""
        return sorted((link.role for link in self.role_links), key=lambda role: role.name)

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


class PasswordHistory(Base):
    """The hash of a password a user had; the policy's history depth forbids reusing it."""

    __tablename__ = "password_history"

    audit_skip = True

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255), info={"secret": True})
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[AppUser] = relationship(back_populates="password_history")
