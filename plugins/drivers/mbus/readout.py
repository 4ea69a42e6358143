"""One meter's decoded data (a wired readout or a wireless telegram) as readings, billing
values and a columnar profile.

Current values (storage number 0) become :class:`~meterhub.extensions.driver.Reading` values
timestamped when they were read; historic values (storage number ≥ 1) take the date of the
date record with the same storage number (and subunit), in the meter's time zone, converted
to UTC. Time points are consumed as the clock and as those dates; every other record that has
no OBIS channel is listed by :meth:`Readout.unmapped` with the reason.
"""

from __future__ import annotations

from abc import abstractmethod
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

import numpy as np

from meterhub.extensions.driver import (
    Action,
    BillingPeriod,
    BillingValues,
    DriverConnection,
    EventLog,
    LoadProfile,
    ProfileChannel,
    Quality,
    Reading,
)
from meterhub.identifiers import canonical_obis
from meterhub.plugins.drivers.mbus.obis import MEDIUM_NAMES, map_record
from meterhub.plugins.drivers.mbus.records import Function, Record

__all__ = ["CLOCK", "Readout", "ReadoutConnection", "Unmapped"]

CLOCK = "0-0:1.0.0*255"
_TIME_POINTS = ("Time point (date and time)", "Time point (date)")


@dataclass(frozen=True, slots=True)
class Unmapped:
    """A record kept raw: its index, bytes and why no channel takes it."""

    index: int
    raw: str
    reason: str


def _with_f(obis: str, f: int) -> str:
    return obis.rpartition("*")[0] + f"*{f}"


