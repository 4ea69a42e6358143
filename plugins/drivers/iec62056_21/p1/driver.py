"""The ``p1`` driver: meters that push their readings (DSMR P1, e-MUCS, IEC 62056-21 mode D).

The meter sends a telegram every second (DSMR 5.0, e-MUCS) or every ten seconds (DSMR 2.2 to
4.x) while its request line is raised, or when its button is pressed (mode D); the driver
never sends anything. Address: the serial device of the P1 cable (``/dev/ttyUSB0``) or
``host:port`` of a TCP serial bridge (ser2net, a P1 dongle); with a medium given, whatever it
takes. When the driver opens the serial line itself it uses 115200 Bd 8N1 (DSMR 4 and later)
unless the settings say otherwise: DSMR 2.2/3.0 need ``baudrate=9600 bytesize=7 parity=E``,
mode D ``baudrate=2400 bytesize=7 parity=E``.

The first action of a connection drops what the line buffered, waits (``timeout``) for the
next telegram to begin, reads it with the inter-character time-out, checks it (CRC16 of DSMR 4+,
BCC of mode D) and keeps it: every action of the connection answers from that telegram.
:meth:`P1Connection.next_telegram` reads a fresh one. The electricity meter's values come from
``read_registers``, ``read_instantaneous``, ``read_clock``, ``read_billing`` (e-MUCS monthly
maxima) and ``read_events`` (the power failure log); the gas and water meters on its M-Bus
channels from ``read_submeters``, one :class:`~meterhub.extensions.driver.Submeter` each.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import Field, field_validator

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
    MeterTimeout,
    Quality,
    Reading,
    Submeter,
)
from meterhub.extensions.driverkit import (
    PluginSettings,
    open_line,
    take_pending,
    unread,
)
from meterhub.extensions.medium import Medium
from meterhub.identifiers import canonical_obis
from meterhub.plugins.drivers.iec62056_21.link import Timing, read_answer, skip_until
from meterhub.plugins.drivers.iec62056_21.p1.meters import TelegramMeters
from meterhub.plugins.drivers.iec62056_21.p1.telegram import (
    MAX_TELEGRAM,
    Telegram,
    parse_telegram,
)
from meterhub.plugins.drivers.iec62056_21.protocol import (
    ETX,
    STX,
    Iec21ParseError,
    obis_of,
    parse_identification,
)
from meterhub.plugins.drivers.iec62056_21.settings import check_zone, zone_of

__all__ = ["P1Connection", "P1Driver", "P1Settings"]

#: The line of a DSMR 4 and later P1 port.
_P1_LINE = {"baudrate": "115200", "bytesize": "8", "parity": "N", "stopbits": "1"}


class P1Settings(PluginSettings):
    """Settings of the ``p1`` driver."""

    timeout: float = Field(
        12.0,
        ge=0.1,
        le=600,
        description="seconds to wait for a telegram to begin (DSMR 4 pushes every 10 s)",
    )
    inter_character_timeout: float = Field(
        1.5, ge=0.01, le=60, description="seconds of silence within a telegram that end it"
    )
    require_crc: bool = Field(
        False, description="refuse telegrams without a CRC (DSMR 4 and later always send one)"
    )
    timezone: str = Field(
        "Europe/Amsterdam", description="IANA zone of the telegram times (S/W marks DST)"
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_zone(value)


def _aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidValue(name, "must be an aware datetime (UTC)")


class P1Connection(DriverConnection):
    """Telegrams from one push meter over an open medium."""

    driver_name = "p1"

    def __init__(self, medium: Medium, settings: P1Settings, *, owns_medium: bool = False) -> None:
        self.medium = medium
        #: Whether the connection opened the medium itself and closes it with the session.
        self.owns_medium = owns_medium
        self.settings = settings
        self.zone = zone_of(settings.timezone)
        self.timing = Timing(settings.inter_character_timeout, settings.inter_character_timeout)
        self._synchronised = False
        self._meters: TelegramMeters | None = None
        #: The last telegram read (``None`` before the first).
        self.last_telegram: Telegram | None = None

    # -- reading telegrams -----------------------------------------------------------------------

    def _begin(self, deadline: float) -> bytes:
        """Wait for a telegram's identification line; skip a partial telegram's tail."""
        while True:
            left = deadline - time.monotonic()
            try:
                skip_until(self.medium, b"/", max(left, 0.0), what="P1 telegram")
            except MeterTimeout as exc:
                raise MeterTimeout(
                    f"P1: no telegram began within {self.settings.timeout:g} s (is the request "
                    "line raised, the baud rate right, the P1 port open?)",
                    frame=exc.frame,
                ) from None
            line = read_answer(
                self.medium, b"\n", self.timing, max_size=256, what="P1 identification"
            )
            try:
                parse_identification(line)
            except Iec21ParseError:
                # a '/' inside a telegram the connection joined midway: look for the next one
                unread(self.medium, line[1:])
                continue
            return line

    def next_telegram(self) -> Telegram:
        """Read, check and keep the next telegram the meter pushes.

        :raises MeterTimeout: no telegram began within ``timeout``, or one stopped midway.
        :raises TelegramError: a CRC or BCC mismatch, a missing CRC with ``require_crc``, or a
            malformed line (a :class:`~meterhub.extensions.driver.ProtocolError`).
        """
        if not self._synchronised:
            discard = getattr(self.medium, "discard_input", None)
            if discard is not None:
                discard()  # what the line buffered before the session is stale
            take_pending(self.medium, MAX_TELEGRAM * 4)
            self._synchronised = True
        head = self._begin(time.monotonic() + self.settings.timeout)
        body = read_answer(
            self.medium, b"!", self.timing, max_size=MAX_TELEGRAM, what="P1 telegram", started=True
        )
        if STX in body:  # mode D: the data message ends with ETX and a BCC
            tail = read_answer(
                self.medium, ETX, self.timing, extra=1, max_size=64, what="mode D end", started=True
            )
        else:
            tail = read_answer(
                self.medium, b"\n", self.timing, max_size=16, what="P1 CRC line", started=True
            )
        received = datetime.now(UTC)
        telegram = parse_telegram(head + body + tail, require_crc=self.settings.require_crc)
        self.last_telegram = telegram
        self._meters = TelegramMeters(telegram.datasets, self.zone, received)
        if self.medium.trace is not None:
            version = f" CRC {telegram.crc:04X}" if telegram.crc is not None else ""
            self.medium.trace.note(
                f"{telegram.kind} telegram of {len(telegram.raw)} bytes from "
                f"{telegram.identification.manufacturer} {telegram.identification.identification}"
                f"{version}"
            )
        return telegram

    def meters(self) -> TelegramMeters:
        """The meters of the connection's telegram (read at the first call)."""
        if self._meters is None:
            self.next_telegram()
        assert self._meters is not None
        return self._meters

    # -- the electricity meter ---------------------------------------------------------------

    def read_registers(self, obis_codes: Sequence[str]) -> list[Reading]:
        """Registers of the telegram (any channel); codes it lacks are ``not_available``."""
        codes = [obis_of(code) or canonical_obis(code, field="obis_codes") for code in obis_codes]
        meters = self.meters()
        return [meters.register(code) for code in codes]

    def read_instantaneous(self) -> list[Reading]:
        """The electricity meter's measurements (power, voltages, currents)."""
        return self.meters().instantaneous()

    def read_clock(self) -> Reading:
        """The telegram's time stamp ``0-0:1.0.0`` (``not_available`` in DSMR 2.2)."""
        return self.meters().clock()

    def read_billing(
        self, start: datetime, end: datetime, period: BillingPeriod = BillingPeriod.MONTHLY
    ) -> BillingValues:
        """Monthly maximum demand history (e-MUCS ``0-0:98.1.0``) with period ends in
        ``[start, end]``; ``not_available`` when the telegram has none."""
        _aware("start", start)
        _aware("end", end)
        return self.meters().billing(start, end, period)

    def read_events(self, start: datetime, end: datetime) -> EventLog:
        """Power down/up of the failures in the power failure log ``1-0:99.97.0``."""
        _aware("start", start)
        _aware("end", end)
        return self.meters().events(start, end)

    def read_submeters(self) -> list[Submeter]:
        """The gas, water and heat meters on the M-Bus channels, each a meter of its own."""
        return self.meters().submeters()

    # -- not offered by push meters --------------------------------------------------------------

    def read_load_profile(self, start: datetime, end: datetime) -> LoadProfile:
        """Not offered: a P1 port pushes current values only."""
        raise self.unsupported(Action.READ_LOAD_PROFILE)

    def set_clock(self, time: datetime) -> Quality:
        """Not offered: a P1 port only sends."""
        raise self.unsupported(Action.SET_CLOCK)

    def close(self) -> None:
        """End the connection; close the medium when the connection opened it."""
        self._meters = None
        if self.owns_medium:
            self.medium.close()


