"""Day types of local dates: working day, Saturday, Sunday, public holiday (the ``holidays``
package, per country and subdivision) and the special days a user defines.

:class:`DayTypes` is built from a :class:`~meterhub.model.calendars.DayCalendar` (or plainly
from a country code) and answers per date range with numpy arrays, so the like-day kernels
group days without a Python object per value. Tariffs reuse the same calendars.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta, tzinfo
from functools import lru_cache
from typing import Any

import holidays
import numpy as np
import numpy.typing as npt

from meterhub.errors import InvalidValue
from meterhub.extensions.veecontext import DAY_TYPES, SlotCalendar
from meterhub.timeseries.timegrid import US_PER_DAY, US_PER_MINUTE, local_offsets, resolve_tz

__all__ = ["DayTypes", "check_country", "slot_calendar"]

#: The first code of a user-defined day type (built-in types are 0-3).
FIRST_SPECIAL_CODE = 10

_EPOCH = date(1970, 1, 1)


@lru_cache(maxsize=64)
def _holiday_calendar(country: str, subdivision: str | None) -> Any:
    return holidays.country_holidays(country, subdiv=subdivision)


def check_country(country: str | None, subdivision: str | None) -> None:
    """Refuse a country or subdivision the ``holidays`` package does not know."""
    if country is None:
        if subdivision is not None:
            raise InvalidValue("subdivision", "a subdivision needs a country")
        return
    try:
        _holiday_calendar(country, subdivision)
    except NotImplementedError:
        raise InvalidValue("country", f"no public holidays known for country {country!r}") from None
    except Exception as error:  # holidays raises NotImplementedError for subdivisions too
        raise InvalidValue("subdivision", f"{subdivision!r} of {country}: {error}") from None


class DayTypes:
    """The day type of any date: special days first, then public holidays, then the weekday.

    ``special`` maps dates to type names (built-in ``workday``, ``saturday``, ``sunday``,
    ``holiday`` or a name of its own); user-defined names get codes from 10 on, in sorted
    order, so a run gives the same codes every time.
    """

    def __init__(
        self,
        country: str | None = None,
        subdivision: str | None = None,
        special: Mapping[date, str] | None = None,
        tz: str | tzinfo = "UTC",
    ) -> None:
        check_country(country, subdivision)
        self.country = country
        self.subdivision = subdivision
        self.tz = resolve_tz(tz)
        self.special = dict(special or {})
        own = sorted({name for name in self.special.values() if name not in DAY_TYPES})
        self.codes: dict[str, int] = {**DAY_TYPES}
        self.codes.update({name: FIRST_SPECIAL_CODE + i for i, name in enumerate(own)})

    @classmethod
    def from_calendar(cls, calendar: Any) -> DayTypes:
        """The day types of a :class:`~meterhub.model.calendars.DayCalendar`."""
        return cls(
            calendar.country,
            calendar.subdivision,
            {day.day: day.day_type for day in calendar.special_days},
            calendar.tz,
        )

    def name_of(self, code: int) -> str:
        """The type name of ``code``."""
        for name, value in self.codes.items():
            if value == code:
                return name
        raise KeyError(code)

    def of_dates(self, first: date, last: date) -> npt.NDArray[np.int16]:
        """The day type codes of the dates ``first`` to ``last`` (inclusive)."""
        count = (last - first).days + 1
        if count <= 0:
            return np.empty(0, dtype=np.int16)
        weekday = (np.arange(count) + first.weekday()) % 7
        codes = np.where(weekday == 5, DAY_TYPES["saturday"], DAY_TYPES["workday"]).astype(np.int16)
        codes[weekday == 6] = DAY_TYPES["sunday"]
        if self.country is not None:
            found = holidays.country_holidays(
                self.country, subdiv=self.subdivision, years=range(first.year, last.year + 1)
            )
            for day in found:
                if first <= day <= last:
                    codes[(day - first).days] = DAY_TYPES["holiday"]
        for day, name in self.special.items():
            if first <= day <= last:
                codes[(day - first).days] = self.codes[name]
        return codes

    def of(self, day: date) -> str:
        """The type name of one date."""
        return self.name_of(int(self.of_dates(day, day)[0]))


def slot_calendar(
    start_tick: int, count: int, interval_minutes: int, day_types: DayTypes
) -> SlotCalendar:
    """The :class:`SlotCalendar` of ``count`` slots of ``interval_minutes`` from the UTC tick
    ``start_tick`` in the day types' zone (a daily slot's date is the one it starts on)."""
    step = interval_minutes * US_PER_MINUTE
    ticks = start_tick + step * np.arange(count, dtype=np.int64)
    local = ticks + local_offsets(ticks, day_types.tz)
    days = local // US_PER_DAY
    minute = (local - days * US_PER_DAY) // US_PER_MINUTE
    if count == 0:
        return SlotCalendar(np.empty(0, np.int32), np.empty(0, np.int16), np.empty(0, np.int16))
    first, last = int(days[0]), int(days[-1])
    codes = day_types.of_dates(_EPOCH + timedelta(days=first), _EPOCH + timedelta(days=last))
    return SlotCalendar(
        day=days.astype(np.int32),
        day_type=codes[days - first],
        minute=minute.astype(np.int16),
    )
