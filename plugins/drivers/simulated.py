"""The simulated driver: a meter computed from its serial number and the time, with no network.

Every value is a pure function of the meter's serial (the address) and the timestamp, computed by
:class:`meterhub.extensions.driverkit.SimulatedMeter` (the model every protocol simulator serves):

* The energy registers integrate that power exactly: ``1-0:1.8.0*255`` (active import, Wh) and
  ``1-0:3.8.0*255`` (reactive, varh, 20..50 % of the active energy). Load-profile values
  (``1-0:1.29.0*255``, ``1-0:3.29.0*255``, and with ``channels`` 3 and 4 the export channels
  ``1-0:2.29.0*255``, ``1-0:4.29.0*255``) are differences of the registers at the interval
  ends, computed as whole arrays (no Python loop per value), so the intervals always add up to
  the register advance.
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
* ``unreachable``: ``true`` makes :meth:`SimulatedDriver.connect` fail;
* ``channels``: profile channels, 1 to 4 (default 2);
* ``latency``: seconds per round trip (default 0: no waiting), ``connect_round_trips`` (default
  2, the association) and ``round_trips`` per action (default 1): a session with latency waits
  as a real one does, so the acquisition engine can be measured against the ideal time;
* ``hang_after``: the number of actions after which the meter stops answering without dropping
  the line (the action waits until the session is closed), as a hanging meter does.

Waits are interruptible: closing the connection (the engine's session timeout does) ends them at
once with :class:`LinkLost`.

The entry point ``simulated`` in ``meterhub.drivers`` names :class:`SimulatedDriverPlugin`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, field_validator

from meterhub import hookimpl
from meterhub.errors import InvalidValue
from meterhub.extensions.driver import (
    Action,
    BillingPeriod,
    BillingValues,
    Driver,
    DriverConnection,
    DriverInfo,
    EventLog,
    LinkLost,
    LoadLimit,
    LoadProfile,
    ProfileChannel,
    Quality,
    Reading,
)
from meterhub.extensions.driverkit import (
    FIRMWARE,
    SimulatedMeter,
    unix_seconds,
    utc_at,
)
from meterhub.extensions.medium import Medium
from meterhub.extensions.settings import PluginSettings, WholeNumber, parse_whole_number
from meterhub.identifiers import canonical_obis

__all__ = ["SimulatedConnection", "SimulatedDriver", "SimulatedDriverPlugin", "SimulatedSettings"]

ACTIVE_ENERGY = "1-0:1.8.0*255"
REACTIVE_ENERGY = "1-0:3.8.0*255"
ACTIVE_PROFILE = "1-0:1.29.0*255"
REACTIVE_PROFILE = "1-0:3.29.0*255"
EXPORT_PROFILE = "1-0:2.29.0*255"
REACTIVE_EXPORT_PROFILE = "1-0:4.29.0*255"
#: Profile channels in capture order: (OBIS, register of SimulatedMeter.registers_at, unit).
PROFILE_COLUMNS = (
    (ACTIVE_PROFILE, "active", "Wh"),
    (REACTIVE_PROFILE, "reactive", "varh"),
    (EXPORT_PROFILE, "active_export", "Wh"),
    (REACTIVE_EXPORT_PROFILE, "reactive_export", "varh"),
)
ACTIVE_POWER = "1-0:1.7.0*255"
VOLTAGE_L1 = "1-0:32.7.0*255"
CURRENT_L1 = "1-0:31.7.0*255"
SERIAL_NUMBER = "0-0:96.1.0*255"
FIRMWARE_VERSION = "1-0:0.2.0*255"
CLOCK = "0-0:1.0.0*255"
DISCONNECT_CONTROL = "0-0:96.3.10*255"
EVENT_LOG = "0-0:99.98.0*255"
#: Meter models the driver keeps (least recently read go first).
MODELS_KEPT = 4096
#: Parsed settings the driver keeps (the settings of a fleet repeat).
SETTINGS_KEPT = 64


class SimulatedSettings(PluginSettings):
    """Settings of the simulated driver (all optional)."""

    interval: Literal[1, 5, 10, 15, 30, 60] = Field(
        15, description="profile period in minutes: 1, 5, 10, 15, 30 or 60"
    )
    clock_offset: WholeNumber | None = Field(
        None, description="seconds the meter clock is ahead until the clock is set"
    )
    missing: str = Field("", description="comma-separated OBIS codes the meter does not have")
    link_lost_after: WholeNumber = Field(
        -1, ge=-1, description="actions after which the link drops (-1: never)"
    )
    unreachable: bool = Field(False, description="connect() fails as if the meter were silent")
    channels: WholeNumber = Field(2, ge=1, le=4, description="profile channels (1 to 4)")
    latency: float = Field(0.0, ge=0, le=60, description="seconds per round trip")
    connect_round_trips: WholeNumber = Field(
        2, ge=0, le=100, description="round trips to connect (with latency)"
    )
    round_trips: WholeNumber = Field(
        1, ge=0, le=1000, description="round trips per action (with latency)"
    )
    hang_after: WholeNumber = Field(
        -1, ge=-1, description="actions after which the meter stops answering (-1: never)"
    )

    @field_validator("interval", mode="before")
    @classmethod
    def _interval_number(cls, value: object) -> object:
        return parse_whole_number(value)

    @field_validator("missing")
    @classmethod
    def _obis_list(cls, value: str) -> str:
        codes = [
            canonical_obis(code.strip(), field="settings.missing")
            for code in value.split(",")
            if code.strip()
        ]
        return ",".join(codes)


class SimulatedConnection(DriverConnection):
    """A session with one simulated meter."""

    driver_name = "simulated"

    def __init__(self, driver: SimulatedDriver, serial: str, settings: SimulatedSettings) -> None:
        self._driver = driver
        self.meter = driver.meter(serial)
        self.interval = settings.interval
        self.missing = frozenset(code for code in settings.missing.split(",") if code)
        self.columns = PROFILE_COLUMNS[: settings.channels]
        self._actions_left = settings.link_lost_after
        self._hang_left = settings.hang_after
        self._latency = settings.latency
        self._round_trips = settings.round_trips
        self._closed = False
        self._closing = threading.Event()
        if settings.clock_offset is not None:
            driver._set_clock_offset(serial, settings.clock_offset, only_if_unset=True)
        self._wait(settings.connect_round_trips)

    def _wait(self, round_trips: int) -> None:
        """Wait ``round_trips`` round trips (ended at once by :meth:`close`)."""
        if self._latency and round_trips and self._closing.wait(self._latency * round_trips):
            raise LinkLost(f"the session with simulated meter {self.meter.serial} was closed")

    # -- helpers ---------------------------------------------------------------------------

    def _step(self) -> int:
        """Count one action; return the system time in Unix seconds."""
        if self._closed:
            raise LinkLost(f"the session with simulated meter {self.meter.serial} is closed")
        if self._actions_left == 0:
            raise LinkLost(f"simulated meter {self.meter.serial}: link lost (link_lost_after)")
        if self._actions_left > 0:
            self._actions_left -= 1
        if self._hang_left == 0:
            self._closing.wait()
            raise LinkLost(f"simulated meter {self.meter.serial} stopped answering (hang_after)")
        if self._hang_left > 0:
            self._hang_left -= 1
        self._wait(self._round_trips)
        return unix_seconds("clock", self._driver.now())

    def _register(self, obis: str, at: int) -> Reading:
        meter = self.meter
        values: dict[str, tuple[int | str | datetime, str | None, int]] = {
            ACTIVE_ENERGY: (meter.active_energy(at), "Wh", 0),
            REACTIVE_ENERGY: (meter.reactive_energy(at), "varh", 0),
            ACTIVE_POWER: (meter.power(at), "W", 0),
            VOLTAGE_L1: (meter.voltage(at), "V", -1),
            CURRENT_L1: (meter.current(at), "A", -2),
            SERIAL_NUMBER: (meter.serial, None, 0),
            FIRMWARE_VERSION: (self._driver.setting(meter.serial, "firmware", FIRMWARE), None, 0),
            CLOCK: (self._meter_time(at), None, 0),
            DISCONNECT_CONTROL: (int(self._driver.supply_connected(meter.serial)), None, 0),
        }
        if obis in self.missing or obis not in values:
            return Reading(obis, None, None, 0, utc_at(at), Quality.NOT_AVAILABLE)
        value, unit, scaler = values[obis]
        return Reading(obis, value, unit, scaler, utc_at(at))

    def _meter_time(self, at: int) -> datetime:
        return utc_at(at + self._driver.clock_offset(self.meter.serial))

    # -- actions -----------------------------------------------------------------------------

    def read_load_profile(self, start: datetime, end: datetime) -> LoadProfile:
        """The profile channels for the interval ends in ``(start, end]`` up to now."""
        first, last = unix_seconds("start", start), unix_seconds("end", end)
        now = self._step()
        period = self.interval * 60
        edges = np.arange((first // period + 1) * period, min(last, now) + 1, period, np.int64)
        ends = edges.astype("datetime64[s]")
        status = np.zeros(len(edges), np.uint32)
        columns = [column for column in self.columns if column[0] not in self.missing]
        if len(edges):
            at = np.empty(len(edges) + 1, np.int64)
            at[0] = edges[0] - period
            at[1:] = edges
            registers = self.meter.registers_at(at, [name for _, name, _ in columns])
        channels = [
            ProfileChannel(
                obis,
                unit,
                0,
                ends,
                (registers[name][1:] - registers[name][:-1]).astype(np.float64)
                if len(edges)
                else np.zeros(0),
                status,
            )
            for obis, name, unit in columns
        ]
        return LoadProfile(timedelta(minutes=self.interval), tuple(channels))

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
        first, last = unix_seconds("start", start), unix_seconds("end", end)
        now = self._step()
        return EventLog(tuple(self.meter.events(first, min(last, now + 1))))

    def read_clock(self) -> Reading:
        """The meter time (off by the clock offset) read now."""
        now = self._step()
        return Reading(CLOCK, self._meter_time(now), None, 0, utc_at(now))

    def set_clock(self, time: datetime) -> Quality:
        """Set the meter clock; later connections to the same meter see it set."""
        target = unix_seconds("time", time)
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

    def read_billing(
        self, start: datetime, end: datetime, period: BillingPeriod = BillingPeriod.MONTHLY
    ) -> BillingValues:
        """The import and reactive registers at the period ends (UTC midnights; monthly: the
        first of the month) in ``[start, end]`` up to now."""
        first, last = unix_seconds("start", start), unix_seconds("end", end)
        now = self._step()
        day = 86_400
        found = [
            at
            for at in range(-(-first // day) * day, min(last, now) + 1, day)
            if period is BillingPeriod.DAILY or utc_at(at).day == 1
        ]
        readings = []
        for at in found:
            stamp = utc_at(at)
            readings.append(Reading(ACTIVE_ENERGY, self.meter.active_energy(at), "Wh", 0, stamp))
            readings.append(
                Reading(REACTIVE_ENERGY, self.meter.reactive_energy(at), "varh", 0, stamp)
            )
        return BillingValues(period, tuple(readings))

    def read_load_limit(self) -> LoadLimit:
        """The simulated limiter (W): normal and emergency threshold, the normal one active."""
        self._step()
        normal, emergency = self._driver.load_limit(self.meter.serial)
        return LoadLimit(normal=normal, emergency=emergency, active=normal, unit="W")

    def set_load_limit(self, normal: float, emergency: float | None = None) -> Quality:
        """Set the limiter's thresholds (W)."""
        self._step()
        self._driver._set(self.meter.serial, "limit", (normal, emergency))
        return Quality.VALID

    def upload_tariff(self, calendar: Mapping[str, Any]) -> Quality:
        """Keep the time-of-use calendar (any JSON object with a ``name``)."""
        self._step()
        if not isinstance(calendar, Mapping) or not calendar.get("name"):
            return Quality.INVALID
        self._driver._set(self.meter.serial, "tariff", dict(calendar))
        return Quality.VALID

    def upgrade_firmware(self, image: bytes, version: str) -> Quality:
        """Take the image (one round trip per 1 KiB block); the firmware register reads
        ``version`` afterwards."""
        self._step()
        if not image:
            return Quality.INVALID
        self._wait((len(image) + 1023) // 1024)
        self._driver._set(self.meter.serial, "firmware", version)
        return Quality.VALID

    def close(self) -> None:
        """End the session (also ends a wait for a reply, from another thread)."""
        self._closed = True
        self._closing.set()


class SimulatedDriver(Driver):
    """A driver for simulated meters; the address is the meter's serial number.

    The instance remembers, per serial, what a real meter would keep between sessions: the
    clock setting and the breaker state. ``clock`` returns the system time (default: now);
    tests pass a fixed one.
    """

    name: ClassVar[str] = "simulated"
    settings_model: ClassVar[type[PluginSettings]] = SimulatedSettings

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.now: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        # The models of the meters read lately (a model is a pure function of the serial, so
        # one read long ago is simply built again): memory does not grow with the fleet.
        self._meters: OrderedDict[str, SimulatedMeter] = OrderedDict()
        self._clock_offsets: dict[str, int] = {}
        self._disconnected: set[str] = set()
        self._settings: dict[tuple[str, str], Any] = {}
        self._parsed: OrderedDict[tuple[tuple[str, str], ...], SimulatedSettings] = OrderedDict()

    def setting(self, serial: str, name: str, default: Any = None) -> Any:
        """What a session set on the meter (``firmware``, ``tariff``, ``limit``, ``relay1``...)."""
        with self._lock:
            return self._settings.get((serial, name), default)

    def load_limit(self, serial: str) -> tuple[float, float | None]:
        """The limiter thresholds (W): 10 kW normal, 15 kW emergency until set."""
        limit: tuple[float, float | None] = self.setting(serial, "limit", (10_000.0, 15_000.0))
        return limit

    def _set(self, serial: str, name: str, value: Any) -> None:
        with self._lock:
            self._settings[(serial, name)] = value

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
                    Action.READ_BILLING,
                    Action.READ_LOAD_LIMIT,
                    Action.SET_LOAD_LIMIT,
                    Action.UPLOAD_TARIFF,
                    Action.UPGRADE_FIRMWARE,
                }
            ),
            address_syntax="the meter serial number: 1..64 characters without spaces (SIM-0001)",
            settings_model=SimulatedSettings,
            media=(),
        )

    def _parse(self, settings: Mapping[str, str]) -> SimulatedSettings:
        """``settings`` parsed, from the last few parsed (a fleet shares a handful of them)."""
        try:
            key = tuple(sorted(settings.items()))
            found = self._parsed.get(key)
        except TypeError:  # values that cannot be keys: parse them every time
            return SimulatedSettings.parse(settings)
        if found is None:
            found = SimulatedSettings.parse(settings)
            with self._lock:
                self._parsed[key] = found
                if len(self._parsed) > SETTINGS_KEPT:
                    self._parsed.popitem(last=False)
        return found

    def meter(self, serial: str) -> SimulatedMeter:
        """The simulated meter with serial ``serial`` (kept while it is read now and then)."""
        with self._lock:
            meter = self._meters.get(serial)
            if meter is not None:
                self._meters.move_to_end(serial)
                return meter
        built = SimulatedMeter(serial)  # outside the lock: sessions of other meters go on
        with self._lock:
            meter = self._meters.setdefault(serial, built)
            if len(self._meters) > MODELS_KEPT:
                self._meters.popitem(last=False)
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
        parsed = self._parse(settings)
        if parsed.unreachable:
            raise LinkLost(f"simulated meter {serial} does not answer (unreachable=true)")
        return SimulatedConnection(self, serial, parsed)


class SimulatedDriverPlugin:
    """The plugin object of the ``simulated`` entry point: contributes :class:`SimulatedDriver`."""

    #: The license feature that enables the simulated driver.
    feature = "driver:simulated"

    @hookimpl(trylast=True)
    def register_drivers(self) -> list[type[Driver]]:
        """Contribute the simulated driver."""
        return [SimulatedDriver]
