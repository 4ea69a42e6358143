"""The ``iec62056_21`` driver: IEC 62056-21 mode C over a serial line, optical probe or TCP.

Address: the serial device (``/dev/ttyUSB0``) or ``host:port`` for a meter behind a TCP
converter; with a medium given, whatever it takes. Settings (:class:`IecSettings`, every one
in ``docs/drivers/iec62056-21.md``): ``device_address``, ``password``, ``max_baudrate``,
``timeout`` (the meter's reaction), ``inter_character_timeout``, ``reaction_time``,
``timezone``, and the serial line when the driver opens it itself (``baudrate`` 300,
``bytesize`` 7, ``parity`` ``E``, ``stopbits`` 1).

Each action is one protocol session (:class:`~.session.IecSession`): sign-on at the initial
rate, identification, option select, and both sides switch to the agreed rate. Registers,
instantaneous values, the clock and billing values come from the data readout (one per
connection, reused); setting the clock (``W1`` of ``0.9.1``/``0.9.2``) and the load profile
(``R5`` of ``P.01(start;end)``) use programming mode with the password. A NAK to the password
raises :class:`~meterhub.extensions.driver.AuthenticationFailed`; a bad block check or a
malformed block :class:`~meterhub.extensions.driver.ProtocolError`; a meter that does not
react, or falls silent mid-answer, :class:`~meterhub.extensions.driver.MeterTimeout`. The event
log is not offered (``P.98`` layouts differ between makers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from meterhub.errors import InvalidValue
from meterhub.extensions.driver import (
    Action,
    BillingPeriod,
    BillingValues,
    Driver,
    DriverConnection,
    DriverInfo,
    EventLog,
    LoadProfile,
    Quality,
    Reading,
)
from meterhub.extensions.driverkit import PluginSettings, open_line
from meterhub.extensions.medium import Medium
from meterhub.identifiers import canonical_obis
from meterhub.plugins.drivers.iec62056_21.loadprofile import profile_from_block
from meterhub.plugins.drivers.iec62056_21.protocol import (
    ACK,
    NAK,
    Identification,
    obis_of,
    parse_data_block,
)
from meterhub.plugins.drivers.iec62056_21.session import IecSession
from meterhub.plugins.drivers.iec62056_21.settings import IecSettings
from meterhub.plugins.drivers.iec62056_21.values import Readout

__all__ = ["IecConnection", "IecDriver", "IecSettings"]

#: The line a mode C meter signs on with (IEC 62056-21: 300 Bd, 7 data bits, even parity).
_SIGN_ON_LINE = {"baudrate": "300", "bytesize": "7", "parity": "E", "stopbits": "1"}


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidValue(name, "must be an aware datetime (UTC)")


class IecConnection(DriverConnection):
    """Sessions with one IEC 62056-21 meter over an open medium."""

    driver_name = "iec62056_21"

    def __init__(self, medium: Medium, settings: IecSettings, *, owns_medium: bool = False) -> None:
        self.medium = medium
        #: Whether the connection opened the medium itself and closes it with the session.
        self.owns_medium = owns_medium
        self.session = IecSession(medium, settings)
        self.zone = self.session.zone
        self._readout: Readout | None = None

    @property
    def identification(self) -> Identification | None:
        """The meter's last identification message (``None`` before the first session)."""
        return self.session.identification

    # -- the data readout ------------------------------------------------------------------------

    def readout(self) -> Readout:
        """The data readout (mode 0), read once per connection."""
        if self._readout is None:
            body = self.session.readout()
            self._readout = Readout(parse_data_block(body), self.zone, _now())
        return self._readout

    def read_registers(self, obis_codes: Sequence[str]) -> list[Reading]:
        """Registers from the readout; codes it lacks are ``not_available``.

        Codes as meters print them are accepted (``1.8.0``, ``C.1.0``, ``1.8.0*12``).
        """
        codes = [obis_of(code) or canonical_obis(code, field="obis_codes") for code in obis_codes]
        readout = self.readout()
        return [readout.register(code) for code in codes]

    def read_instantaneous(self) -> list[Reading]:
        """The measurements of the readout (voltages, currents, power, frequency, power
        factor: instantaneous values and averages), never the energy counters."""
        return self.readout().instantaneous()

    def read_clock(self) -> Reading:
        """Meter time from ``0-0:1.0.0`` or ``0.9.2`` (date) and ``0.9.1`` (time), any channel."""
        return self.readout().clock()

    def read_billing(
        self, start: datetime, end: datetime, period: BillingPeriod = BillingPeriod.MONTHLY
    ) -> BillingValues:
        """Historical values of the readout (``1.8.0*12``, ``1.8.0&12``) whose billing period
        ended (``0.1.2*12``) in ``[start, end]``; ``DAILY`` is ``not_available``."""
        _aware("start", start)
        _aware("end", end)
        return self.readout().billing(start, end, period)

    # -- programming mode --------------------------------------------------------------------

    def set_clock(self, time: datetime) -> Quality:
        """Programming mode: write date (``0.9.2``) and time (``0.9.1``) in the meter's zone."""
        _aware("time", time)
        local = time.astimezone(self.zone)
        self.session.login()
        try:
            for address, text in (("0.9.2", f"{local:%y-%m-%d}"), ("0.9.1", f"{local:%H:%M:%S}")):
                if self.session.command("W1", f"{address}({text})", f"W1 {address}") != ACK:
                    return Quality.ACCESS_DENIED
        finally:
            self.session.end()
        self._readout = None
        return Quality.VALID

    def read_load_profile(self, start: datetime, end: datetime) -> LoadProfile:
        """``R5`` of ``P.01(start;end)`` (programming mode): intervals ending in (start, end]."""
        _aware("start", start)
        _aware("end", end)
        first, last = start.astimezone(self.zone), end.astimezone(self.zone)
        self.session.login()
        try:
            body = self.session.command(
                "R5", f"P.01({first:%y%m%d%H%M};{last:%y%m%d%H%M})", "load profile"
            )
        finally:
            self.session.end()
        if body in (ACK, NAK):
            return LoadProfile(timedelta(minutes=15), (), Quality.NOT_AVAILABLE)
        return profile_from_block(parse_data_block(body), start, end, self.zone)

    def read_events(self, start: datetime, end: datetime) -> EventLog:
        """Not offered: ``P.98`` event logs differ between manufacturers."""
        raise self.unsupported(Action.READ_EVENTS)

    def close(self) -> None:
        """End the connection; close the medium when the connection opened it."""
        self._readout = None
        if self.owns_medium:
            self.medium.close()


