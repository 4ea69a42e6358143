"""Profiles (class 7): load profile, billing profiles and event logs, read into columns.

A profile's capture objects become columns: the clock column gives the interval ends, every
numeric column a :class:`~meterhub.extensions.driver.ProfileChannel` (OBIS, unit and scaler of the
captured object, values as sent), and a status column — an AMR profile status object,
``0-0:96.10.*`` — the status word of every channel in its row. Rows are selected by range
(``from .. to``, both captured times) or by entry; the rows' values go from gurux's decoded
buffer straight into numpy arrays.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from gurux_dlms.enums import ObjectType
from gurux_dlms.objects import GXDLMSProfileGeneric

from meterhub.errors import InvalidValue
from meterhub.extensions.driver import (
    BillingPeriod,
    BillingValues,
    EventLog,
    LoadProfile,
    MeterEvent,
    ProfileChannel,
    Quality,
    Reading,
)
from meterhub.identifiers import canonical_obis
from meterhub.plugins.drivers.dlms.batch import Item
from meterhub.plugins.drivers.dlms.cosem import (
    from_cosem_time,
    logical_name,
    obis_text,
    scaler_exponent,
    to_cosem_time,
    unit_text,
)
from meterhub.plugins.drivers.dlms.events import event_table
from meterhub.plugins.drivers.dlms.registers import RegisterReading
from meterhub.plugins.drivers.dlms.session import ACCESS_RESULT

__all__ = ["ProfileReading", "is_status_column"]

#: A column: OBIS, interface class, scaler, unit.
Column = tuple[str, int, int, str | None]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def is_status_column(obis: str) -> bool:
    """Whether a captured object is a profile status word (OBIS ``0-x:96.10.y``)."""
    group_cd = obis.split(":", 1)[-1].split("*", 1)[0].split(".")
    return obis.startswith("0-") and group_cd[:2] == ["96", "10"]


def _float(value: Any) -> float:
    if value is None or isinstance(value, bytes | bytearray | str):
        return float("nan")
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


class ProfileReading(RegisterReading):
    """Profiles by range and by entry, load profile, billing values and event logs."""

    def _profile(self, obis: str) -> tuple[GXDLMSProfileGeneric | None, Quality]:
        if obis in self._profiles:
            return self._profiles[obis], Quality.VALID
        profile = GXDLMSProfileGeneric(logical_name(obis))
        layout = [Item(profile, 3), Item(profile, 4)]  # capture objects and period, together
        self.read_items([layout])
        for item in layout:
            if item.quality is not Quality.VALID:
                return None, item.quality
        self._profiles[obis] = profile
        return profile, Quality.VALID

    def _columns(self, profile: GXDLMSProfileGeneric) -> list[tuple[str, int, int, str | None]]:
        """Per capture object: (OBIS, class id, scaler, unit); the clock has class 8."""
        registers = (
            ObjectType.REGISTER,
            ObjectType.EXTENDED_REGISTER,
            ObjectType.DEMAND_REGISTER,
        )
        # The scalers the session does not know yet, read together. A fresh object each: with
        # the scaler on the capture object itself, gurux would multiply the buffer's values by
        # it, and readings keep raw values.
        missing: dict[str, Item] = {}
        for obj, _ in profile.captureObjects:
            obis = obis_text(obj.logicalName)
            if int(obj.objectType) in registers and obis not in self._scalers:
                fresh = type(obj)(obj.logicalName)
                attribute = 4 if int(obj.objectType) == ObjectType.DEMAND_REGISTER else 3
                missing.setdefault(obis, Item(fresh, attribute))
        self.read_items([[item] for item in missing.values()])
        for obis, item in missing.items():
            if item.quality is Quality.VALID:
                self._scalers[obis] = (scaler_exponent(item.obj.scaler), unit_text(item.obj.unit))
        columns = []
        for obj, _ in profile.captureObjects:
            obis = obis_text(obj.logicalName)
            class_id = int(obj.objectType)
            scaler, unit = (
                self._scalers.get(obis, (0, None)) if class_id in registers else (0, None)
            )
            columns.append((obis, class_id, scaler, unit))
        return columns

    def _rows(
        self, obis: str, frames_for: Any, note: str
    ) -> tuple[
        list[list[Any]],
        list[tuple[str, int, int, str | None]],
        GXDLMSProfileGeneric | None,
        Quality,
    ]:
        profile, quality = self._profile(obis)
        if profile is None:
            return [], [], None, quality
        columns = self._columns(profile)
        reply = self._request(frames_for(profile), note)
        if reply.error:
            return [], columns, profile, ACCESS_RESULT.get(int(reply.error), Quality.UNKNOWN_ERROR)
        try:
            self.client.updateValue(profile, 2, reply.value)
        except Exception as exc:
            self.trace.note(f"cannot decode the profile buffer: {exc}")
            return [], columns, profile, Quality.INVALID
        return [list(row) for row in profile.buffer], columns, profile, Quality.VALID

    def _columnar(
        self, rows: list[list[Any]], columns: list[Column]
    ) -> tuple[np.ndarray, list[ProfileChannel]]:
        """The rows as interval ends and one channel per numeric, non-status column.

        Rows without a readable time are dropped; rows arrive in capture order, and a meter
        that repeats a time (a clock set back) keeps the first row of it.
        """
        clock = next((i for i, c in enumerate(columns) if c[1] == ObjectType.CLOCK), None)
        if clock is None:
            self.trace.note("profile without a clock column: no interval ends")
            return np.array([], "datetime64[s]"), []
        stamps = [from_cosem_time(row[clock]) if len(row) > clock else None for row in rows]
        seconds = np.array(
            [-1 if s is None else int((s - _EPOCH).total_seconds()) for s in stamps], np.int64
        )
        keep = seconds >= 0
        if keep.any():
            _, first = np.unique(seconds, return_index=True)
            unique = np.zeros(len(seconds), bool)
            unique[first] = True
            keep &= unique
        kept_rows = [row for row, flag in zip(rows, keep.tolist(), strict=True) if flag]
        order = np.argsort(seconds[keep], kind="stable")
        ends = seconds[keep][order].astype("datetime64[s]")
        status = np.zeros(len(kept_rows), np.uint32)
        numeric: list[tuple[int, Column]] = []
        for index, column in enumerate(columns):
            if index == clock:
                continue
            if is_status_column(column[0]):
                words = np.array([_float(row[index]) for row in kept_rows], np.float64)
                status |= np.nan_to_num(words, nan=0).astype(np.uint32)
                continue
            numeric.append((index, column))
        status = status[order]
        channels = []
        for index, (obis, _class_id, scaler, unit) in numeric:
            values = np.array(
                [_float(row[index]) if index < len(row) else np.nan for row in kept_rows],
                np.float64,
            )[order]
            channels.append(ProfileChannel(obis, unit, scaler, ends, values, status))
        return ends, channels

    def read_profile_columns(
        self, obis: str, start: datetime, end: datetime
    ) -> tuple[list[ProfileChannel], Quality]:
        """Columns of profile ``obis`` for rows captured in ``[start, end]`` (by range)."""
        code = canonical_obis(obis, field="obis")
        rows, columns, _, quality = self._rows(
            code,
            lambda profile: self.client.readRowsByRange(
                profile, to_cosem_time(start), to_cosem_time(end)
            ),
            f"GET {code} by range {start.isoformat()} .. {end.isoformat()}",
        )
        return self._columnar(rows, columns)[1], quality

    def read_profile(
        self, obis: str, start: datetime, end: datetime
    ) -> tuple[list[Reading], Quality]:
        """Rows of profile ``obis`` captured in ``[start, end]``, one reading per value.

        Capture objects map to readings: each captured object's OBIS is the reading's, its
        scaler and unit come from the object; the clock column is the timestamp.
        """
        channels, quality = self.read_profile_columns(obis, start, end)
        return _readings(channels), quality

    def read_profile_entries(
        self, obis: str, first: int, count: int
    ) -> tuple[list[Reading], Quality]:
        """Entries ``first`` .. ``first + count - 1`` (1 = the oldest) of profile ``obis``."""
        code = canonical_obis(obis, field="obis")
        if first < 1 or count < 1:
            raise InvalidValue("first", "entries are numbered from 1 and count is at least 1")
        rows, columns, _, quality = self._rows(
            code,
            lambda profile: self.client.readRowsByEntry(profile, first, count),
            f"GET {code} by entry {first} (+{count})",
        )
        return _readings(self._columnar(rows, columns)[1]), quality

    def profile_entries(self, obis: str) -> int | None:
        """How many entries profile ``obis`` holds (attribute 7), or ``None`` if refused."""
        profile = GXDLMSProfileGeneric(logical_name(canonical_obis(obis, field="obis")))
        value, quality = self._get(profile, 7)
        return int(value) if quality is Quality.VALID and value is not None else None

    def read_load_profile(self, start: datetime, end: datetime) -> LoadProfile:
        """The ``load_profile`` for intervals ending in ``(start, end]``, as columns."""
        obis = self.settings.load_profile
        channels, quality = self.read_profile_columns(obis, start, end)
        profile = self._profiles.get(obis)
        period = int(profile.capturePeriod or 0) if profile is not None else 0
        low = np.datetime64(int(start.astimezone(UTC).timestamp()), "s")
        high = np.datetime64(int(end.astimezone(UTC).timestamp()), "s")
        kept = []
        for channel in channels:
            inside = (channel.ends > low) & (channel.ends <= high)
            kept.append(
                ProfileChannel(
                    channel.obis,
                    channel.unit,
                    channel.scaler,
                    channel.ends[inside],
                    channel.values[inside],
                    channel.status[inside],
                )
            )
        return LoadProfile(timedelta(seconds=period), tuple(kept), quality)

    def read_billing(
        self, start: datetime, end: datetime, period: BillingPeriod = BillingPeriod.MONTHLY
    ) -> BillingValues:
        """Billing values of the daily or monthly billing profile captured in ``[start, end]``."""
        kind = BillingPeriod(period)
        obis = (
            self.settings.monthly_profile
            if kind is BillingPeriod.MONTHLY
            else (self.settings.daily_profile)
        )
        readings, quality = self.read_profile(obis, start, end)
        return BillingValues(kind, tuple(readings), quality)

    def read_events(self, start: datetime, end: datetime) -> EventLog:
        """The ``event_log`` entries with timestamps in ``[start, end)``."""
        obis = self.settings.event_log
        readings, quality = self.read_profile(obis, start, end)
        start_utc, end_utc = start.astimezone(UTC), end.astimezone(UTC)
        table = event_table(self.settings.event_table)
        events = []
        for reading in readings:
            if not start_utc <= reading.timestamp < end_utc or not isinstance(reading.value, int):
                continue
            code = reading.value
            events.append(MeterEvent(reading.timestamp, code, obis, table.text(code)))
        events.sort(key=lambda event: (event.timestamp, event.code))
        return EventLog(tuple(events), quality)


def _readings(channels: list[ProfileChannel]) -> list[Reading]:
    found = [reading for channel in channels for reading in channel.readings()]
    found.sort(key=lambda reading: (reading.timestamp, reading.obis))
    return found
