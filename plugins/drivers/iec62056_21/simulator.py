"""The ``iec62056-21`` simulator: mode C meters on pseudo-terminals, values from ``SimulatedMeter``.

Each meter owns a pty pair and a thread on the master side. It answers the sign-on ``/?!`` (or
``/?<device address>!``) with ``/MHs5<serial>`` (lowercase ``s``: 20 ms reaction time; ``5``: up
to 9600 Bd), switches its baud rate after the option select message exactly like the client must
(on a pty the switch is a ``tcsetattr`` without physical effect), then sends the data readout or
enters programming mode: ``P0`` → ``P1(password)`` → ACK/NAK; ``R1`` reads a register, ``W1`` sets
``0.9.1`` (time) and ``0.9.2`` (date) after the password; ``R5`` with ``P.01(start;end)`` sends the
15-minute load profile; ``B0`` ends the session.

The readout (meter local time = UTC)::

    0.0.0(<serial>)  C.1.0(<serial>)  0.9.1(hh:mm:ss)  0.9.2(YY-MM-DD)
    1.8.0(<Wh/1000>*kWh)  3.8.0(<varh/1000>*kvarh)  1.7.0(<W/1000>*kW)
    32.7.0(<V>*V)  31.7.0(<A>*A)  1.6.0(<max W/1000 today>*kW)(YY-MM-DD hh:mm)  F.F(00000000)

Options: ``password`` (default ``00000000``), ``time`` (a frozen ISO time for tests), ``interval``
(profile minutes, default 15). Faults: ``latency``, ``corrupt_every`` (flips the BCC: a bad
block check), ``wrong_password`` (the meter expects another password than the endpoint's),
``silent_after``/``drop_after`` (stop answering), ``clock_drift``.
"""

from __future__ import annotations

import termios
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import ClassVar

from meterhub.errors import InvalidValue
from meterhub.extensions.driverkit import PtyClosed, PtyPair, SimulatedMeter
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

__all__ = ["IecFleet", "IecMeter", "IecSimulator", "readout_lines"]

_SPEEDS = {300: termios.B300, 600: termios.B600, 1200: termios.B1200, 2400: termios.B2400,
           4800: termios.B4800, 9600: termios.B9600, 19200: termios.B19200}  # fmt: skip
MANUFACTURER = "MHs"
MAX_BAUD_CHAR = "5"


def _stamp(at: int, pattern: str) -> str:
    return datetime.fromtimestamp(at, UTC).strftime(pattern)


def readout_lines(meter: SimulatedMeter, at: int, meter_time: int) -> list[str]:
    """The data lines of a readout at Unix second ``at``; the clock shows ``meter_time``."""
    day_start = at - at % 86_400
    hours = [(meter.power(hour), hour) for hour in range(day_start, at + 1, 3600)]
    peak, peak_at = max(hours) if hours else (meter.power(at), at)
    return [
        f"0.0.0({meter.serial})",
        f"C.1.0({meter.serial})",
        f"0.9.1({_stamp(meter_time, '%H:%M:%S')})",
        f"0.9.2({_stamp(meter_time, '%y-%m-%d')})",
        f"1.8.0({meter.active_energy(at) / 1000:010.3f}*kWh)",
        f"3.8.0({meter.reactive_energy(at) / 1000:010.3f}*kvarh)",
        f"1.7.0({meter.power(at) / 1000:06.3f}*kW)",
        f"32.7.0({meter.voltage(at) / 10:05.1f}*V)",
        f"31.7.0({meter.current(at) / 100:05.2f}*A)",
        f"1.6.0({peak / 1000:06.3f}*kW)({_stamp(peak_at, '%y-%m-%d %H:%M')})",
        "F.F(00000000)",
    ]


