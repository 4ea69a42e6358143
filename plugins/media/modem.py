"""The ``modem`` medium: AT-command dial-up (GSM CSD or PSTN) over a serial port.

Address: the number to dial (``+420123456789``, ``0,123456``). Settings:

* ``port`` (required): the serial device the modem is on;
* ``baudrate``, ``bytesize``, ``parity``, ``stopbits``: the DTE line (default 9600 8N1);
* ``init``: AT commands before dialling, separated by ``|`` (default ``ATZ|ATE0V1``); each must
  answer ``OK``;
* ``dial``: the dial command (default ``ATD``; ``ATDT``/``ATDP`` for tone/pulse);
* ``command_timeout``: seconds for each init command (default 5);
* ``dial_timeout``: seconds from dialling to ``CONNECT`` (default 60);
* ``hangup``: ``escape`` (default: guard time, ``+++``, guard time, ``ATH``) or ``dtr`` (drop
  DTR for a moment; falls back to ``escape`` where the port has no DTR, as on a pty);
* ``guard_time``: seconds of silence around ``+++`` (default 1.0, the modem's S12 = 50);
* ``detect_no_carrier``: ``true`` (default) treats ``NO CARRIER`` arriving in the data as the
  end of the call.

:meth:`ModemMedium.open` opens the port, runs the init commands and dials. It parses the result:
``CONNECT`` with an optional rate (``CONNECT 9600``, ``CONNECT 9600/ARQ``) makes the line
transparent and sets :attr:`ModemMedium.connect_rate`; ``NO CARRIER``, ``BUSY``,
``NO DIALTONE``, ``NO ANSWER``, ``ERROR`` and no answer in time raise :class:`DialFailed`, a
:class:`~meterhub.extensions.driver.LinkLost` whose :attr:`DialFailed.reason` says which
(:class:`ModemFailure`). The AT dialogue goes into the trace like every other frame.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, ClassVar, Literal

import serial
from pydantic import Field, field_validator

from meterhub import hookimpl
from meterhub.errors import InvalidValue
from meterhub.extensions.driver import LinkLost, MeterTimeout
from meterhub.extensions.driverkit import read_until, take_pending
from meterhub.extensions.medium import Medium
from meterhub.extensions.settings import PluginSettings
from meterhub.extensions.trace import FrameTrace
from meterhub.plugins.media.serial import SerialMedium, SerialSettings

__all__ = [
    "DialFailed",
    "ModemFailure",
    "ModemMedium",
    "ModemMediumPlugin",
    "ModemSettings",
    "parse_result",
]

_NUMBER = re.compile(r"^[0-9+*#,;WwPpTt ()-]{1,40}$")
_CONNECT = re.compile(r"^CONNECT(?:\s+(\d+))?")
_NO_CARRIER = b"\r\nNO CARRIER\r\n"


class ModemFailure(StrEnum):
    """Why a call could not be made or was lost."""

    NO_CARRIER = "no_carrier"
    BUSY = "busy"
    NO_DIALTONE = "no_dialtone"
    NO_ANSWER = "no_answer"
    ERROR = "error"
    TIMEOUT = "timeout"
    PORT = "port"


_RESULTS = {
    "NO CARRIER": ModemFailure.NO_CARRIER,
    "BUSY": ModemFailure.BUSY,
    "NO DIALTONE": ModemFailure.NO_DIALTONE,
    "NO DIAL TONE": ModemFailure.NO_DIALTONE,
    "NO ANSWER": ModemFailure.NO_ANSWER,
    "ERROR": ModemFailure.ERROR,
}


class DialFailed(LinkLost):
    """The modem could not set up the call, or the call dropped; :attr:`reason` says why."""

    def __init__(self, message: str, reason: ModemFailure, *, frame: bytes | None = None) -> None:
        super().__init__(message, frame=frame)
        self.reason = reason


def parse_result(line: str) -> tuple[str, int | None] | ModemFailure | None:
    """Classify one modem response line.

    ``("CONNECT", rate or None)`` for a connection, ``("OK", None)`` for OK, a
    :class:`ModemFailure` for a failure code, ``None`` for anything else (echo, noise, RING).
    """
    text = line.strip().upper()
    if text == "OK":
        return ("OK", None)
    match = _CONNECT.match(text)
    if match:
        return ("CONNECT", int(match.group(1)) if match.group(1) else None)
    return _RESULTS.get(text)


class ModemSettings(SerialSettings):
    """Settings of the ``modem`` medium: the modem's serial line and its AT dialogue."""

    port: str = Field(description="the serial device the modem is on")
    init: str = Field("ATZ|ATE0V1", description="AT commands before dialling, separated by |")
    dial: str = Field("ATD", description="the dial command: ATD, ATDT (tone), ATDP (pulse)")
    command_timeout: float = Field(5.0, ge=0.01, description="seconds for each init command")
    dial_timeout: float = Field(60.0, ge=0.01, description="seconds from dialling to CONNECT")
    hangup: Literal["escape", "dtr"] = Field("escape", description="escape (+++ ATH) or dtr")
    guard_time: float = Field(1.0, ge=0, description="seconds of silence around +++")
    detect_no_carrier: bool = Field(True, description="NO CARRIER in the data ends the call")

    @field_validator("dial")
    @classmethod
    def _dial(cls, value: str) -> str:
        if not value.upper().startswith("ATD"):
            raise ValueError(f"must start with ATD, got {value!r}")
        return value

    @field_validator("hangup", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value


class ModemMedium(Medium):
    """A Hayes-compatible modem on a serial port that dials the meter's number."""

    name: ClassVar[str] = "modem"
    description: ClassVar[str] = "AT-command dial-up modem (GSM CSD / PSTN) on a serial port"
    address_syntax: ClassVar[str] = "the number to dial: +420123456789 (settings: port=...)"
    settings_model: ClassVar[type[PluginSettings]] = ModemSettings

    def __init__(
        self,
        address: str,
        settings: Mapping[str, Any] | None = None,
        trace: FrameTrace | None = None,
    ) -> None:
        super().__init__(address, settings, trace)
        number = address.strip() if isinstance(address, str) else ""
        if not _NUMBER.match(number):
            raise InvalidValue("address", f"must be a telephone number to dial, got {address!r}")
        self.number = number
        options: ModemSettings = self.options
        line = {
            key: self.settings[key] for key in SerialSettings.model_fields if key in self.settings
        }
        self.serial = SerialMedium(options.port, line, trace)
        self.init_commands = tuple(part.strip() for part in options.init.split("|") if part.strip())
        self.dial_command = options.dial
        self.command_timeout = options.command_timeout
        self.dial_timeout = options.dial_timeout
        self.guard_time = options.guard_time
        self.hangup_method = options.hangup
        self.detect_no_carrier = options.detect_no_carrier
        #: The rate the modem reported with CONNECT (``None`` when it gave none).
        self.connect_rate: int | None = None
        self.connected = False
        self._tail = b""

    # -- AT dialogue -------------------------------------------------------------------------

    def _note(self, text: str) -> None:
        if self.trace is not None:
            self.trace.note(text)

    def _response(self, command: str, timeout: float) -> tuple[str, int | None] | ModemFailure:
        """Read lines until a final result code for ``command``."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                raw = read_until(self.serial, b"\n", left, max_size=512, what=command)
            except MeterTimeout:
                return ModemFailure.TIMEOUT
            line = raw.decode("ascii", "replace").strip()
            if not line or line.upper() == command.upper():
                continue
            result = parse_result(line)
            if result is not None:
                return result

    def command(self, command: str, timeout: float | None = None) -> str:
        """Send one AT command in command mode; return its final result (``OK``).

        :raises DialFailed: the modem answered ``ERROR`` or nothing in time.
        """
        self.serial.write(command.encode("ascii") + b"\r")
        result = self._response(command, self.command_timeout if timeout is None else timeout)
        if isinstance(result, ModemFailure):
            raise DialFailed(f"modem: {command} failed: {result.value}", result)
        return result[0]

    def open(self, timeout: float) -> None:
        """Open the port, initialise the modem and dial; return once ``CONNECT`` came.

        ``timeout`` bounds opening the port; the dial waits ``dial_timeout``.
        """
        try:
            self.serial.open(timeout)
        except LinkLost as exc:
            raise DialFailed(str(exc), ModemFailure.PORT) from exc
        try:
            self.serial.discard_input()
            for command in self.init_commands:
                self.command(command)
            dial = f"{self.dial_command}{self.number}"
            self._note(f"dialling {self.number}")
            self.serial.write(dial.encode("ascii") + b"\r")
            result = self._response(dial, self.dial_timeout)
            if isinstance(result, ModemFailure):
                if result is ModemFailure.TIMEOUT:
                    self.serial.write(b"\r")  # any character aborts the dialling
                raise DialFailed(
                    f"modem: calling {self.number} failed: {result.value}",
                    result,
                    frame=self.serial.trace.last_received() if self.serial.trace else None,
                )
            if result[0] != "CONNECT":
                raise DialFailed(
                    f"modem: {dial} answered {result[0]} instead of CONNECT", ModemFailure.ERROR
                )
        except BaseException:
            self.serial.close()
            raise
        self.connect_rate = result[1]
        self.connected = True
        self._tail = b""
        self._note(f"connected to {self.number} at {self.connect_rate or 'unknown'} bit/s")

    # -- transparent data ----------------------------------------------------------------------

    def read(self, size: int, timeout: float) -> bytes:
        """Data from the remote side; :class:`DialFailed` (``no_carrier``) when the call ends."""
        if not self.connected:
            raise DialFailed(f"modem: no call to {self.number}", ModemFailure.NO_CARRIER)
        # bytes that arrived with the CONNECT line come first
        data = take_pending(self.serial, size) or self.serial.read(size, timeout)
        if data and self.detect_no_carrier:
            self._tail = (self._tail + data)[-len(_NO_CARRIER) :]
            if self._tail.endswith(_NO_CARRIER) or self._tail.endswith(_NO_CARRIER[:-1]):
                self.connected = False
                raise DialFailed(
                    f"modem: the call to {self.number} ended (NO CARRIER)",
                    ModemFailure.NO_CARRIER,
                    frame=data,
                )
        return data

    def write(self, data: bytes) -> None:
        """Send data to the remote side."""
        if not self.connected:
            raise DialFailed(f"modem: no call to {self.number}", ModemFailure.NO_CARRIER)
        self.serial.write(data)

    def set_baudrate(self, baudrate: int) -> None:
        """Baud rate switches of the remote protocol do not change the DTE line: a no-op."""
        self._note(f"baud rate switch to {baudrate} ignored on a modem line")

    # -- hang-up ---------------------------------------------------------------------------------

    def _hangup_dtr(self) -> bool:
        port = self.serial.port
        if port is None:
            return False
        try:
            port.dtr = False
            time.sleep(max(self.guard_time, 0.2))
            port.dtr = True
        except (serial.SerialException, OSError):
            return False
        return True

    def _hangup_escape(self) -> None:
        time.sleep(self.guard_time)
        self.serial.write(b"+++")
        time.sleep(self.guard_time)
        self._response("+++", self.command_timeout)
        self.serial.write(b"ATH\r")
        self._response("ATH", self.command_timeout)

    def hangup(self) -> None:
        """End the call (DTR drop or escape + ``ATH``); stays quiet about a line already gone."""
        if not self.connected:
            return
        self.connected = False
        self._note(f"hanging up ({self.hangup_method})")
        try:
            if self.hangup_method == "dtr" and self._hangup_dtr():
                return
            self._hangup_escape()
        except LinkLost:
            pass

    def close(self) -> None:
        """Hang up and release the port; never raises."""
        try:
            self.hangup()
        except Exception:  # noqa: BLE001 - close never raises
            pass
        self.serial.close()


class ModemMediumPlugin:
    """Plugin object of the ``modem`` entry point (feature ``medium:modem``)."""

    @hookimpl(trylast=True)
    def register_media(self) -> list[type[Medium]]:
        """Contribute :class:`ModemMedium`."""
        return [ModemMedium]
