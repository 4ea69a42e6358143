"""Calculated channels: a formula over other channels, stored like measured values.

A :class:`CalculationDefinition` computes its ``target`` channel from a ``formula`` over named
inputs (:class:`CalculationInput`: alias → channel), in the zone ``tz`` (local hours, days and
months of the aggregations). Every save checks the formula (a safe parser, no ``eval``),
refuses missing channels and cycles with the line and reason, and counts ``version`` up; a
``schedule`` makes the scheduler run it over ``lookback_days`` at each occurrence; the
results are written with the definition's name and version as the change's reason, and the
inputs stay recorded here. The operations are in :mod:`meterhub.inventory.calculations`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Identity, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from meterhub.model.base import Base
from meterhub.model.types import UTCDateTime

#: Longest name of a calculation or an input alias.
CALCULATION_NAME_LENGTH = 100


class CalculationDefinition(Base):
    """The formula that computes channel ``target_channel_id``."""

    __tablename__ = "calc_definition"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(CALCULATION_NAME_LENGTH), unique=True)
    target_channel_id: Mapped[int] = mapped_column(ForeignKey("channel.id"), unique=True)
    formula: Mapped[str] = mapped_column(Text)
    tz: Mapped[str] = mapped_column(String(64), default="UTC")
    version: Mapped[int] = mapped_column(Integer, default=1)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str | None] = mapped_column(Text)
    #: An RFC 5545 RRULE in zone ``tz`` (:mod:`meterhub.vee.scheduling` runs it), or none.
    schedule: Mapped[str | None] = mapped_column(String(200))
    #: Days before each occurrence a scheduled run recomputes.
    lookback_days: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    #: The last occurrence a scheduled run served (UTC).
    schedule_served_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    inputs: Mapped[list[CalculationInput]] = relationship(
        back_populates="definition", cascade="all, delete-orphan", order_by="CalculationInput.alias"
    )

    def __repr__(self) -> str:
        return f"<CalculationDefinition {self.id} {self.name!r} v{self.version}>"


class CalculationInput(Base):
    """An input of a calculation: the channel a formula's name (``alias``) stands for."""

    __tablename__ = "calc_input"

    definition_id: Mapped[int] = mapped_column(
        ForeignKey("calc_definition.id", ondelete="CASCADE"), primary_key=True
    )
    alias: Mapped[str] = mapped_column(String(CALCULATION_NAME_LENGTH), primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channel.id"), index=True)

    definition: Mapped[CalculationDefinition] = relationship(back_populates="inputs")

    def __repr__(self) -> str:
        return f"<CalculationInput {self.alias}={self.channel_id}>"
