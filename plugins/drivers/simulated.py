"""The simulated driver: a meter computed from its serial number and the time, with no network.

Every value is a pure function of the meter's serial (the address) and the timestamp, in integer
arithmetic, so it is the same on every machine and every run:

* The meter draws a power that is constant within each UTC hour and repeats weekly: the
  meter's base power (300..1999 W, from the serial's SHA-256) times a daily shape, a weekday
  factor and a per-hour variation of ±10 % (also from the serial).
* The energy registers integrate that power exactly: ``1-0:1.8.0*255`` (active import, Wh) and
  ``1-0:3.8.0*255`` (reactive, varh, 20..50 % of the active energy). Load-profile values
  (``1-0:1.29.0*255``, ``1-0:3.29.0*255``) are differences of the registers at the interval
  ends, so the intervals always add up to the register advance.
* The meter has no data from the future: intervals and events after "now" are not returned.
* Its clock runs off by a few seconds (from the serial) until :meth:`set_clock` corrects it;
  roughly one day in ten has a short power failure in the event log.

Settings (all optional):

* ``interval``: the profile period in minutes, 1, 5, 10, 15, 30 or 60 (default 15);
* ``clock_offset``: seconds the meter clock is ahead, replacing the serial's drift until the
  clock is set;
* ``missing``: comma-separated OBIS codes the meter does not have;
* ``link_lost_after``: the number of actions after which the link drops (to exercise
  reconnects);
* ``unreachable``: ``true`` makes :meth:`SimulatedDriver.connect` fail.

The entry point ``simulated`` in ``meterhub.drivers`` names :class:`SimulatedDriverPlugin`.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from meterhub import hookimpl
from meterhub.errors import InvalidValue
from meterhub.extensions.driver import (
    Action,
    Driver,
    DriverConnection,
    DriverInfo,
    EventLog,
    LinkLost,
    LoadProfile,
    MeterEvent,
    Quality,
    Reading,
)
from meterhub.extensions.medium import Medium
from meterhub.identifiers import canonical_obis

__all__ = ["SimulatedConnection", "SimulatedDriver", "SimulatedDriverPlugin", "SimulatedMeter"]

ACTIVE_ENERGY = "1-0:1.8.0*255"
REACTIVE_ENERGY = "1-0:3.8.0*255"
ACTIVE_PROFILE = "1-0:1.29.0*255"
REACTIVE_PROFILE = "1-0:3.29.0*255"
ACTIVE_POWER = "1-0:1.7.0*255"
VOLTAGE_L1 = "1-0:32.7.0*255"
CURRENT_L1 = "1-0:31.7.0*255"
SERIAL_NUMBER = "0-0:96.1.0*255"
FIRMWARE_VERSION = "1-0:0.2.0*255"
CLOCK = "0-0:1.0.0*255"
DISCONNECT_CONTROL = "0-0:96.3.10*255"
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
_INTERVALS = (1, 5, 10, 15, 30, 60)
_SETTINGS = ("interval", "clock_offset", "missing", "link_lost_after", "unreachable")
_POWER_DOWN, _POWER_UP = 1, 2


def _seconds(name: str, value: datetime) -> int:
    """Whole Unix seconds of an aware datetime (floored)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidValue(name, f"must be an aware datetime (UTC), got {value.isoformat()}")
    return int((value - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(seconds=1))


def _at(seconds: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)


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
        power = []
        for hour in range(7 * 24):
            variation = (digest[hour % 32] + 3 * digest[(5 * hour + 7) % 32]) % 21 - 10
            percent = _DAY_SHAPE[hour % 24] * _WEEKDAY_FACTOR[hour // 24] * (100 + variation)
            power.append(self.base_power * percent // 1_000_000)
        #: Power in W for each hour of the week (Monday 00:00 UTC first).
        self.hourly_power = tuple(power)
        cumulative = [0]
        for watts in power:
            cumulative.append(cumulative[-1] + watts * _HOUR)
        self._cumulative = tuple(cumulative)

    def power(self, at: int) -> int:
        """Active power in W at Unix second ``at``."""
        return self.hourly_power[((at - _WEEK_ORIGIN) % _WEEK) // _HOUR]

    def _energy_ws(self, at: int) -> int:
        """Active energy in W·s from the origin to Unix second ``at``."""
        weeks, rest = divmod(at - _WEEK_ORIGIN, _WEEK)
        hour, second = divmod(rest, _HOUR)
        return (
            weeks * self._cumulative[-1] + self._cumulative[hour] + self.hourly_power[hour] * second
        )

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
                    found.append(MeterEvent(_at(at), code, EVENT_LOG, text))
        return found


def _int_setting(settings: Mapping[str, str], key: str, default: int) -> int:
    text = settings.get(key)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise InvalidValue(f"settings.{key}", f"must be a whole number, got {text!r}") from None


class SimulatedConnection(DriverConnection):
    """A session with one simulated meter."""

    driver_name = "simulated"

    def __init__(self, driver: SimulatedDriver, serial: str, settings: Mapping[str, str]) -> None:
        self._driver = driver
        self.meter = driver.meter(serial)
        self.interval = _int_setting(settings, "interval", 15)
        if self.interval not in _INTERVALS:
            choices = ", ".join(str(value) for value in _INTERVALS)
            raise InvalidValue("settings.interval", f"must be one of {choices} minutes")
        self.missing = frozenset(
            canonical_obis(code.strip(), field="settings.missing")
            for code in settings.get("missing", "").split(",")
            if code.strip()
        )
        self._actions_left = _int_setting(settings, "link_lost_after", -1)
        self._closed = False
        if settings.get("clock_offset"):
            offset = _int_setting(settings, "clock_offset", 0)
            driver._set_clock_offset(serial, offset, only_if_unset=True)

    # -- helpers ---------------------------------------------------------------------------

    def _step(self) -> int:
        """Count one action; return the system time in Unix seconds."""
        if self._closed:
            raise LinkLost(f"the session with simulated meter {self.meter.serial} is closed")
        if self._actions_left == 0:
            raise LinkLost(f"simulated meter {self.meter.serial}: link lost (link_lost_after)")
        if self._actions_left > 0:
            self._actions_left -= 1
        return _seconds("clock", self._driver.now())

    def _register(self, obis: str, at: int) -> Reading:
        meter = self.meter
        values: dict[str, tuple[int | str | datetime, str | None, int]] = {
            ACTIVE_ENERGY: (meter.active_energy(at), "Wh", 0),
            REACTIVE_ENERGY: (meter.reactive_energy(at), "varh", 0),
            ACTIVE_POWER: (meter.power(at), "W", 0),
            VOLTAGE_L1: (meter.voltage(at), "V", -1),
            CURRENT_L1: (meter.current(at), "A", -2),
            SERIAL_NUMBER: (meter.serial, None, 0),
            FIRMWARE_VERSION: (FIRMWARE, None, 0),
            CLOCK: (self._meter_time(at), None, 0),
            DISCONNECT_CONTROL: (int(self._driver.supply_connected(meter.serial)), None, 0),
        }
        if obis in self.missing or obis not in values:
            return Reading(obis, None, None, 0, _at(at), Quality.NOT_AVAILABLE)
        value, unit, scaler = values[obis]
        return Reading(obis, value, unit, scaler, _at(at))

    def _meter_time(self, at: int) -> datetime:
        return _at(at + self._driver.clock_offset(self.meter.serial))

    # -- actions -----------------------------------------------------------------------------

    def read_load_profile(self, start: datetime, end: datetime) -> LoadProfile:
        """Both profile channels for the interval ends in ``(start, end]`` up to now."""
        first, last = _seconds("start", start), _seconds("end", end)
        now = self._step()
        period = self.interval * 60
        readings = []
        edge = (first // period + 1) * period
        while edge <= min(last, now):
            for obis, register, unit in (
                (ACTIVE_PROFILE, self.meter.active_energy, "Wh"),
                (REACTIVE_PROFILE, self.meter.reactive_energy, "varh"),
            ):
                if obis in self.missing:
                    continue
                value = register(edge) - register(edge - period)
                readings.append(Reading(obis, value, unit, 0, _at(edge)))
            edge += period
        return LoadProfile(timedelta(minutes=self.interval), tuple(readings))

    def read_registers(self, obis_codes: Sequence[str]) -> list[Reading]:
        """The registers asked for, in order; unknown or ``missing`` ones are not available."""
        codes = [canonical_obis(code, field="obis_codes") for code in obis_codes]
        now = self._step()
        return [self._register(code, now) for code in codes]

    def read_instantaneous(self) -> list[Reading]:
        """Active power, voltage and current L1 now."""
        now = self._step()
        return [self._register(code, now) for code in (ACTIVE_POWER, VOLTAGE_L1, CURRENT_L1)]

    def read_events(self, start: datetime, end: datetime) -> EventLog:
        """Power failures with timestamps in ``[start, end)`` up to now."""
        first, last = _seconds("start", start), _seconds("end", end)
        now = self._step()
        return EventLog(tuple(self.meter.events(first, min(last, now + 1))))

    def read_clock(self) -> Reading:
        """The meter time (off by the clock offset) read now."""
        now = self._step()
        return Reading(CLOCK, self._meter_time(now), None, 0, _at(now))

    def set_clock(self, time: datetime) -> Quality:
        """Set the meter clock; later connections to the same meter see it set."""
        target = _seconds("time", time)
        now = self._step()
        self._driver._set_clock_offset(self.meter.serial, target - now)
        return Quality.VALID

    def disconnect_supply(self) -> Quality:
        """Open the simulated breaker (register ``0-0:96.3.10*255`` reads 0)."""
        self._step()
        self._driver._set_supply(self.meter.serial, connected=False)
        return Quality.VALID

    def reconnect_supply(self) -> Quality:
        """Close the simulated breaker (register ``0-0:96.3.10*255`` reads 1)."""
        self._step()
        self._driver._set_supply(self.meter.serial, connected=True)
        return Quality.VALID

    def close(self) -> None:
        """End the session."""
        self._closed = True


class SimulatedDriver(Driver):
    """A driver for simulated meters; the address is the meter's serial number.

    The instance remembers, per serial, what a real meter would keep between sessions: the
    clock setting and the breaker state. ``clock`` returns the system time (default: now);
    tests pass a fixed one.
    """

    name: ClassVar[str] = "simulated"

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.now: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._meters: dict[str, SimulatedMeter] = {}
        self._clock_offsets: dict[str, int] = {}
        self._disconnected: set[str] = set()

    @classmethod
    def info(cls) -> DriverInfo:
        """Describe the simulated driver."""
        return DriverInfo(
            name=cls.name,
            description="Simulated meters: deterministic values from serial and time, no I/O",
            actions=frozenset(
                {
                    Action.READ_LOAD_PROFILE,
                    Action.READ_REGISTERS,
                    Action.READ_INSTANTANEOUS,
                    Action.READ_EVENTS,
                    Action.READ_CLOCK,
                    Action.SET_CLOCK,
                    Action.DISCONNECT_SUPPLY,
                    Action.RECONNECT_SUPPLY,
                }
            ),
            address_syntax="the meter serial number: 1..64 characters without spaces (SIM-0001)",
            settings_syntax=(
                "interval=15 (minutes: 1, 5, 10, 15, 30, 60); clock_offset=<seconds>; "
                "missing=<OBIS>,<OBIS>; link_lost_after=<actions>; unreachable=true"
            ),
            media=(),
        )

    def meter(self, serial: str) -> SimulatedMeter:
        """The simulated meter with serial ``serial`` (built once, then reused)."""
        with self._lock:
            meter = self._meters.get(serial)
            if meter is None:
                meter = self._meters[serial] = SimulatedMeter(serial)
            return meter

    def clock_offset(self, serial: str) -> int:
        """Seconds the meter's clock is ahead of the system time."""
        with self._lock:
            offset = self._clock_offsets.get(serial)
        return self.meter(serial).clock_drift if offset is None else offset

    def supply_connected(self, serial: str) -> bool:
        """Whether the meter's breaker is closed."""
        with self._lock:
            return serial not in self._disconnected

    def _set_clock_offset(self, serial: str, offset: int, *, only_if_unset: bool = False) -> None:
        with self._lock:
            if not (only_if_unset and serial in self._clock_offsets):
                self._clock_offsets[serial] = offset

    def _set_supply(self, serial: str, *, connected: bool) -> None:
        with self._lock:
            (self._disconnected.discard if connected else self._disconnected.add)(serial)

    def connect(
        self, address: str, settings: Mapping[str, str], medium: Medium | None = None
    ) -> SimulatedConnection:
        """Open a session with the simulated meter whose serial is ``address``.

        ``medium`` is ignored: the simulation needs no transport.
        """
        serial = address.strip() if isinstance(address, str) else ""
        if not serial or len(serial) > 64 or any(char.isspace() for char in serial):
            raise InvalidValue(
                "address",
                f"must be a serial number of 1..64 characters without spaces, got {address!r}",
            )
        unknown = sorted(set(settings) - set(_SETTINGS))
        if unknown:
            raise InvalidValue(
                "settings", f"unknown setting {unknown[0]!r}; known: {', '.join(_SETTINGS)}"
            )
        if settings.get("unreachable", "").lower() in ("1", "true", "yes"):
            raise LinkLost(f"simulated meter {serial} does not answer (unreachable=true)")
        return SimulatedConnection(self, serial, settings)


class SimulatedDriverPlugin:
    """The plugin object of the ``simulated`` entry point: contributes :class:`SimulatedDriver`."""

    #: The license feature that enables the simulated driver.
    feature = "driver:simulated"

    @hookimpl(trylast=True)
    def register_drivers(self) -> list[type[Driver]]:
        """Contribute the simulated driver."""
        return [SimulatedDriver]
