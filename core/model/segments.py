"""Data segments: named slices of the business tree that users are granted.

An element is in a segment when it or one of its ancestors is assigned to it
(:class:`ElementSegment`); a user sees the elements of the segments granted to them
(:class:`meterhub.model.users.UserSegment`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Identity, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from meterhub.model.audit import AuditedPart
from meterhub.model.base import Base

if TYPE_CHECKING:
    from meterhub.model.elements import Element
    from meterhub.model.users import UserSegment


class DataSegment(Base):
    """A named data segment ("north", "key accounts")."""

    __tablename__ = "data_segment"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)

    element_links: Mapped[list[ElementSegment]] = relationship(
        back_populates="segment", cascade="all, delete-orphan"
    )
    user_links: Mapped[list[UserSegment]] = relationship(
        back_populates="segment", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<DataSegment {self.name!r}>"


class ElementSegment(AuditedPart, Base):
    """Assignment of an element (and so its subtree) to a data segment.

    Audited as attribute ``segments`` of the element, with the segment's name as value.
    """

    __tablename__ = "element_segment"

    element_id: Mapped[int] = mapped_column(ForeignKey("element.id"), primary_key=True)
    segment_id: Mapped[int] = mapped_column(
        ForeignKey("data_segment.id"), primary_key=True, index=True
    )

    element: Mapped[Element] = relationship(back_populates="segment_links")
    segment: Mapped[DataSegment] = relationship(back_populates="element_links", lazy="joined")

    audit_owner_relationship = "element"

    def audit_attribute(self) -> str:
        """Always ``segments``."""
        return "segments"

    def audit_value(self) -> str | None:
        """The segment's name."""
        return self.segment.name if self.segment is not None else f"#{self.segment_id}"