class P1Driver(Driver):
    """Push meters: DSMR P1 (2.2 to 5.0), the Belgian e-MUCS variant, IEC 62056-21 mode D."""

    name: ClassVar[str] = "p1"
    settings_model: ClassVar[type[PluginSettings]] = P1Settings

    @classmethod
    def info(cls) -> DriverInfo:
        """Describe the P1 driver."""
        return DriverInfo(
            name=cls.name,
            description="DSMR P1 / e-MUCS telegrams and IEC 62056-21 mode D (push, CRC checked)",
            actions=frozenset(
                {
                    Action.READ_REGISTERS,
                    Action.READ_INSTANTANEOUS,
                    Action.READ_CLOCK,
                    Action.READ_BILLING,
                    Action.READ_EVENTS,
                    Action.READ_SUBMETERS,
                }
            ),
            address_syntax="a serial device (/dev/ttyUSB0) or host:port of a TCP serial bridge",
            settings_model=P1Settings,
            media=("serial", "tcp"),
        )

    def connect(
        self, address: str, settings: Mapping[str, Any], medium: Medium | None = None
    ) -> P1Connection:
        """Prepare reading telegrams (opening the line when no medium is given).

        Settings are checked before any line is opened.
        """
        line = open_line(
            address,
            settings,
            P1Settings,
            medium,
            serial_defaults=_P1_LINE,
            timeout=lambda options: min(options.timeout, 10.0),
        )
        return P1Connection(line.medium, line.options, owns_medium=line.owned)
