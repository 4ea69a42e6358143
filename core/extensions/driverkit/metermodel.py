"""The simulated meter model: deterministic values from a serial number and the time.

Every value is a pure function of the meter's serial and the Unix second, in integer
arithmetic, so it is the same on every machine and every run. Simulators of every protocol
serve this model, and tests compute what a driver must read from it:

* The meter draws a power that is constant within each UTC hour and repeats weekly: the
  meter's base power (300..1999 W, from the serial's SHA-256) times a daily shape, a weekday
  factor and a per-hour variation of ±10 % (also from the serial).
* The energy registers integrate that power exactly: active import in Wh
  (:meth:`SimulatedMeter.active_energy`) and reactive in varh (20..50 % of the active energy).
  Load-profile values are differences of the registers at the interval ends, so intervals
  always add up to the register advance.
* Voltage and current L1 vary per quarter-hour; :attr:`SimulatedMeter.clock_drift` is how far
  the clock is off; roughly one day in ten has a short power failure
  (:meth:`SimulatedMeter.events`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from meterhub.errors import InvalidValue
from meterhub.extensions.driver import MeterEvent

__all__ = ["EVENT_LOG", "FIRMWARE", "SimulatedMeter", "unix_seconds", "utc_at"]

EVENT_LOG = "0-0:99.98.0*255"
FIRMWARE = "SIM-1.0"
#: Unix time of Monday 1970-01-05 00:00 UTC: the week the power pattern repeats from.
_WEEK_ORIGIN = 345_600
_HOUR = 3_600
_DAY = 86_400
_WEEK = 7 * _DAY
#: Power in percent of the base power, per UTC hour of the day.
_DAY_SHAPE = (45, 40, 38, 37, 38, 45, 70, 110, 120, 105, 95, 95,
              100, 95, 90, 90, 100, 125, 150, 160, 145, 120, 90, 60)  # fmt: skip
#: Percent per weekday, Monday first.
_WEEKDAY_FACTOR = (100, 100, 100, 100, 105, 85, 80)
_POWER_DOWN, _POWER_UP = 1, 2
#: The energy registers :meth:`SimulatedMeter.registers_at` knows, in this order.
REGISTERS = ("active", "reactive", "active_export", "reactive_export")
_HOURS = np.arange(7 * 24, dtype=np.int64)
_SHAPE_OF_HOUR = np.array(_DAY_SHAPE, dtype=np.int64)[_HOURS % 24]
_WEEKDAY_OF_HOUR = np.array(_WEEKDAY_FACTOR, dtype=np.int64)[_HOURS // 24]
#: Shape times weekday factor per hour of the week, and the digest bytes each hour's variation
#: draws on (worked out once: a driver builds a model per meter it reads).
_SHAPE_TIMES_WEEKDAY = _SHAPE_OF_HOUR * _WEEKDAY_OF_HOUR
_VARIATION_A = _HOURS % 32
_VARIATION_B = (5 * _HOURS + 7) % 32
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("|".join(str(part) for part in parts).encode("utf-8")).digest()


class SimulatedMeter:
    """The deterministic physics of one simulated meter, identified by its serial number."""

    def __init__(self, serial: str) -> None:
        digest = _digest(serial)
        self.serial = serial
        #: Base power in W.
        self.base_power = 300 + int.from_bytes(digest[0:2], "big") % 1700
        #: Reactive energy as percent of active energy.
        self.reactive_percent = 20 + digest[2] % 31
        #: Register value at the origin, in Wh.
        self.register_offset = int.from_bytes(digest[3:6], "big") % 5_000_000
        #: Seconds the meter clock is off until it is set.
        self.clock_drift = digest[6] % 61 - 30
        # The same integers as a loop over the 168 hours, in whole-array arithmetic.
        data = np.frombuffer(digest, dtype=np.uint8).astype(np.int64)
        variation = (data[_VARIATION_A] + 3 * data[_VARIATION_B]) % 21 + 90  # 100 ± 10
        power = self.base_power * (_SHAPE_TIMES_WEEKDAY * variation) // 1_000_000
        cumulative = np.zeros(len(power) + 1, dtype=np.int64)
        np.cumsum(power * _HOUR, out=cumulative[1:])
        self._hourly_array = power
        self._cumulative_array = cumulative
        self._week_energy = int(cumulative[-1])
        #: Percent of the active energy exported (-A) and of the reactive exported (-R).
        self.export_percent = 1 + digest[7] % 9

    @property
    def hourly_power(self) -> tuple[int, ...]:
        """Power in W for each hour of the week (Monday 00:00 UTC first)."""
        return tuple(self._hourly_array.tolist())

    def power(self, at: int) -> int:
        """Active power in W at Unix second ``at``."""
        return int(self._hourly_array[((at - _WEEK_ORIGIN) % _WEEK) // _HOUR])

    def _energy_ws(self, at: int) -> int:
        """Active energy in W·s from the origin to Unix second ``at``."""
        weeks, rest = divmod(at - _WEEK_ORIGIN, _WEEK)
        hour, second = divmod(rest, _HOUR)
        return (
            weeks * self._week_energy
            + int(self._cumulative_array[hour])
            + int(self._hourly_array[hour]) * second
        )

    def energy_ws_at(self, at: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """:meth:`_energy_ws` for an array of Unix seconds (the same integers, no loop)."""
        weeks, rest = np.divmod(np.asarray(at, dtype=np.int64) - _WEEK_ORIGIN, _WEEK)
        hour, second = np.divmod(rest, _HOUR)
        energy: npt.NDArray[np.int64] = self._cumulative_array[hour]
        energy += self._hourly_array[hour] * second
        energy += weeks * self._week_energy
        return energy

    def registers_at(
        self, at: npt.NDArray[np.int64], names: Iterable[str] = REGISTERS
    ) -> dict[str, npt.NDArray[np.int64]]:
        """The energy registers ``names`` (default all) at an array of Unix seconds: ``active``
        (+A, Wh), ``reactive`` (+R, varh), ``active_export`` (-A, Wh) and ``reactive_export``
        (-R, varh); the first two equal :meth:`active_energy` and :meth:`reactive_energy` element
        by element."""
        energy = self.energy_ws_at(at)
        found: dict[str, npt.NDArray[np.int64]] = {}
        for name in names:
            if name == "active":
                found[name] = self.register_offset + energy // _HOUR
            elif name == "reactive":
                found[name] = self.register_offset // 4 + energy * self.reactive_percent // (
                    100 * _HOUR
                )
            elif name == "active_export":
                found[name] = energy * self.export_percent // (100 * _HOUR)
            elif name == "reactive_export":
                found[name] = (
                    energy * self.export_percent * self.reactive_percent // (10_000 * _HOUR)
                )
            else:
                raise KeyError(name)
        return found

    def active_energy(self, at: int) -> int:
        """The active import register in Wh at Unix second ``at``."""
        return self.register_offset + self._energy_ws(at) // _HOUR

    def reactive_energy(self, at: int) -> int:
        """The reactive register in varh at Unix second ``at``."""
        return self.register_offset // 4 + self._energy_ws(at) * self.reactive_percent // (
            100 * _HOUR
        )

    def voltage(self, at: int) -> int:
        """Voltage L1 in 0.1 V, varying per quarter-hour."""
        return 2300 + _digest(self.serial, "voltage", at // 900)[0] % 101 - 50

    def current(self, at: int) -> int:
        """Current L1 in 0.01 A, from power and voltage."""
        return self.power(at) * 1000 // self.voltage(at)

    def events(self, start: int, end: int) -> list[MeterEvent]:
        """Power-down/up events with Unix seconds in ``[start, end)``."""
        found = []
        for day in range(start // _DAY - 1, end // _DAY + 1):
            digest = _digest(self.serial, "outage", day)
            if digest[0] % 10:
                continue
            down = day * _DAY + int.from_bytes(digest[1:4], "big") % _DAY
            up = down + 60 * (5 + digest[4] % 60)
            for at, code, text in ((down, _POWER_DOWN, "Power down"), (up, _POWER_UP, "Power up")):
                if start <= at < end:
                    found.append(MeterEvent(utc_at(at), code, EVENT_LOG, text))
        return found


def unix_seconds(name: str, value: datetime) -> int:
    """Whole Unix seconds of an aware datetime (floored); :class:`InvalidValue` for a naive one."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidValue(name, f"must be an aware datetime (UTC), got {value.isoformat()}")
    return int((value - _EPOCH) // _SECOND)


def utc_at(seconds: int) -> datetime:
    """The aware UTC datetime of Unix second ``seconds``."""
    return _EPOCH + timedelta(seconds=seconds)
