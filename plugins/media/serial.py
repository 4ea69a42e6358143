"""The ``serial`` medium: a serial line through pyserial (RS-232/RS-485, optical probes, ptys).

Address: the device, ``/dev/ttyUSB0``, ``COM3`` or a pseudo-terminal such as ``/dev/pts/5``.
Settings (all optional):

* ``baudrate``: bits per second (default 9600; IEC 62056-21 signs on at 300);
* ``bytesize``: 5, 6, 7 or 8 (default 8);
* ``parity``: ``N``, ``E``, ``O``, ``M`` or ``S`` (default ``N``; IEC 62056-21 uses ``E``);
* ``stopbits``: 1, 1.5 or 2 (default 1);
* ``rtscts`` / ``xonxoff``: hardware / software flow control (default ``false``).

:meth:`SerialMedium.set_line` changes the line settings of the open port (IEC 62056-21 switches
the baud rate after the option select message); it drains the output first so the last bytes
leave at the old rate. A port that disappears (USB unplugged, the pty's other side closed)
raises :class:`~meterhub.extensions.driver.LinkLost`.
"""

from __future__ import annotations

import select
import termios
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import serial
from pydantic import Field, field_validator

from meterhub import hookimpl
from meterhub.errors import InvalidValue
from meterhub.extensions.driver import LinkLost
from meterhub.extensions.medium import Medium
from meterhub.extensions.settings import PluginSettings, WholeNumber, parse_whole_number
from meterhub.extensions.trace import FrameTrace

__all__ = ["LineSettings", "SerialMedium", "SerialMediumPlugin", "SerialSettings"]

_STOPBITS = {"1": serial.STOPBITS_ONE, "1.5": serial.STOPBITS_ONE_POINT_FIVE, "2": 2}


