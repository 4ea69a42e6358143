"""Day calendars: public holidays of a country and region (the ``holidays`` package) plus the
special days a user defines (a plant's shutdown, a bridge day), for the day types of VEE's
like-day methods and, later, of tariffs.

A :class:`DayCalendar` names a country (ISO 3166-1 alpha-2), an optional subdivision (ISO
3166-2 code, e.g. ``BY`` for Bavaria) and the zone its local days are in. A
:class:`SpecialDay` gives one date of a calendar a day type: one of the built-in types
(``workday``, ``saturday``, ``sunday``, ``holiday``) or a type of its own (``shutdown``), which
then forms its own group of like days. The day type of a date is resolved by
:mod:`meterhub.vee.daytypes`; the operations are in :mod:`meterhub.inventory.calendars`.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import ForeignKey, Identity, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from meterhub.model.base import Base
from meterhub.model.types import ISODate

#: Longest name of a calendar or of a special day's label.
CALENDAR_NAME_LENGTH = 100

#: Longest day type name.
DAY_TYPE_LENGTH = 40


class DayCalendar(Base):
    """Public holidays of ``country`` (and ``subdivision``) in zone ``tz``, plus special days."""

    __tablename__ = "cal_calendar"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(CALENDAR_NAME_LENGTH), unique=True)
    country: Mapped[str | None] = mapped_column(String(2))
    subdivision: Mapped[str | None] = mapped_column(String(10))
    tz: Mapped[str] = mapped_column(String(64), default="UTC")

    special_days: Mapped[list[SpecialDay]] = relationship(
        back_populates="calendar", cascade="all, delete-orphan", order_by="SpecialDay.day"
    )

    def __repr__(self) -> str:
        return f"<DayCalendar {self.id} {self.name!r} {self.country}-{self.subdivision}>"


class SpecialDay(Base):
    """One date of a calendar with the day type a user gave it."""

    __tablename__ = "cal_special_day"
    __table_args__ = (UniqueConstraint("calendar_id", "day"),)

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("cal_calendar.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(ISODate)
    day_type: Mapped[str] = mapped_column(String(DAY_TYPE_LENGTH))
    label: Mapped[str | None] = mapped_column(String(CALENDAR_NAME_LENGTH))

    calendar: Mapped[DayCalendar] = relationship(back_populates="special_days")

    def __repr__(self) -> str:
        return f"<SpecialDay {self.day.isoformat()} {self.day_type}>"