@dataclass
class Readout:
    """The decoded content of one meter's answer (or of its telegrams, joined)."""

    identification: str
    manufacturer: str
    version: int
    medium: int
    access: int
    status: int
    records: list[Record]
    read_at: datetime
    zone: tzinfo = UTC
    _mapped: list[tuple[Record, str, str | None]] | None = field(default=None, repr=False)

    @property
    def medium_name(self) -> str:
        """The device type in words (``heat (return)``, ``water``, ...)."""
        return MEDIUM_NAMES.get(self.medium, f"device type {self.medium:02X}h")

    def _mapping(self) -> list[tuple[Record, str, str | None]]:
        if self._mapped is None:
            found = []
            for record in self.records:
                mapping = map_record(record, self.medium)
                if mapping.obis is not None:
                    found.append((record, mapping.obis, mapping.unit))
            self._mapped = found
        return self._mapped

    def _utc(self, moment: datetime | date) -> datetime:
        if not isinstance(moment, datetime):
            moment = datetime.combine(moment, time())
        return moment.replace(tzinfo=self.zone).astimezone(UTC)

    @staticmethod
    def _reading(record: Record, obis: str, unit: str | None, stamp: datetime) -> Reading:
        value = record.value
        assert isinstance(value, int | float)
        return Reading(obis, value, unit, record.scaler, stamp)

    def current(self) -> list[Reading]:
        """The current values (storage number 0), timestamped with :attr:`read_at`."""
        return [
            self._reading(record, obis, unit, self.read_at)
            for record, obis, unit in self._mapping()
            if record.storage == 0
        ]

    def clock(self) -> datetime | None:
        """The meter's date and time (record ``6D``, storage 0) in UTC, ``None`` without one."""
        for record in self.records:
            if (
                record.storage == 0
                and record.function is Function.INSTANTANEOUS
                and record.quantity == _TIME_POINTS[0]
                and isinstance(record.value, datetime)
            ):
                return self._utc(record.value)
        return None

    def storage_dates(self) -> dict[tuple[int, int], datetime]:
        """The date (UTC) of each ``(storage number, subunit)`` that has a date record."""
        found: dict[tuple[int, int], datetime] = {}
        for record in self.records:
            if record.storage and record.quantity in _TIME_POINTS:
                if isinstance(record.value, datetime | date):
                    found[(record.storage, record.subunit)] = self._utc(record.value)
        return found

    def historic(self) -> list[Reading]:
        """Values of storage numbers ≥ 1 that have a date, by date then OBIS code."""
        dates = self.storage_dates()
        found = []
        for record, obis, unit in self._mapping():
            if not record.storage:
                continue
            stamp = dates.get((record.storage, record.subunit)) or dates.get((record.storage, 0))
            if stamp is not None:
                found.append(self._reading(record, obis, unit, stamp))
        found.sort(key=lambda reading: (reading.timestamp, reading.obis))
        return found

    def unmapped(self) -> list[Unmapped]:
        """Records that no channel takes (manufacturer data, unknown codes, ...), with why."""
        found = []
        for record in self.records:
            if record.quantity in _TIME_POINTS:
                continue
            mapping = map_record(record, self.medium)
            if mapping.obis is None:
                found.append(Unmapped(record.index, record.raw, mapping.reason))
        return found

    def period(self) -> BillingPeriod | None:
        """Whether the storage dates are days or billing periods apart (``None``: no history)."""
        stamps = sorted(set(self.storage_dates().values()))
        if not stamps:
            return None
        if len(stamps) == 1:
            return BillingPeriod.MONTHLY
        gaps = [later - earlier for earlier, later in zip(stamps, stamps[1:], strict=False)]
        gaps.sort()
        return (
            BillingPeriod.DAILY
            if gaps[len(gaps) // 2] <= timedelta(days=2)
            else (BillingPeriod.MONTHLY)
        )

    def billing(self, start: datetime, end: datetime, period: BillingPeriod) -> BillingValues:
        """Historic values of ``period`` whose dates are in ``[start, end]``."""
        if self.period() is not period:
            return BillingValues(period, (), Quality.NOT_AVAILABLE)
        return BillingValues(
            period,
            tuple(reading for reading in self.historic() if start <= reading.timestamp <= end),
        )

    def profile(self, start: datetime, end: datetime) -> LoadProfile:
        """The historic values as columns, one channel per quantity, ends in ``(start, end]``."""
        series: dict[tuple[str, str | None], list[Reading]] = defaultdict(list)
        for reading in self.historic():
            if start < reading.timestamp <= end:
                series[(_with_f(reading.obis, 255), reading.unit)].append(reading)
        channels = []
        for (obis, unit), readings in sorted(series.items()):
            readings.sort(key=lambda reading: reading.timestamp)
            scaler = min(reading.scaler for reading in readings)
            ends = np.array(
                [int(reading.timestamp.timestamp()) for reading in readings], dtype=np.int64
            ).astype("datetime64[s]")
            values = np.array(
                [float(reading.value) * 10.0 ** (reading.scaler - scaler) for reading in readings],  # type: ignore[arg-type]
                dtype=np.float64,
            )
            channels.append(
                ProfileChannel(obis, unit, scaler, ends, values, np.zeros(len(ends), np.uint32))
            )
        if not channels:
            return LoadProfile(timedelta(0), (), Quality.NOT_AVAILABLE)
        ends = channels[0].ends
        step = timedelta(0)
        if len(ends) > 1:
            gaps = np.diff(ends.astype(np.int64))
            step = timedelta(seconds=int(np.median(gaps)))
        return LoadProfile(step, tuple(channels))


class ReadoutConnection(DriverConnection):
    """A connection whose reading actions are answered from its :meth:`readout` (a wired
    meter's answer or a wireless meter's telegram): the base of both M-Bus drivers'
    connections."""

    @abstractmethod
    def readout(self) -> Readout:
        """The meter's decoded data (each connection reads it its own way)."""

    def read_registers(self, obis_codes: Sequence[str]) -> list[Reading]:
        """Current and historic values by OBIS code; a code the meter lacks is not available."""
        codes = [canonical_obis(code, field="obis_codes") for code in obis_codes]
        readout = self.readout()
        found = {reading.obis: reading for reading in readout.current() + readout.historic()}
        return [
            found.get(code) or Reading(code, None, None, 0, readout.read_at, Quality.NOT_AVAILABLE)
            for code in codes
        ]

    def read_instantaneous(self) -> list[Reading]:
        """Every current value the meter sent (energy, volume, flow, power, temperatures, ...)."""
        return self.readout().current()

    def read_billing(
        self, start: datetime, end: datetime, period: BillingPeriod = BillingPeriod.MONTHLY
    ) -> BillingValues:
        """Historic values (storage numbers ≥ 1 with their dates) in ``[start, end]``."""
        return self.readout().billing(start, end, period)

    def read_load_profile(self, start: datetime, end: datetime) -> LoadProfile:
        """The storage numbers as columns (one channel per quantity), ends in ``(start, end]``."""
        return self.readout().profile(start, end)

    def read_events(self, start: datetime, end: datetime) -> EventLog:
        """Not offered: M-Bus meters have no standard event log."""
        raise self.unsupported(Action.READ_EVENTS)

    def read_clock(self) -> Reading:
        """The date and time record the meter sent (``04 6D``)."""
        readout = self.readout()
        moment = readout.clock()
        if moment is None:
            return Reading(CLOCK, None, None, 0, readout.read_at, Quality.NOT_AVAILABLE)
        return Reading(CLOCK, moment, None, 0, readout.read_at)
