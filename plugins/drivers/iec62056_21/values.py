"""From data sets to readings: which group is the value, which the time, what a code means.

Shared by the mode C driver (data readouts) and the push driver (P1 telegrams, mode D). The
rules, all by OBIS code as the meter gives it (A and B kept):

* **Value and time.** A data set with several groups carries a value and the time it applies
  to, in either order: ``1.6.0(2.5*kW)(26-02-15 12:15)`` and P1's
  ``1-0:1.6.0(260215121500W)(02.500*kW)``. The first group without a unit that reads as a
  timestamp is the time; the first other group is the value. Lists and profiles (C = 98, 99)
  keep their first group.
* **Identifiers keep their text.** Device ids and serial numbers (C = 0, D = 0: ``0.0.0``),
  firmware and version codes (C = 0, D = 2: ``0.2.0``, P1's ``1-3:0.2.8``), service entries
  (C = 96, D = 1: ``C.1.0``, ``96.1.0``, ``0-1:96.1.0``), messages and the tariff indicator
  (``96.13``, ``96.14``) and error registers (C = 97: ``F.F``) are text, leading zeros
  included: ``0.0.0(00012345)`` is ``"00012345"``, never 12345.
* **Measurements are not counters.** :func:`is_measurement` is true for instantaneous values
  (D = 7) and the current and last averages (D = 24, 25, 27, 28) of the electrical quantities
  (voltages, currents, power factor, frequency, angles), of a medium (A ≠ 0), for the current
  period (F = 255), never with an energy unit (``Wh``, ``varh``...).
* **The clock** is ``0-B:1.0.0`` when the meter gives it, else date ``A-B:0.9.2`` and time
  ``A-B:0.9.1`` on any channel (channel 0 first).
* **Billing values** are the codes with a billing period (``1.8.0*12``, ``1.8.0&12``); the
  period ends at the time stamp ``A-B:0.1.2*12`` of the same period.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo

from meterhub.extensions.driver import BillingPeriod, BillingValues, Quality, Reading
from meterhub.identifiers import ObisCode
from meterhub.plugins.drivers.iec62056_21.protocol import (
    DataSet,
    DataValue,
    number,
    parse_date_time,
    parse_timestamp,
)

__all__ = [
    "CLOCK",
    "Readout",
    "is_identifier",
    "is_measurement",
    "reading_of",
    "value_and_time",
]

CLOCK = "0-0:1.0.0*255"
_NOT_USED = 255
#: Electrical quantities whose averages are measurements too (IEC 62056-61 value group C):
#: any-phase and per-phase current and voltage, power factor, frequency, angles, neutral.
_MEASURED_QUANTITIES = frozenset(
    {11, 12, 13, 14, 31, 32, 33, 51, 52, 53, 71, 72, 73, 81, 90, 91, 92}
)
#: Value group D of current and last averages (3 and 5).
_AVERAGES = frozenset({24, 25, 27, 28})


def is_identifier(code: ObisCode | None) -> bool:
    """Whether the code holds an identifier whose text must be kept as it is."""
    if code is None:
        return False
    if code.c == 0:
        return code.d in (0, 2)
    if code.c == 96:
        return code.d in (1, 13, 14)
    return code.c == 97


def is_measurement(code: ObisCode | None, unit: str | None = None) -> bool:
    """Whether the code is an instantaneous or averaged measurement (not a counter)."""
    if code is None or code.a == 0 or code.f != _NOT_USED or code.c == 0 or code.c >= 94:
        return False
    if unit is not None and unit.lower().endswith("h"):
        return False  # Wh, kvarh, VAh, Ah: a counter whatever D says
    return code.d == 7 or (code.c in _MEASURED_QUANTITIES and code.d in _AVERAGES)


def value_and_time(dataset: DataSet, zone: tzinfo) -> tuple[DataValue | None, datetime | None]:
    """The value group of a data set and the time it applies to (``None`` if it has none)."""
    values = dataset.values
    if not values:
        return None, None
    if len(values) == 1 or (dataset.code is not None and dataset.code.c in (98, 99)):
        return values[0], None
    time_index = None
    moment = None
    for index, group in enumerate(values):
        if group.unit is None:
            moment = parse_timestamp(group.text, zone)
            if moment is not None:
                time_index = index
                break
    if time_index is None:
        return values[0], None
    value = values[1] if time_index == 0 else values[0]
    return value, moment


def reading_of(dataset: DataSet, obis: str, default_time: datetime, zone: tzinfo) -> Reading:
    """The :class:`Reading` of a data set, under the code ``obis``.

    Numbers are exact (``001234.567*kWh`` is 1234567 with scaler -3); identifiers and
    anything that is not a number stay text; an error value is ``not_available``.
    """
    if dataset.is_error:
        return Reading(obis, None, None, 0, default_time, Quality.NOT_AVAILABLE)
    value, moment = value_and_time(dataset, zone)
    if value is None:
        return Reading(obis, None, None, 0, default_time, Quality.NOT_AVAILABLE)
    stamp = default_time if moment is None else moment.astimezone(UTC)
    if is_identifier(dataset.code):
        return Reading(obis, value.text, value.unit, 0, stamp)
    parsed = number(value.text)
    if parsed is None:
        return Reading(obis, value.text, value.unit, 0, stamp)
    return Reading(obis, parsed[0], value.unit, parsed[1], stamp)


class Readout:
    """The data sets of one readout or telegram, read at ``read_at`` (system time, UTC)."""

    def __init__(self, datasets: Iterable[DataSet], zone: tzinfo, read_at: datetime) -> None:
        self.datasets = list(datasets)
        self.zone = zone
        self.read_at = read_at
        self.by_obis: dict[str, DataSet] = {}
        for dataset in self.datasets:
            if dataset.obis is not None:
                self.by_obis.setdefault(dataset.obis, dataset)

    def missing(self, obis: str) -> Reading:
        """The ``not_available`` reading of a code the readout lacks."""
        return Reading(obis, None, None, 0, self.read_at, Quality.NOT_AVAILABLE)

    def register(self, obis: str) -> Reading:
        """The reading of ``obis`` (canonical), ``not_available`` when the readout lacks it."""
        dataset = self.by_obis.get(obis)
        if dataset is None:
            return self.missing(obis)
        return reading_of(dataset, obis, self.read_at, self.zone)

    def instantaneous(self, datasets: Iterable[DataSet] | None = None) -> list[Reading]:
        """The measurements (see :func:`is_measurement`) in readout order."""
        found = []
        seen = set()
        for dataset in self.datasets if datasets is None else datasets:
            if dataset.obis is None or dataset.obis in seen or dataset.is_error:
                continue
            value, _ = value_and_time(dataset, self.zone)
            if value is None or not is_measurement(dataset.code, value.unit):
                continue
            seen.add(dataset.obis)
            found.append(reading_of(dataset, dataset.obis, self.read_at, self.zone))
        return found

    def _clock_parts(self) -> tuple[DataSet | None, DataSet | None, DataSet | None]:
        clock = date = time = None
        for dataset in sorted(
            (d for d in self.datasets if d.code is not None), key=lambda d: d.code.b != 0
        ):
            code = dataset.code
            assert code is not None
            if code.a == 0 and (code.c, code.d, code.e) == (1, 0, 0) and clock is None:
                clock = dataset
            elif (code.c, code.d, code.e) == (0, 9, 1) and time is None:
                time = dataset
            elif (code.c, code.d, code.e) == (0, 9, 2) and date is None:
                date = dataset
        return clock, date, time

    def clock(self) -> Reading:
        """The meter time (see the module notes); ``not_available`` or ``invalid`` otherwise."""
        clock, date, time = self._clock_parts()
        if clock is not None and clock.value is not None:
            moment = parse_timestamp(clock.value.text, self.zone)
            if moment is not None:
                return Reading(CLOCK, moment.astimezone(UTC), None, 0, self.read_at)
        if date is None or time is None or date.value is None or time.value is None:
            if clock is not None:
                return Reading(CLOCK, None, None, 0, self.read_at, Quality.INVALID)
            return self.missing(CLOCK)
        moment = parse_date_time(date.value.text, time.value.text, self.zone)
        if moment is None:
            return Reading(CLOCK, None, None, 0, self.read_at, Quality.INVALID)
        return Reading(CLOCK, moment.astimezone(UTC), None, 0, self.read_at)

    def billing(
        self, start: datetime, end: datetime, period: BillingPeriod = BillingPeriod.MONTHLY
    ) -> BillingValues:
        """The historical values (``*VZ``) whose billing period ended in ``[start, end]``.

        Each value is a reading of the register's current code (F = 255) stamped with the end
        of its billing period, ``A-B:0.1.2*VZ``. Values of a period without that time stamp
        cannot be placed and are left out. A readout has no daily values: ``DAILY`` is
        ``not_available``.
        """
        kind = BillingPeriod(period)
        if kind is not BillingPeriod.MONTHLY:
            return BillingValues(kind, (), Quality.NOT_AVAILABLE)
        ends: dict[int, datetime] = {}
        historical: list[DataSet] = []
        for dataset in self.datasets:
            code = dataset.code
            if code is None or code.f == _NOT_USED:
                continue
            if (code.c, code.d, code.e) == (0, 1, 2):
                if dataset.value is not None:
                    moment = parse_timestamp(dataset.value.text, self.zone)
                    if moment is not None:
                        ends.setdefault(code.f, moment.astimezone(UTC))
            elif code.c != 0:
                historical.append(dataset)
        if not historical:
            return BillingValues(kind, (), Quality.NOT_AVAILABLE)
        low, high = start.astimezone(UTC), end.astimezone(UTC)
        found = []
        placed = False
        for dataset in historical:
            code = dataset.code
            assert code is not None
            closed = ends.get(code.f)
            if closed is None:
                continue
            placed = True
            if low <= closed <= high:
                current = str(ObisCode(code.a, code.b, code.c, code.d, code.e, _NOT_USED))
                reading = reading_of(dataset, current, closed, self.zone)
                # the period's end, not a time of its own (a maximum's moment), places it
                found.append(
                    Reading(
                        current,
                        reading.value,
                        reading.unit,
                        reading.scaler,
                        closed,
                        reading.quality,
                    )
                )
        found.sort(key=lambda reading: (reading.timestamp, reading.obis))
        return BillingValues(kind, tuple(found), Quality.VALID if placed else Quality.NOT_AVAILABLE)
