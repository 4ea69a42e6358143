"""Credentials of authenticated clients: API tokens for integrations, login sessions for browsers.

Neither stores a secret: the database keeps the SHA-256 digest of each high-entropy token
(32 random bytes), so a copy of the database lets nobody in. An API token has an expiry and may
be limited to some of its user's roles (:class:`ApiTokenRole`; none listed means all of them). A
login session is the browser's cookie; it ends at logout, after a time without requests, or at
its absolute end. The operations are in :mod:`meterhub.inventory.tokens`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Identity, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from meterhub.model.audit import AuditedPart
from meterhub.model.base import Base
from meterhub.model.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from meterhub.model.roles import Role
    from meterhub.model.users import AppUser

#: Length of a SHA-256 digest in hex.
DIGEST_LENGTH = 64


class ApiToken(Base):
    """A bearer token of a user for integrations; only its SHA-256 digest is kept."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_digest: Mapped[str] = mapped_column(
        String(DIGEST_LENGTH), unique=True, info={"secret": True}
    )
    #: The first characters of the token, to recognise it in a list (not enough to use it).
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, info={"audit": False})
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, info={"audit": False})
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[AppUser] = relationship()
    role_links: Mapped[list[ApiTokenRole]] = relationship(
        back_populates="token", cascade="all, delete-orphan"
    )

    @property
    def roles(self) -> list[Role]:
        """The roles the token is limited to (empty: all of its user's roles)."""
        return [link.role for link in self.role_links]

    def __repr__(self) -> str:
        return f"<ApiToken {self.id} {self.name!r} of user {self.user_id}>"


class ApiTokenRole(AuditedPart, Base):
    """A role an API token is limited to; audited as attribute ``roles`` of the token."""

    __tablename__ = "api_token_role"

    token_id: Mapped[int] = mapped_column(ForeignKey("api_token.id"), primary_key=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("role.id"), primary_key=True, index=True)

    token: Mapped[ApiToken] = relationship(back_populates="role_links")
    role: Mapped[Role] = relationship(lazy="joined")

    audit_owner_relationship = "token"

    def audit_attribute(self) -> str:
        """Always ``roles``."""
        return "roles"

    def audit_value(self) -> str | None:
        """The role's name."""
        return self.role.name if self.role is not None else f"#{self.role_id}"


class LoginSession(Base):
    """A browser's login: the digest of its cookie, its user and when it ends.

    Not audited row by row (it changes on every request); logins and logouts are written to
    the audit log as events instead (:mod:`meterhub.access.events`).
    """

    __tablename__ = "login_session"

    audit_skip = True

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    token_digest: Mapped[str] = mapped_column(
        String(DIGEST_LENGTH), unique=True, info={"secret": True}
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Ends here unless a request comes before (moved on by requests, up to ``ends_at``).
    idle_until: Mapped[datetime] = mapped_column(UTCDateTime)
    #: The absolute end, whatever the activity.
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Set when the password has expired: the session may only change the password.
    password_change_only: Mapped[bool] = mapped_column(default=False)

    user: Mapped[AppUser] = relationship()

    def __repr__(self) -> str:
        return f"<LoginSession {self.id} of user {self.user_id}>"
