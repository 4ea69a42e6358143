"""Simulated IEC 62056-21 mode C meters on ptys or TCP, served by the driver kit's frame server.

A pty is the serial port a client opens (``/dev/pts/N``); a TCP endpoint is a meter behind a
TCP converter (no baud switch). Each meter signs on at 300 Bd as ``/MHs5IEC-0001`` (20 ms
reaction time, up to 9600 Bd), switches to the rate the client selects and answers with a
data readout (mode 0) or programming mode (mode 1: ``P0``/``P1`` password, ``R1``, ``W1`` of
the clock, ``R5`` of the load profile ``P.01``, ``B0``). What it says is composed in
:mod:`.simreadout`.

Options: ``password`` (default ``00000000``), ``time`` (a frozen ISO time for tests),
``interval`` (profile minutes, default 15), ``transport`` (``pty`` or ``tcp``), ``dialect``
(``standard`` or ``quirky``, see :mod:`.simreadout`), ``billing_periods`` (stored billing
periods in the readout, default 0), ``pace`` (``true``: send every byte at the line's real
speed, 10 bits per 7E1 character: 300 Bd at sign-on, then the agreed rate), ``stall_after``
(the meter falls silent after that many bytes of its data message) and ``echo`` (``true``: the
line hands the client back every byte it sends, as a half-duplex RS-485 line does). Faults:
``latency``, ``corrupt_every`` (flips the BCC: a bad block check), ``wrong_password`` (the
meter expects another password than the endpoint's), ``silent_after``/``drop_after`` (stop
answering), ``clock_drift``.
"""

from __future__ import annotations

import termios
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

from meterhub.errors import InvalidValue
from meterhub.extensions.driverkit import ByteChannel, FrameServer, PtyPair, SimulatedMeter
from meterhub.extensions.simulator import Faults, RunningFleet, SimulatedEndpoint, Simulator
from meterhub.plugins.drivers.iec62056_21.protocol import (
    ACK,
    BAUD_CHARS,
    ETX,
    NAK,
    SOH,
    STX,
    bcc,
    parse_timestamp,
)
from meterhub.plugins.drivers.iec62056_21.simreadout import (
    DIALECTS,
    identification,
    profile_lines,
    readout_body,
    readout_lines,
)

__all__ = [
    "IecFleet",
    "IecMeter",
    "IecSimulator",
    "MeterOptions",
    "readout_lines",
    "send_paced",
]

_SPEEDS = {300: termios.B300, 600: termios.B600, 1200: termios.B1200, 2400: termios.B2400,
           4800: termios.B4800, 9600: termios.B9600, 19200: termios.B19200}  # fmt: skip
MAX_BAUD_CHAR = "5"
#: Bits on the line per character: start, 7 data, parity, stop (7E1).
BITS_PER_CHARACTER = 10
_OPTIONS = (
    "password", "time", "interval", "transport", "dialect", "billing_periods", "pace",
    "stall_after", "echo",
)  # fmt: skip
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


@dataclass(frozen=True, slots=True)
class MeterOptions:
    """How a simulated meter behaves beyond the faults (see the module notes)."""

    password: str = "00000000"
    frozen: int | None = None
    interval: int = 15
    dialect: str = "standard"
    billing_periods: int = 0
    pace: bool = False
    stall_after: int | None = None
    echo: bool = False