class SerialSettings(PluginSettings):
    """Settings of the ``serial`` medium (the line)."""

    baudrate: WholeNumber = Field(9600, ge=50, le=4_000_000, description="bits per second")
    bytesize: Literal[5, 6, 7, 8] = Field(8, description="data bits: 5, 6, 7 or 8")
    parity: Literal["N", "E", "O", "M", "S"] = Field("N", description="N, E, O, M or S")
    stopbits: Literal["1", "1.5", "2"] = Field("1", description="1, 1.5 or 2")
    rtscts: bool = Field(False, description="hardware flow control")
    xonxoff: bool = Field(False, description="software flow control")

    @field_validator("bytesize", mode="before")
    @classmethod
    def _number(cls, value: object) -> object:
        return parse_whole_number(value)

    @field_validator("parity", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("stopbits", mode="before")
    @classmethod
    def _stop_text(cls, value: object) -> object:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return f"{value:g}"
        return value.strip() if isinstance(value, str) else value


class LineSettings:
    """Baud rate, data bits, parity and stop bits of a serial line."""

    __slots__ = ("baudrate", "bytesize", "parity", "stopbits")

    def __init__(
        self, baudrate: int = 9600, bytesize: int = 8, parity: str = "N", stopbits: float = 1
    ) -> None:
        self.baudrate = baudrate
        self.bytesize = bytesize
        self.parity = parity
        self.stopbits = stopbits

    def __repr__(self) -> str:
        return f"{self.baudrate} {self.bytesize}{self.parity}{self.stopbits:g}"


class SerialMedium(Medium):
    """A serial port opened with pyserial."""

    name: ClassVar[str] = "serial"
    description: ClassVar[str] = "Serial line (RS-232/RS-485, optical probe) through pyserial"
    address_syntax: ClassVar[str] = "a serial device: /dev/ttyUSB0, COM3, /dev/pts/5"
    settings_model: ClassVar[type[PluginSettings]] = SerialSettings

    def __init__(
        self,
        address: str,
        settings: Mapping[str, Any] | None = None,
        trace: FrameTrace | None = None,
    ) -> None:
        super().__init__(address, settings, trace)
        if not isinstance(address, str) or not address.strip():
            raise InvalidValue("address", "must name a serial device such as /dev/ttyUSB0")
        options: SerialSettings = self.options
        self.line = LineSettings(
            options.baudrate, options.bytesize, options.parity, float(_STOPBITS[options.stopbits])
        )
        self.rtscts = options.rtscts
        self.xonxoff = options.xonxoff
        self.port: serial.Serial | None = None

    def open(self, timeout: float) -> None:
        """Open the port with the configured line settings."""
        try:
            self.port = serial.Serial(
                port=self.address.strip(),
                baudrate=self.line.baudrate,
                bytesize=self.line.bytesize,
                parity=self.line.parity,
                stopbits=self.line.stopbits,
                rtscts=self.rtscts,
                xonxoff=self.xonxoff,
                timeout=0,
                write_timeout=max(timeout, 1.0) * 10,
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise LinkLost(f"serial {self.address}: cannot open: {exc}") from exc
        if self.trace is not None:
            self.trace.note(f"serial {self.address} opened at {self.line!r}")

    def _port(self) -> serial.Serial:
        if self.port is None:
            raise LinkLost(f"serial {self.address}: not open")
        return self.port

    def read(self, size: int, timeout: float) -> bytes:
        """Up to ``size`` bytes: waits up to ``timeout`` for the first, then takes what is there."""
        port = self._port()
        try:
            ready, _, _ = select.select([port.fileno()], [], [], max(timeout, 0.0))
            data = port.read(max(1, min(size, port.in_waiting))) if ready else b""
        except (serial.SerialException, OSError, TypeError, ValueError) as exc:
            raise LinkLost(f"serial {self.address}: {exc}") from exc
        if self.trace is not None:
            self.trace.received(data)
        return bytes(data)

    def write(self, data: bytes) -> None:
        """Send all of ``data``."""
        port = self._port()
        if self.trace is not None:
            self.trace.sent(data)
        try:
            port.write(data)
        except (serial.SerialException, OSError) as exc:
            raise LinkLost(f"serial {self.address}: {exc}") from exc

    def drain(self) -> None:
        """Wait until everything written has left the port."""
        try:
            self._port().flush()
        except (serial.SerialException, OSError, TypeError) as exc:
            raise LinkLost(f"serial {self.address}: {exc}") from exc

    def set_line(
        self,
        baudrate: int | None = None,
        bytesize: int | None = None,
        parity: str | None = None,
        stopbits: float | None = None,
    ) -> None:
        """Change the line settings of the open port (after draining the output)."""
        port = self._port()
        self.drain()
        wanted = {
            "baudrate": baudrate,
            "bytesize": bytesize,
            "parity": parity,
            "stopbits": stopbits,
        }
        try:
            for name, value in wanted.items():
                if value is not None and getattr(port, name) != value:
                    setattr(port, name, value)  # only real changes touch the line
                if value is not None:
                    setattr(self.line, name, value)
        except (serial.SerialException, OSError, ValueError, termios.error) as exc:
            raise LinkLost(f"serial {self.address}: cannot change the line: {exc}") from exc
        if self.trace is not None:
            self.trace.note(f"serial line now {self.line!r}")

    def set_baudrate(self, baudrate: int) -> None:
        """Switch the baud rate (IEC 62056-21 after the option select message)."""
        self.set_line(baudrate=baudrate)

    def discard_input(self) -> None:
        """Throw away bytes received but not read yet."""
        try:
            self._port().reset_input_buffer()
        except (serial.SerialException, OSError, TypeError) as exc:
            raise LinkLost(f"serial {self.address}: {exc}") from exc

    def close(self) -> None:
        """Close the port; never raises."""
        port, self.port = self.port, None
        if port is not None:
            try:
                port.close()
            except (serial.SerialException, OSError):
                pass


class SerialMediumPlugin:
    """Plugin object of the ``serial`` entry point (feature ``medium:serial``)."""

    @hookimpl(trylast=True)
    def register_media(self) -> list[type[Medium]]:
        """Contribute :class:`SerialMedium`."""
        return [SerialMedium]
