"""Elements: the business tree (top node, regions, consumers, contracts) and attribute values.

Every :class:`Element` is an instance of a template (and keeps the link), has a parent (none for
a root), a name unique among its siblings, an enabled flag and a validity period
``[valid_from, valid_to)`` (``valid_to`` ``None`` = open end) that lies within its parent's.

Sibling names are unique by a database constraint on ``(sibling_scope, name)``: a unique
constraint on ``(parent_id, name)`` would not hold for roots, as NULLs never collide on SQLite,
PostgreSQL or Oracle. ``sibling_scope`` is the parent's id, or 0 for a root (ids start at 1); a
check constraint keeps it equal to ``COALESCE(parent_id, 0)`` and a mapper event fills it in.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Identity,
    String,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from meterhub.model.audit import AuditedPart
from meterhub.model.base import Base
from meterhub.model.templates import NAME_LENGTH, VALUE_LENGTH, Template, TemplateAttribute
from meterhub.model.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from meterhub.model.segments import ElementSegment

#: ``sibling_scope`` of a root element.
ROOT_SCOPE = 0

#: Separates the names in an element's path; element names cannot contain it.
PATH_SEPARATOR = "/"


class Element(Base):
    """A node of the business tree: an instance of a template with a validity period."""

    __tablename__ = "element"
    __table_args__ = (
        UniqueConstraint("sibling_scope", "name"),
        CheckConstraint(f"sibling_scope = COALESCE(parent_id, {ROOT_SCOPE})", name="sibling_scope"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="period"),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("element.id"), index=True, info={"audit_action": "move"}
    )
    #: The parent's id, or 0 for a root: the scope in which ``name`` is unique.
    sibling_scope: Mapped[int] = mapped_column(info={"audit": False})
    template_id: Mapped[int] = mapped_column(ForeignKey("template.id"), index=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, info={"audit": False})
    changed_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, info={"audit": False}
    )

    parent: Mapped[Element | None] = relationship(back_populates="children", remote_side=[id])
    children: Mapped[list[Element]] = relationship(
        back_populates="parent", order_by="Element.name", passive_deletes="all"
    )
    template: Mapped[Template] = relationship(back_populates="elements")
    attribute_values: Mapped[list[ElementAttribute]] = relationship(
        back_populates="element", cascade="all, delete-orphan"
    )
    segment_links: Mapped[list[ElementSegment]] = relationship(
        back_populates="element", cascade="all, delete-orphan"
    )

    @property
    def path(self) -> str:
        """The names from the root down to this element, joined by ``/``: ``Top/North/C1``."""
        names = []
        node: Element | None = self
        while node is not None:
            names.append(node.name)
            node = node.parent
        return PATH_SEPARATOR.join(reversed(names))

    def __repr__(self) -> str:
        return f"<Element {self.name!r} id={self.id}>"


@event.listens_for(Element, "before_insert")
@event.listens_for(Element, "before_update")
def _fill_sibling_scope(_mapper: Any, _connection: Any, element: Element) -> None:
    """Keep ``sibling_scope`` equal to the parent's id (known only at flush for a new parent)."""
    element.sibling_scope = element.parent_id if element.parent_id is not None else ROOT_SCOPE


class ElementAttribute(AuditedPart, Base):
    """The value of one template attribute on one element, as canonical text.

    Audited as attribute ``attributes.<name>`` of the element.
    """

    __tablename__ = "element_attribute"
    __table_args__ = (UniqueConstraint("element_id", "template_attribute_id"),)

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    element_id: Mapped[int] = mapped_column(ForeignKey("element.id"), index=True)
    template_attribute_id: Mapped[int] = mapped_column(
        ForeignKey("template_attribute.id"), index=True
    )
    value: Mapped[str] = mapped_column(String(VALUE_LENGTH))

    element: Mapped[Element] = relationship(back_populates="attribute_values")
    template_attribute: Mapped[TemplateAttribute] = relationship(lazy="joined")

    audit_value_column = "value"

    audit_owner_relationship = "element"

    def audit_attribute(self) -> str:
        """``attributes.<name>`` of the template attribute."""
        attribute = self.template_attribute
        name = attribute.name if attribute is not None else f"#{self.template_attribute_id}"
        return f"attributes.{name}"

    def audit_value(self) -> str | None:
        """The stored value."""
        return self.value

    def __repr__(self) -> str:
        return f"<ElementAttribute {self.audit_attribute()}={self.value!r}>"
