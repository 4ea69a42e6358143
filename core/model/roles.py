"""Roles: named sets of permissions per object type and per function, granted to users.

A :class:`Role` holds one :class:`RolePermission` row per object type it grants anything on
(``actions`` is a comma-separated subset of ``view,create,edit,delete``), one
:class:`RoleFunction` row per function it enables (``meter_credentials``, ``administration``,
...), and the names of directory (LDAP/AD) groups whose members get the role. The catalog of
object types, actions and functions and the consistency rules are in
:mod:`meterhub.access.catalog`; the operations in :mod:`meterhub.inventory.roles`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Identity, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from meterhub.model.audit import AuditedPart
from meterhub.model.base import Base
from meterhub.model.templates import JSONText
from meterhub.model.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from meterhub.model.users import AppUser

#: Longest role name.
ROLE_NAME_LENGTH = 100


class Role(Base):
    """A named role; renamable, any number of them."""

    __tablename__ = "role"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(ROLE_NAME_LENGTH), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    #: Directory groups (LDAP/AD group names) whose members get this role at login.
    directory_groups: Mapped[list[str]] = mapped_column(JSONText, default=lambda: [])
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, info={"audit": False})

    permission_rows: Mapped[list[RolePermission]] = relationship(
        back_populates="role", cascade="all, delete-orphan", order_by="RolePermission.object_type"
    )
    function_rows: Mapped[list[RoleFunction]] = relationship(
        back_populates="role", cascade="all, delete-orphan", order_by="RoleFunction.function"
    )
    user_links: Mapped[list[UserRole]] = relationship(
        back_populates="role", cascade="all, delete-orphan"
    )

    @property
    def permissions(self) -> dict[str, list[str]]:
        """Object type → the actions granted on it, in the catalog's order."""
        from meterhub.access.catalog import ACTIONS

        result: dict[str, list[str]] = {}
        for row in self.permission_rows:
            granted = set(row.actions.split(",")) if row.actions else set()
            result[row.object_type] = [action for action in ACTIONS if action in granted]
        return result

    @property
    def functions(self) -> list[str]:
        """The functions this role enables, sorted."""
        return sorted(row.function for row in self.function_rows)

    def __repr__(self) -> str:
        return f"<Role {self.name!r}>"


class RolePermission(AuditedPart, Base):
    """The actions a role grants on one object type; audited as ``permissions.<type>``."""

    __tablename__ = "role_permission"
    __table_args__ = (UniqueConstraint("role_id", "object_type"),)

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("role.id"), index=True)
    object_type: Mapped[str] = mapped_column(String(50))
    #: Comma-separated actions: ``view,create,edit,delete`` or a consistent subset.
    actions: Mapped[str] = mapped_column(String(100))

    role: Mapped[Role] = relationship(back_populates="permission_rows")

    audit_owner_relationship = "role"
    audit_value_column = "actions"

    def audit_attribute(self) -> str:
        """``permissions.<object type>``."""
        return f"permissions.{self.object_type}"

    def audit_value(self) -> str | None:
        """The granted actions."""
        return self.actions


class RoleFunction(AuditedPart, Base):
    """A function a role enables; audited as attribute ``functions`` of the role."""

    __tablename__ = "role_function"

    role_id: Mapped[int] = mapped_column(ForeignKey("role.id"), primary_key=True)
    function: Mapped[str] = mapped_column(String(50), primary_key=True)

    role: Mapped[Role] = relationship(back_populates="function_rows")

    audit_owner_relationship = "role"

    def audit_attribute(self) -> str:
        """Always ``functions``."""
        return "functions"

    def audit_value(self) -> str | None:
        """The function's name."""
        return self.function


class UserRole(AuditedPart, Base):
    """A role granted to a user; audited as attribute ``roles`` of the user."""

    __tablename__ = "app_user_role"

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("role.id"), primary_key=True, index=True)

    user: Mapped[AppUser] = relationship(back_populates="role_links")
    role: Mapped[Role] = relationship(back_populates="user_links", lazy="joined")

    audit_owner_relationship = "user"

    def audit_attribute(self) -> str:
        """Always ``roles``."""
        return "roles"

    def audit_value(self) -> str | None:
        """The role's name."""
        return self.role.name if self.role is not None else f"#{self.role_id}"
