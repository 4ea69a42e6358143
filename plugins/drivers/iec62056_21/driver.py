"""The ``iec62056_21`` driver: IEC 62056-21 mode C over a serial line, optical probe or TCP.

Address: the serial device (``/dev/ttyUSB0``) or ``host:port`` for a meter behind a TCP
converter; with a medium given, whatever it takes. Settings:

* ``device_address``: the meter address sent in ``/?<address>!`` (default empty: any meter);
* ``password``: for programming mode (``P1``), needed to set the clock and read the profile;
* ``max_baudrate``: the highest rate to switch to (default 19200; the meter's offer caps it);
* ``timeout``: seconds for each answer (default 3);
* ``reaction_time``: seconds to wait before the option select (default: 0.02 when the meter
  announces the 20 ms flag, else 0.2);
* ``timezone``: the zone the meter clock and timestamps are in (IANA name, default ``UTC``);
* the serial line when the driver opens it itself: ``baudrate`` (300), ``bytesize`` (7),
  ``parity`` (``E``), ``stopbits`` (1).

Each action is one protocol session: sign-on at the initial rate, identification, option
select, and both sides switch to the agreed rate (the driver through ``set_baudrate`` of the
medium). Registers, instantaneous values and the clock come from the data readout (one readout
per connection, reused); setting the clock (``W1`` of ``0.9.1``/``0.9.2``) and the load profile
(``R5`` of ``P.01(start;end)``) use programming mode with the password. A NAK to the password
raises :class:`~meterhub.extensions.driver.AuthenticationFailed`; a bad block check or a
malformed block :class:`~meterhub.extensions.driver.ProtocolError`; silence
:class:`~meterhub.extensions.driver.MeterTimeout`. The event log is not offered (``P.98`` layouts
differ between makers).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from pydantic import Field, field_validator

from meterhub.errors import InvalidValue
from meterhub.extensions.driver import (
    Action,
    AuthenticationFailed,
    Driver,
    DriverConnection,
    DriverInfo,
    EventLog,
    LoadProfile,
    ProfileChannel,
    ProtocolError,
    Quality,
    Reading,
)
from meterhub.extensions.driverkit import (
    PluginSettings,
    WholeNumber,
    open_medium,
    read_exactly,
    read_until,
    secret,
    split_settings,
)
from meterhub.extensions.medium import Medium
from meterhub.identifiers import canonical_obis
from meterhub.plugins.drivers.iec62056_21.protocol import (
    ACK,
    BAUD_CHARS,
    ETX,
    NAK,
    DataSet,
    Identification,
    break_frame,
    check_block,
    command_frame,
    number,
    obis_of,
    option_select,
    parse_data_block,
    parse_identification,
    parse_timestamp,
    sign_on,
)

__all__ = ["IecConnection", "IecDriver", "IecSettings"]

CLOCK = "0-0:1.0.0*255"
_MAX_BLOCK = 256 * 1024
#: The line a mode C meter signs on with (IEC 62056-21: 300 Bd, 7 data bits, even parity).
_SIGN_ON_LINE = {"baudrate": "300", "bytesize": "7", "parity": "E", "stopbits": "1"}


class IecSettings(PluginSettings):
    """Settings of the ``iec62056_21`` driver."""

    device_address: str = Field(
        "", max_length=32, description="the meter address sent in /?<address>! (empty: any)"
    )
    password: str | None = secret(max_length=32, description="programming-mode password (P1)")
    max_baudrate: WholeNumber = Field(
        19200, ge=300, description="the highest rate to switch to (the meter's offer caps it)"
    )
    timeout: float = Field(3.0, ge=0.01, le=600, description="seconds for each answer")
    reaction_time: float | None = Field(
        None, ge=0, le=10, description="seconds before the option select (default 0.02 or 0.2)"
    )
    timezone: str = Field("UTC", description="IANA zone of the meter clock and timestamps")

    @field_validator("device_address")
    @classmethod
    def _address(cls, value: str) -> str:
        sign_on(value)  # raises InvalidValue for characters the protocol cannot carry
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if value != "UTC":
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r}") from None
        return value


def _now() -> datetime:
    return datetime.now(UTC)


class IecConnection(DriverConnection):
    """Sessions with one IEC 62056-21 meter over an open medium."""

    driver_name = "iec62056_21"

    def __init__(self, medium: Medium, settings: IecSettings) -> None:
        self.medium = medium
        self.device_address = settings.device_address
        self.password = settings.password or ""
        self.max_baudrate = settings.max_baudrate
        self.timeout = settings.timeout
        self.reaction_time = settings.reaction_time
        self.zone: tzinfo = UTC if settings.timezone == "UTC" else ZoneInfo(settings.timezone)
        line = getattr(medium, "line", None)
        self.initial_baudrate: int | None = getattr(line, "baudrate", None)
        self.identification: Identification | None = None
        self._readout: list[DataSet] | None = None
        self._read_at: datetime | None = None

    # -- sessions ------------------------------------------------------------------------------

    def _note(self, text: str) -> None:
        if self.medium.trace is not None:
            self.medium.trace.note(text)

    def _set_baudrate(self, baudrate: int) -> None:
        switch = getattr(self.medium, "set_baudrate", None)
        if switch is not None:
            switch(baudrate)

    def _sign_on(self, mode: str) -> Identification:
        if self.initial_baudrate is not None:
            self._set_baudrate(self.initial_baudrate)
        self.medium.write(sign_on(self.device_address))
        line = read_until(self.medium, b"\r\n", self.timeout, max_size=64, what="identification")
        start = line.rfind(b"/")
        identification = parse_identification(line[start:] if start >= 0 else line)
        self.identification = identification
        wait = self.reaction_time
        if wait is None:
            wait = 0.02 if identification.fast_reaction else 0.2
        time.sleep(wait)
        offered = [c for c, rate in BAUD_CHARS.items() if rate <= self.max_baudrate]
        char = min(identification.baud_char, max(offered))
        self.medium.write(option_select(char, mode))
        self._set_baudrate(BAUD_CHARS[char])
        self._note(
            f"{identification.manufacturer} {identification.identification}: "
            f"mode {'readout' if mode == '0' else 'programming'} at {BAUD_CHARS[char]} Bd"
        )
        return identification

    def _block(self, what: str) -> bytes:
        frame = read_until(self.medium, ETX, self.timeout, max_size=_MAX_BLOCK, extra=1, what=what)
        starts = [index for index in (frame.find(b"\x01"), frame.find(b"\x02")) if index >= 0]
        return check_block(frame[min(starts) :] if starts else frame)

    def _answer(self, what: str) -> bytes:
        """ACK, NAK, or the body of a block."""
        first = read_exactly(self.medium, 1, self.timeout, what=what)
        if first in (ACK, NAK):
            return first
        rest = read_until(self.medium, ETX, self.timeout, max_size=_MAX_BLOCK, extra=1, what=what)
        return check_block(first + rest)

    def readout(self) -> list[DataSet]:
        """The data readout (mode 0), read once per connection."""
        if self._readout is None:
            self._sign_on("0")
            self._readout = parse_data_block(self._block("data readout"))
            self._read_at = _now()
        return self._readout

    def _programming(self) -> None:
        self._sign_on("1")
        self._block("password operand (P0)")
        self.medium.write(command_frame("P1", f"({self.password})"))
        answer = self._answer("password answer")
        if answer == NAK:
            self._break()
            raise AuthenticationFailed("IEC 62056-21: the meter refused the password", frame=NAK)
        if answer != ACK:
            raise ProtocolError("IEC 62056-21: no ACK to the password", frame=answer)

    def _break(self) -> None:
        try:
            self.medium.write(break_frame())
        finally:
            if self.initial_baudrate is not None:
                self._set_baudrate(self.initial_baudrate)

    # -- values --------------------------------------------------------------------------------

    def _reading(self, dataset: DataSet, obis: str, default_time: datetime) -> Reading:
        value = dataset.value
        if value is None or dataset.is_error:
            return Reading(obis, None, None, 0, default_time, Quality.NOT_AVAILABLE)
        stamp = default_time
        if len(dataset.values) > 1:
            stamp = parse_timestamp(dataset.values[1].text, self.zone) or default_time
            stamp = stamp.astimezone(UTC)
        parsed = number(value.text)
        if parsed is None:
            return Reading(obis, value.text, value.unit, 0, stamp)
        return Reading(obis, parsed[0], value.unit, parsed[1], stamp)

    def _by_obis(self) -> dict[str, DataSet]:
        return {dataset.obis: dataset for dataset in self.readout() if dataset.obis}

    def read_registers(self, obis_codes: Sequence[str]) -> list[Reading]:
        """Registers from the readout; codes it lacks are ``not_available``."""
        codes = [obis_of(code) or canonical_obis(code, field="obis_codes") for code in obis_codes]
        found = self._by_obis()
        at = self._read_at or _now()
        return [
            self._reading(found[code], code, at)
            if code in found
            else Reading(code, None, None, 0, at, Quality.NOT_AVAILABLE)
            for code in codes
        ]

    def read_instantaneous(self) -> list[Reading]:
        """The instantaneous values (processing D = 7) of the readout."""
        found = self._by_obis()
        at = self._read_at or _now()
        return [
            self._reading(dataset, code, at)
            for code, dataset in found.items()
            if code.startswith("1-") and code.split(":")[1].split(".")[1] == "7"
        ]

    def read_clock(self) -> Reading:
        """Meter time from ``0.9.1`` (time) and ``0.9.2`` (date) of the readout."""
        found = self._by_obis()
        at = self._read_at or _now()
        time_set, date_set = found.get("1-0:0.9.1*255"), found.get("1-0:0.9.2*255")
        if time_set is None or date_set is None or not time_set.value or not date_set.value:
            return Reading(CLOCK, None, None, 0, at, Quality.NOT_AVAILABLE)
        moment = parse_timestamp(f"{date_set.value.text} {time_set.value.text}", self.zone)
        if moment is None:
            return Reading(CLOCK, None, None, 0, at, Quality.INVALID)
        return Reading(CLOCK, moment.astimezone(UTC), None, 0, at)

    def set_clock(self, time: datetime) -> Quality:
        """Programming mode: write date (``0.9.2``) and time (``0.9.1``) in the meter's zone."""
        if time.tzinfo is None or time.utcoffset() is None:
            raise InvalidValue("time", "must be an aware datetime (UTC)")
        local = time.astimezone(self.zone)
        self._programming()
        try:
            for address, text in (("0.9.2", f"{local:%y-%m-%d}"), ("0.9.1", f"{local:%H:%M:%S}")):
                self.medium.write(command_frame("W1", f"{address}({text})"))
                if self._answer(f"W1 {address}") != ACK:
                    return Quality.ACCESS_DENIED
        finally:
            self._break()
        self._readout = None
        return Quality.VALID

    def read_load_profile(self, start: datetime, end: datetime) -> LoadProfile:
        """``R5`` of ``P.01(start;end)`` (programming mode): intervals ending in (start, end]."""
        for name, value in (("start", start), ("end", end)):
            if value.tzinfo is None or value.utcoffset() is None:
                raise InvalidValue(name, "must be an aware datetime (UTC)")
        first, last = start.astimezone(self.zone), end.astimezone(self.zone)
        self._programming()
        try:
            self.medium.write(command_frame("R5", f"P.01({first:%y%m%d%H%M};{last:%y%m%d%H%M})"))
            body = self._answer("load profile")
        finally:
            self._break()
        if body in (ACK, NAK):
            return LoadProfile(timedelta(minutes=15), (), Quality.NOT_AVAILABLE)
        return self._profile(parse_data_block(body), start, end)

    def _profile(self, datasets: list[DataSet], start: datetime, end: datetime) -> LoadProfile:
        if not datasets or datasets[0].address != "P.01" or datasets[0].is_error:
            return LoadProfile(timedelta(minutes=15), (), Quality.NOT_AVAILABLE)
        header = [value.text for value in datasets[0].values]
        try:
            first = parse_timestamp(header[0], self.zone)
            minutes, channels = int(header[2]), int(header[3])
            codes = [canonical_obis(header[4 + 2 * i], field="P.01") for i in range(channels)]
            units = [header[5 + 2 * i] or None for i in range(channels)]
        except (IndexError, ValueError, InvalidValue) as exc:
            raise ProtocolError(f"P.01 header not understood: {exc}") from None
        if first is None or minutes <= 0:
            raise ProtocolError("P.01 header without a valid time or interval")
        step = timedelta(minutes=minutes)
        ends: list[int] = []
        columns: list[list[tuple[int, int] | None]] = [[] for _ in codes]
        moment = first.astimezone(UTC)
        for row in datasets[1:]:
            if row.address or len(row.values) != channels:
                raise ProtocolError(f"P.01 row on line {row.line} does not have {channels} values")
            if start < moment <= end:
                ends.append(int(moment.timestamp()))
                for column, value in zip(columns, row.values, strict=True):
                    column.append(number(value.text))
            moment += step
        stamps = np.array(ends, dtype=np.int64).astype("datetime64[s]")
        found = []
        for code, unit, column in zip(codes, units, columns, strict=True):
            # One scaler per channel: the finest the rows used, every mantissa scaled to it.
            scaler = min((parsed[1] for parsed in column if parsed is not None), default=0)
            values = np.array(
                [
                    np.nan if parsed is None else parsed[0] * 10 ** (parsed[1] - scaler)
                    for parsed in column
                ],
                dtype=np.float64,
            )
            found.append(
                ProfileChannel(code, unit, scaler, stamps, values, np.zeros(len(ends), np.uint32))
            )
        return LoadProfile(step, tuple(found))

    def read_events(self, start: datetime, end: datetime) -> EventLog:
        """Not offered: ``P.98`` event logs differ between manufacturers."""
        raise self.unsupported(Action.READ_EVENTS)

    def close(self) -> None:
        """End the connection (the medium belongs to whoever opened it)."""
        self._readout = None


class _OwnedMediumConnection(IecConnection):
    def close(self) -> None:
        super().close()
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
        if medium is not None:
            own_part, _ = split_settings(settings, IecSettings, medium.name)
            return IecConnection(medium, IecSettings.parse(own_part))
        host, sep, port = address.strip().rpartition(":")
        kind = (
            "tcp" if sep and host and port.isdigit() and not address.startswith("/") else "serial"
        )
        own_part, line_part = split_settings(settings, IecSettings, kind)
        options = IecSettings.parse(own_part)
        if kind == "serial":
            line_part = {**_SIGN_ON_LINE, **line_part}
        own = open_medium(kind, address, line_part, timeout=options.timeout)
        return _OwnedMediumConnection(own, options)