class IecDriver(Driver):
    """IEC 62056-21 mode C meters (optical probe, RS-485, TCP converters)."""

    name: ClassVar[str] = "iec62056_21"
    settings_model: ClassVar[type[PluginSettings]] = IecSettings

    @classmethod
    def info(cls) -> DriverInfo:
        """Describe the IEC 62056-21 driver."""
        return DriverInfo(
            name=cls.name,
            description="IEC 62056-21 mode C: readout, baud switch, programming mode (pyserial)",
            actions=frozenset(
                {
                    Action.READ_REGISTERS,
                    Action.READ_INSTANTANEOUS,
                    Action.READ_CLOCK,
                    Action.SET_CLOCK,
                    Action.READ_LOAD_PROFILE,
                    Action.READ_BILLING,
                }
            ),
            address_syntax="a serial device (/dev/ttyUSB0) or host:port of a TCP converter",
            settings_model=IecSettings,
            media=("serial", "modem", "tcp"),
        )

    def connect(
        self, address: str, settings: Mapping[str, Any], medium: Medium | None = None
    ) -> IecConnection:
        """Open the line (when no medium is given) and prepare sessions with the meter.

        Settings are checked before any line is opened. The driver's own serial line signs on
        at 300 Bd 7E1 unless the settings say otherwise.
        """
        line = open_line(address, settings, IecSettings, medium, serial_defaults=_SIGN_ON_LINE)
        return IecConnection(line.medium, line.options, owns_medium=line.owned)
