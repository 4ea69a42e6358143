"""Customer scripts (RestrictedPython), stored versioned: every save is a new version, the
current one is what runs, the old ones stay for the record and for a rollback.

A :class:`Script` has a unique name and a purpose (``check``, ``estimate`` or ``calculate``);
each :class:`ScriptVersion` holds the source as saved, who saved it, when and why. A source that
does not compile under the sandbox's rules is refused before it is stored
(:mod:`meterhub.inventory.scripts`, :mod:`meterhub.sandbox`).
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
from sqlalchemy.orm import Mapped, mapped_column, relationship

from meterhub.model.base import Base
from meterhub.model.types import UTCDateTime

#: What a script is for.
SCRIPT_PURPOSES: tuple[str, ...] = ("check", "estimate", "calculate")

#: Longest script name.
SCRIPT_NAME_LENGTH = 100


class Script(Base):
    """A named customer script; ``version`` is its current version number."""

    __tablename__ = "script"
    __table_args__ = (
        CheckConstraint(
            "purpose IN (" + ", ".join(f"'{p}'" for p in SCRIPT_PURPOSES) + ")", name="purpose"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(SCRIPT_NAME_LENGTH), unique=True)
    purpose: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer, default=1)
    description: Mapped[str | None] = mapped_column(Text)

    versions: Mapped[list[ScriptVersion]] = relationship(
        back_populates="script", cascade="all, delete-orphan", order_by="ScriptVersion.version"
    )

    def __repr__(self) -> str:
        return f"<Script {self.id} {self.name!r} v{self.version}>"


class ScriptVersion(Base):
    """One saved version of a script's source."""

    __tablename__ = "script_version"
    __table_args__ = (UniqueConstraint("script_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    script_id: Mapped[int] = mapped_column(ForeignKey("script.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime)
    saved_by: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)

    script: Mapped[Script] = relationship(back_populates="versions")

    def __repr__(self) -> str:
        return f"<ScriptVersion {self.script_id} v{self.version}>"