class _Line:
    """One session's view of the channel: a read buffer and the meter's side of the rate."""

    def __init__(self, channel: ByteChannel, echo: bool = False) -> None:
        self.channel = channel
        self.echo = echo
        self.buffer = bytearray()
        self.baudrate = 300
        self.slave = channel.slave if isinstance(channel, PtyPair) else None

    def read_until(self, ends: tuple[bytes, ...], timeout: float, extra: int = 0) -> bytes | None:
        deadline = time.monotonic() + timeout
        while True:
            for end in ends:
                index = self.buffer.find(end)
                if index >= 0 and len(self.buffer) >= index + len(end) + extra:
                    cut = index + len(end) + extra
                    frame = bytes(self.buffer[:cut])
                    del self.buffer[:cut]
                    return frame
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            heard = self.channel.read(1024, min(left, 0.05))
            if heard and self.echo:
                self.channel.write(heard)  # a half-duplex line hands the client its own bytes
            self.buffer += heard
            if len(self.buffer) > 4096:
                del self.buffer[:-1024]

    def client_baud(self, expected: int, wait: float = 0.1) -> int | None:
        """The rate of the client's side of the pty (waits briefly for its switch); ``None``
        over TCP, where there is no rate."""
        if self.slave is None:
            return None
        deadline = time.monotonic() + wait
        while True:
            try:
                speed = termios.tcgetattr(self.slave)[4]
            except (termios.error, OSError):
                return None
            seen = next((rate for rate, code in _SPEEDS.items() if code == speed), None)
            if seen == expected or time.monotonic() >= deadline:
                return seen
            time.sleep(0.001)

    def send(self, data: bytes, pace: bool) -> None:
        """Write ``data``, paced at the line's rate when ``pace`` is set."""
        if pace:
            send_paced(self.channel, data, self.baudrate)
        else:
            self.channel.write(data)


def send_paced(channel: ByteChannel, data: bytes, baudrate: int) -> None:
    """Write ``data`` as fast as a real line at ``baudrate`` carries it (10 bits a character):
    at most ~10 ms of characters at a time, on the clock of the line, returning when the last
    character would have left."""
    seconds = BITS_PER_CHARACTER / baudrate
    chunk = max(1, int(0.01 / seconds))
    started = time.monotonic()
    for offset in range(0, len(data), chunk):
        wait = started + offset * seconds - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        channel.write(data[offset : offset + chunk])
    wait = started + len(data) * seconds - time.monotonic()
    if wait > 0:
        time.sleep(wait)