def profile_lines(
    meter: SimulatedMeter, start: int, end: int, now: int, interval: int
) -> list[str]:
    """``P.01`` block: header (first interval end, status, minutes, channels, codes, units)."""
    period = interval * 60
    first = (start // period + 1) * period
    last = min(end, now) // period * period
    if last < first:
        return ["P.01(ERROR)"]
    lines = [f"P.01({_stamp(first, '%y%m%d%H%M')})(00)({interval})(2)(1.29.0)(kWh)(3.29.0)(kvarh)"]
    for edge in range(first, last + 1, period):
        active = meter.active_energy(edge) - meter.active_energy(edge - period)
        reactive = meter.reactive_energy(edge) - meter.reactive_energy(edge - period)
        lines.append(f"({active / 1000:.3f})({reactive / 1000:.3f})")
    return lines


class IecMeter:
    """One simulated IEC 62056-21 meter serving its pty until stopped."""

    def __init__(
        self, serial: str, password: str, faults: Faults, frozen: int | None, interval: int
    ) -> None:
        self.serial = serial
        self.meter = SimulatedMeter(serial)
        self.password = password
        self.expected_password = password + "-X" if faults.wrong_password else password
        self.faults = faults
        self.frozen = frozen
        self.interval = interval
        self.clock_offset = self.meter.clock_drift + int(faults.clock_drift)
        self.pty = PtyPair()
        self.baudrate = 300
        #: Every baud rate the meter switched to, for tests.
        self.baud_switches: list[int] = []
        #: The rate the client's side was at after each switch (``None``: unknown).
        self.client_bauds: list[int | None] = []
        self.replies = 0
        self._buffer = bytearray()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"iec {serial}", daemon=True)
        self._thread.start()

    # -- time ----------------------------------------------------------------------------------

    def now(self) -> int:
        """The system time the meter lives in (frozen in tests)."""
        return self.frozen if self.frozen is not None else int(time.time())

    def meter_time(self) -> int:
        """What the meter clock shows."""
        return self.now() + self.clock_offset

    # -- line ------------------------------------------------------------------------------------

    def _set_baud(self, baudrate: int) -> None:
        """Switch the meter side. A pty has one set of line settings, which the client owns, so
        the meter only records its rate and then watches the client's (see :meth:`_client_baud`).
        """
        self.baudrate = baudrate

    def _client_baud(self, expected: int, wait: float = 0.1) -> int | None:
        """The rate the client's side of the pty is set to (waits briefly for the switch)."""
        deadline = time.monotonic() + wait
        seen = None
        while True:
            try:
                speed = termios.tcgetattr(self.pty.slave)[4]
            except (termios.error, OSError):
                return None
            seen = next((rate for rate, code in _SPEEDS.items() if code == speed), None)
            if seen == expected or time.monotonic() >= deadline:
                return seen
            time.sleep(0.001)

    def _read_until(self, ends: tuple[bytes, ...], timeout: float, extra: int = 0) -> bytes | None:
        deadline = time.monotonic() + timeout
        while not self._stop.is_set():
            for end in ends:
                index = self._buffer.find(end)
                if index >= 0 and len(self._buffer) >= index + len(end) + extra:
                    cut = index + len(end) + extra
                    frame = bytes(self._buffer[:cut])
                    del self._buffer[:cut]
                    return frame
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self._buffer += self.pty.read(1024, min(left, 0.05))
            if len(self._buffer) > 4096:
                del self._buffer[:-1024]
        return None

    def _send(self, data: bytes, *, block: bool = False) -> bool:
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
        self.pty.write(data)
        return True

    @staticmethod
    def _block(body: bytes, start: bytes = STX) -> bytes:
        payload = body + ETX
        return start + payload + bytes([bcc(payload)])

    # -- protocol ------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._session()
        except PtyClosed:
            pass

    def _session(self) -> None:
        self._set_baud(300)
        request = self._read_until((b"!\r\n",), 0.2)
        if request is None:
            return
        start = request.rfind(b"/?")
        if start < 0:
            return
        address = request[start + 2 : -3].decode("ascii", "replace").strip()
        if address and address not in (self.serial, self.serial.split("-")[-1]):
            return  # another meter on the bus
        ident = f"/{MANUFACTURER}{MAX_BAUD_CHAR}{self.serial}\r\n".encode("ascii")
        if not self._send(ident):
            return
        option = self._read_until((b"\r\n",), 2.0)
        if option is None or not option.startswith(ACK) or len(option) < 6:
            return
        _protocol, baud_char, mode = chr(option[1]), chr(option[2]), chr(option[3])
        if baud_char not in BAUD_CHARS or baud_char > MAX_BAUD_CHAR:
            return
        self._set_baud(BAUD_CHARS[baud_char])
        self.baud_switches.append(self.baudrate)
        client = self._client_baud(self.baudrate)
        self.client_bauds.append(client)
        if client is not None and client != self.baudrate:
            return  # the client did not switch: a real meter would hear only noise
        if mode == "0":
            lines = readout_lines(self.meter, self.now(), self.meter_time())
            body = ("\r\n".join(lines) + "\r\n!\r\n").encode("ascii")
            self._send(self._block(body), block=True)
        elif mode == "1":
            self._programming()

    def _programming(self) -> None:
        if not self._send(self._block(b"P0" + STX + f"({self.serial})".encode("ascii"), SOH)):
            return
        authorised = False
        while not self._stop.is_set():
            frame = self._read_until((ETX,), 5.0, extra=1)
            if frame is None:
                return
            start = frame.rfind(SOH)
            if start < 0:
                continue
            frame = frame[start:]
            if bcc(frame[1:-1]) != frame[-1]:
                self._send(NAK)
                continue
            command = frame[1:3].decode("ascii", "replace")
            data = frame[4:-2].decode("ascii", "replace") if frame[3:4] == STX else ""
            if command == "B0":
                return
            if command == "P1":
                authorised = data == f"({self.expected_password})"
                if not self._send(ACK if authorised else NAK):
                    return
            elif command == "R1":
                reply = self._register(data.partition("(")[0])
                if not self._send(self._block(reply.encode("ascii")), block=True):
                    return
            elif command == "W1":
                if not self._send(ACK if authorised and self._write(data) else NAK):
                    return
            elif command == "R5":
                if not self._send(self._block(self._profile(data).encode("ascii")), block=True):
                    return
            elif not self._send(NAK):
                return

    def _register(self, address: str) -> str:
        for line in readout_lines(self.meter, self.now(), self.meter_time()):
            if line.startswith(f"{address}("):
                return line
        return f"{address}(ERROR)"

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

    def stop(self) -> None:
        """End the thread and close the pty."""
        self._stop.set()
        self._thread.join(timeout=5)
        self.pty.close()


