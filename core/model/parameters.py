"""System parameters: settings an administrator changes at run time (the password policy, ...).

One row per parameter that differs from its default; the catalog of parameters, their types,
defaults and limits is :data:`meterhub.inventory.parameters.PARAMETERS`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from meterhub.model.base import Base
from meterhub.model.templates import JSONText
from meterhub.model.types import UTCDateTime, utcnow

#: Longest parameter name (``password.max_failed_logins``).
PARAMETER_NAME_LENGTH = 100


class SystemParameter(Base):
    """The value of one system parameter, as JSON."""

    __tablename__ = "system_parameter"

    name: Mapped[str] = mapped_column(String(PARAMETER_NAME_LENGTH), primary_key=True)
    value_json: Mapped[Any] = mapped_column(JSONText)
    changed_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, info={"audit": False}
    )

    def __repr__(self) -> str:
        return f"<SystemParameter {self.name}={self.value_json!r}>"