class IecMeter:
    """One simulated IEC 62056-21 meter: its state and the session function that serves it."""

    def __init__(self, serial: str, faults: Faults, options: MeterOptions) -> None:
        self.serial = serial
        self.meter = SimulatedMeter(serial)
        self.options = options
        self.password = options.password
        self.expected_password = (
            options.password + "-X" if faults.wrong_password else options.password
        )
        self.faults = faults
        self.frozen = options.frozen
        self.interval = options.interval
        self.clock_offset = self.meter.clock_drift + int(faults.clock_drift)
        #: Every baud rate the meter switched to, for tests.
        self.baud_switches: list[int] = []
        #: The rate the client's side was at after each switch (``None``: unknown).
        self.client_bauds: list[int | None] = []
        self.replies = 0

    # -- time ----------------------------------------------------------------------------------

    def now(self) -> int:
        """The system time the meter lives in (frozen in tests)."""
        return self.frozen if self.frozen is not None else int(time.time())

    def meter_time(self) -> int:
        """What the meter clock shows."""
        return self.now() + self.clock_offset

    # -- replies -------------------------------------------------------------------------------

    def _send(self, line: _Line, data: bytes, *, block: bool = False) -> bool:
        """Reply (with the faults); False when the meter has gone silent."""
        self.replies += 1
        limit = min(
            x for x in (self.faults.silent_after, self.faults.drop_after, 1 << 60) if x is not None
        )
        if self.replies > limit:
            return False
        if self.faults.latency:
            time.sleep(self.faults.latency)
        if block and self.faults.corrupt_every and self.replies % self.faults.corrupt_every == 0:
            data = data[:-1] + bytes([data[-1] ^ 0x55])
        line.send(data, self.options.pace)
        return True

    @staticmethod
    def _block(body: bytes, start: bytes = STX) -> bytes:
        payload = body + ETX
        return start + payload + bytes([bcc(payload)])

    # -- protocol ------------------------------------------------------------------------------

    def serve(self, channel: ByteChannel) -> None:
        """The frame server's session function: sessions until the channel closes."""
        line = _Line(channel, self.options.echo)
        while True:
            self._session(line)

    def _session(self, line: _Line) -> None:
        line.baudrate = 300
        request = line.read_until((b"!\r\n",), 0.2)
        if request is None:
            return
        start = request.rfind(b"/?")
        if start < 0:
            return
        address = request[start + 2 : -3].decode("ascii", "replace").strip()
        if address and address not in (self.serial, self.serial.split("-")[-1]):
            return  # another meter on the bus
        if not self._send(line, identification(self.serial, MAX_BAUD_CHAR, self.options.dialect)):
            return
        option = line.read_until((b"\r\n",), 2.0)
        if option is None or not option.startswith(ACK) or len(option) < 6:
            return
        _protocol, baud_char, mode = chr(option[1]), chr(option[2]), chr(option[3])
        if baud_char not in BAUD_CHARS or baud_char > MAX_BAUD_CHAR:
            return
        line.baudrate = BAUD_CHARS[baud_char]
        self.baud_switches.append(line.baudrate)
        client = line.client_baud(line.baudrate)
        self.client_bauds.append(client)
        if client is not None and client != line.baudrate:
            return  # the client did not switch: a real meter would hear only noise
        if mode == "0":
            self._readout(line)
        elif mode == "1":
            self._programming(line)

    def _readout(self, line: _Line) -> None:
        lines = readout_lines(
            self.meter,
            self.now(),
            self.meter_time(),
            dialect=self.options.dialect,
            billing_periods=self.options.billing_periods,
        )
        frame = self._block(readout_body(lines, self.options.dialect))
        if self.options.stall_after is not None:
            self._send(line, frame[: self.options.stall_after])
            return  # silent from here: the client must give up after its inter-character time
        self._send(line, frame, block=True)

    def _programming(self, line: _Line) -> None:
        operand = self._block(b"P0" + STX + f"({self.serial})".encode("ascii"), SOH)
        if not self._send(line, operand):
            return
        authorised = False
        while True:
            frame = line.read_until((ETX,), 5.0, extra=1)
            if frame is None:
                return
            start = frame.rfind(SOH)
            if start < 0:
                continue
            frame = frame[start:]
            if bcc(frame[1:-1]) != frame[-1]:
                self._send(line, NAK)
                continue
            command = frame[1:3].decode("ascii", "replace")
            data = frame[4:-2].decode("ascii", "replace") if frame[3:4] == STX else ""
            if command == "B0":
                return
            if command == "P1":
                authorised = data == f"({self.expected_password})"
                reply, block = (ACK if authorised else NAK), False
            elif command == "R1":
                reply, block = self._block(self._register(data.partition("(")[0])), True
            elif command == "W1":
                reply, block = (ACK if authorised and self._write(data) else NAK), False
            elif command == "R5":
                reply, block = self._block(self._profile(data).encode("ascii")), True
            else:
                reply, block = NAK, False
            if not self._send(line, reply, block=block):
                return

    def _register(self, address: str) -> bytes:
        for line in readout_lines(self.meter, self.now(), self.meter_time()):
            if line.startswith(f"{address}("):
                return line.encode("ascii")
        return f"{address}(ERROR)".encode("ascii")

    def _write(self, data: str) -> bool:
        address, _, rest = data.partition("(")
        value = rest.rstrip(")")
        shown = datetime.fromtimestamp(self.meter_time(), UTC)
        if address == "0.9.1":
            moment = parse_timestamp(f"{shown:%y-%m-%d} {value}", UTC)
        elif address == "0.9.2":
            moment = parse_timestamp(f"{value} {shown:%H:%M:%S}", UTC)
        else:
            return False
        if moment is None:
            return False
        self.clock_offset = int(moment.timestamp()) - self.now()
        return True

    def _profile(self, data: str) -> str:
        address, _, rest = data.partition("(")
        if address != "P.01":
            return f"{address}(ERROR)\r\n"
        first, _, last = rest.rstrip(")").partition(";")
        start = parse_timestamp(first, UTC)
        end = parse_timestamp(last, UTC) if last else datetime.fromtimestamp(self.now(), UTC)
        if start is None or end is None:
            return "P.01(ERROR)\r\n"
        lines = profile_lines(
            self.meter, int(start.timestamp()), int(end.timestamp()), self.now(), self.interval
        )
        return "\r\n".join(lines) + "\r\n"


class IecFleet(RunningFleet):
    """Running IEC 62056-21 meters, one pty or TCP port each."""

    def __init__(
        self,
        meters: list[IecMeter],
        server: FrameServer,
        endpoints: list[SimulatedEndpoint],
        password: str,
    ) -> None:
        self.meters = meters
        self.server = server
        self.password = password
        self._endpoints = endpoints

    @property
    def endpoints(self) -> list[SimulatedEndpoint]:
        """One endpoint per meter: a pty with the serial medium at 300 7E1, or a TCP port."""
        return list(self._endpoints)

    def stop(self) -> None:
        """Stop every meter; idempotent."""
        self.server.stop()


