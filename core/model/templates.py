"""Templates: the kinds of elements of the business tree and the attributes each kind defines.

A :class:`Template` ("region", "consumer", "contract", ...) names typed attributes
(:class:`TemplateAttribute`); every element is an instance of one template and keeps its link,
so a change of the template reaches all its instances (see :mod:`meterhub.inventory.templates`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Dialect,
    ForeignKey,
    Identity,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from meterhub.model.base import Base

if TYPE_CHECKING:
    from meterhub.model.elements import Element

#: The value types a template attribute may have; values are stored as text in canonical form.
VALUE_TYPES: tuple[str, ...] = (
    "string",
    "integer",
    "decimal",
    "boolean",
    "date",
    "datetime",
    "choice",
    "obis",
    "eic",
    "ean",
)

#: Longest name of a template or template attribute.
NAME_LENGTH = 200

#: Longest attribute value in canonical text form (fits a VARCHAR2 on Oracle, stays searchable).
VALUE_LENGTH = 1000


#: ``json.dumps(value, ensure_ascii=False, sort_keys=True)`` without a new encoder per value.
_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True)


class JSONText(TypeDecorator[Any]):
    """A JSON document stored as text: the same on every backend and every Oracle version."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        """The value as JSON text (keys sorted), ``None`` as NULL."""
        if value is None:
            return None
        return _ENCODER.encode(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        """The JSON text read back as Python values."""
        if value is None:
            return None
        return json.loads(value)


class Template(Base):
    """A kind of element and the attributes its instances carry."""

    __tablename__ = "template"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    #: What the template stands for in the tree: "top", "region", "consumer", "contract" or free.
    kind: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)

    attributes: Mapped[list[TemplateAttribute]] = relationship(
        back_populates="template",
        cascade="all, delete-orphan",
        order_by="TemplateAttribute.id",
    )
    elements: Mapped[list[Element]] = relationship(back_populates="template", passive_deletes="all")

    def attribute(self, name: str) -> TemplateAttribute | None:
        """The attribute named ``name``, or ``None``."""
        for attribute in self.attributes:
            if attribute.name == name:
                return attribute
        return None

    def __repr__(self) -> str:
        return f"<Template {self.name!r}>"


class TemplateAttribute(Base):
    """One typed attribute of a template: its type, whether required, default, choices, unit."""

    __tablename__ = "template_attribute"
    __table_args__ = (
        UniqueConstraint("template_id", "name"),
        CheckConstraint(
            "value_type IN (" + ", ".join(f"'{kind}'" for kind in VALUE_TYPES) + ")",
            name="value_type",
        ),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("template.id"), index=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    value_type: Mapped[str] = mapped_column(String(20))
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The default in the same canonical text form as instance values.
    default_value: Mapped[str | None] = mapped_column(String(VALUE_LENGTH))
    #: The allowed values of a ``choice`` attribute (a JSON list of strings).
    choices: Mapped[list[str] | None] = mapped_column(JSONText)
    unit: Mapped[str | None] = mapped_column(String(50))
    description: Mapped[str | None] = mapped_column(Text)

    template: Mapped[Template] = relationship(back_populates="attributes")

    def __repr__(self) -> str:
        return f"<TemplateAttribute {self.name!r} ({self.value_type})>"