class IecFleet(RunningFleet):
    """Running IEC 62056-21 meters, one pty each."""

    def __init__(self, meters: list[IecMeter], password: str) -> None:
        self.meters = meters
        self.password = password
        self._stopped = False

    @property
    def endpoints(self) -> list[SimulatedEndpoint]:
        """One endpoint per meter: the pty path with the serial medium at 300 7E1."""
        return [
            SimulatedEndpoint(
                meter.serial,
                "iec62056_21",
                "serial",
                meter.pty.path,
                {
                    "baudrate": "300",
                    "bytesize": "7",
                    "parity": "E",
                    "stopbits": "1",
                    "password": self.password,
                },
            )
            for meter in self.meters
        ]

    def stop(self) -> None:
        """Stop every meter; idempotent."""
        if self._stopped:
            return
        self._stopped = True
        for meter in self.meters:
            meter.stop()


class IecSimulator(Simulator):
    """Simulated IEC 62056-21 mode C meters on ptys."""

    name: ClassVar[str] = "iec62056-21"
    description: ClassVar[str] = "IEC 62056-21 mode C meters on pseudo-terminals"

    def start(
        self,
        count: int,
        *,
        host: str = "127.0.0.1",
        base_port: int = 0,
        faults: Faults | None = None,
        options: Mapping[str, str] | None = None,
    ) -> IecFleet:
        """Start ``count`` meters ``IEC-0001`` …; ``host`` and ``base_port`` do not apply."""
        options = dict(options or {})
        unknown = sorted(set(options) - {"password", "time", "interval"})
        if unknown:
            raise InvalidValue(
                "options", f"unknown option {unknown[0]!r}; known: password, time, interval"
            )
        password = options.get("password", "00000000")
        frozen = None
        if options.get("time"):
            try:
                moment = datetime.fromisoformat(options["time"].replace("Z", "+00:00"))
            except ValueError:
                raise InvalidValue("options.time", "must be an ISO time with offset") from None
            if moment.tzinfo is None:
                raise InvalidValue("options.time", "must carry a UTC offset")
            frozen = int(moment.timestamp())
        interval = int(options.get("interval", "15") or 15)
        if interval not in (1, 5, 10, 15, 30, 60):
            raise InvalidValue("options.interval", "must be 1, 5, 10, 15, 30 or 60 minutes")
        meters = [
            IecMeter(f"IEC-{number:04d}", password, faults or Faults(), frozen, interval)
            for number in range(1, count + 1)
        ]
        return IecFleet(meters, password)