def _whole(options: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = options.get(name, "") or str(default)
    try:
        value = int(text)
    except ValueError:
        raise InvalidValue(f"options.{name}", f"must be a whole number, got {text!r}") from None
    if not low <= value <= high:
        raise InvalidValue(f"options.{name}", f"must be {low}..{high}, got {value}")
    return value


def _flag(options: Mapping[str, str], name: str) -> bool:
    text = options.get(name, "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidValue(f"options.{name}", f"must be true or false, got {text!r}")


def meter_options(options: Mapping[str, str]) -> tuple[MeterOptions, str]:
    """The meters' options and the transport from the simulator options (checked)."""
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise InvalidValue(
            "options", f"unknown option {unknown[0]!r}; known: {', '.join(_OPTIONS)}"
        )
    frozen = None
    if options.get("time"):
        try:
            moment = datetime.fromisoformat(options["time"].replace("Z", "+00:00"))
        except ValueError:
            raise InvalidValue("options.time", "must be an ISO time with offset") from None
        if moment.tzinfo is None:
            raise InvalidValue("options.time", "must carry a UTC offset")
        frozen = int(moment.timestamp())
    interval = _whole(options, "interval", 15, 1, 60)
    if interval not in (1, 5, 10, 15, 30, 60):
        raise InvalidValue("options.interval", "must be 1, 5, 10, 15, 30 or 60 minutes")
    dialect = options.get("dialect", "") or "standard"
    if dialect not in DIALECTS:
        raise InvalidValue("options.dialect", f"must be one of {', '.join(DIALECTS)}")
    transport = options.get("transport", "") or "pty"
    if transport not in ("pty", "tcp"):
        raise InvalidValue("options.transport", "must be pty or tcp")
    stall = options.get("stall_after", "")
    return (
        MeterOptions(
            password=options.get("password", "00000000"),
            frozen=frozen,
            interval=interval,
            dialect=dialect,
            billing_periods=_whole(options, "billing_periods", 0, 0, 99),
            pace=_flag(options, "pace"),
            stall_after=_whole(options, "stall_after", 0, 1, 1 << 20) if stall else None,
            echo=_flag(options, "echo"),
        ),
        transport,
    )


class IecSimulator(Simulator):
    """Simulated IEC 62056-21 mode C meters on ptys (or TCP converters)."""

    name: ClassVar[str] = "iec62056-21"
    description: ClassVar[str] = "IEC 62056-21 mode C meters on pseudo-terminals or TCP"

    def start(
        self,
        count: int,
        *,
        host: str = "127.0.0.1",
        base_port: int = 0,
        faults: Faults | None = None,
        options: Mapping[str, str] | None = None,
    ) -> IecFleet:
        """Start ``count`` meters ``IEC-0001`` …; ``host`` and ``base_port`` apply to TCP."""
        settings, transport = meter_options(dict(options or {}))
        server = FrameServer("iec-sim")
        meters, endpoints = [], []
        try:
            for number in range(1, count + 1):
                meter = IecMeter(f"IEC-{number:04d}", faults or Faults(), settings)
                meters.append(meter)
                if transport == "tcp":
                    bound = server.listen(
                        host, base_port + number - 1 if base_port else 0, meter.serve
                    )
                    endpoints.append(
                        SimulatedEndpoint(
                            meter.serial,
                            "iec62056_21",
                            "tcp",
                            f"{bound[0]}:{bound[1]}",
                            {"password": settings.password},
                        )
                    )
                else:
                    path = server.serve_pty(meter.serve)
                    endpoints.append(
                        SimulatedEndpoint(
                            meter.serial, "iec62056_21", "serial", path,
                            {"baudrate": "300", "bytesize": "7", "parity": "E", "stopbits": "1",
                             "password": settings.password},
                        )
                    )  # fmt: skip
        except BaseException:
            server.stop()
            raise
        return IecFleet(meters, server, endpoints, settings.password)
