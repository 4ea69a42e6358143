"""Simulated push meters: P1 telegrams (DSMR 2.2, 4.2, 5.0, e-MUCS) and mode D, pushed on ptys
or TCP without a request, served by the driver kit's frame server.

Each meter (``P1-0001`` …) pushes a telegram of its ``version`` (see :mod:`.compose`) every
``interval`` seconds (default: 1 s for DSMR 5.0 and e-MUCS, 10 s otherwise) from the moment a
client connects (TCP) or the pty opens. On a pty, telegrams nobody reads wait in the line's
buffer, as in a USB adapter; the driver drops them when it starts.

Options: ``version`` (``2.2``, ``4.2``, ``5.0``, ``emucs``, ``moded``; default ``5.0``),
``interval`` (seconds), ``transport`` (``pty`` or ``tcp``), ``time`` (a frozen ISO time for
tests), ``pace`` (``true``: bytes at the real rate of the version's line). Faults: ``latency``
(seconds before each telegram), ``corrupt_every`` (every n-th telegram has a damaged digit: its
CRC or BCC fails), ``silent_after`` (stop pushing after n telegrams), ``drop_after`` (TCP:
close after n telegrams), ``clock_drift`` (seconds the telegram clock is off).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from meterhub.errors import InvalidValue
from meterhub.extensions.driverkit import ByteChannel, FrameServer
from meterhub.extensions.simulator import Faults, RunningFleet, SimulatedEndpoint, Simulator
from meterhub.plugins.drivers.iec62056_21.p1.compose import INTERVALS, LINES, VERSIONS, telegram
from meterhub.plugins.drivers.iec62056_21.simulator import send_paced

__all__ = ["P1Fleet", "P1Meter", "P1Simulator", "PushOptions", "corrupted"]

_OPTIONS = ("version", "interval", "transport", "time", "pace")


@dataclass(frozen=True, slots=True)
class PushOptions:
    """How simulated push meters behave beyond the faults."""

    version: str = "5.0"
    interval: float = 1.0
    frozen: int | None = None
    pace: bool = False


def corrupted(data: bytes) -> bytes:
    """``data`` with one digit of the first value changed, as line noise would (same length)."""
    start = data.find(b"(", data.find(b"\n")) + 1
    for index in range(start, len(data)):
        if data[index : index + 1].isdigit():
            digit = (data[index] - 0x30 + 1) % 10 + 0x30
            return data[:index] + bytes([digit]) + data[index + 1 :]
    return data


class P1Meter:
    """One simulated push meter: what it pushes and the session function that pushes it."""

    def __init__(self, serial: str, faults: Faults, options: PushOptions) -> None:
        self.serial = serial
        self.faults = faults
        self.options = options
        #: Telegrams pushed so far (all sessions), for tests.
        self.pushed = 0

    def now(self) -> int:
        """The system time the meter lives in (frozen in tests)."""
        return self.options.frozen if self.options.frozen is not None else int(time.time())

    def telegram(self) -> bytes:
        """The telegram the meter pushes now."""
        at = self.now()
        return telegram(self.options.version, self.serial, at, at + int(self.faults.clock_drift))

    def serve(self, channel: ByteChannel) -> None:
        """The frame server's session function: push until the channel closes."""
        baudrate = int(LINES[self.options.version][0])
        sent = 0
        next_push = time.monotonic()
        while True:
            silent = self.faults.silent_after is not None and sent >= self.faults.silent_after
            if self.faults.drop_after is not None and sent >= self.faults.drop_after:
                return  # over TCP the connection closes; a pty just stays silent
            if not silent:
                if self.faults.latency:
                    time.sleep(self.faults.latency)
                data = self.telegram()
                sent += 1
                self.pushed += 1
                if self.faults.corrupt_every and sent % self.faults.corrupt_every == 0:
                    data = corrupted(data)
                if self.options.pace:
                    send_paced(channel, data, baudrate)
                else:
                    channel.write(data)
            next_push += self.options.interval
            wait = next_push - time.monotonic()
            if wait <= 0:
                next_push = time.monotonic()
                continue
            channel.read(4096, wait)  # a push meter ignores what it hears; this notices a close


class P1Fleet(RunningFleet):
    """Running push meters, one pty or TCP port each."""

    def __init__(
        self, meters: list[P1Meter], server: FrameServer, endpoints: list[SimulatedEndpoint]
    ) -> None:
        self.meters = meters
        self.server = server
        self._endpoints = endpoints

    @property
    def endpoints(self) -> list[SimulatedEndpoint]:
        """One endpoint per meter: a pty with the version's serial line, or a TCP port."""
        return list(self._endpoints)

    def stop(self) -> None:
        """Stop every meter; idempotent."""
        self.server.stop()


def push_options(options: Mapping[str, str]) -> tuple[PushOptions, str]:
    """The meters' options and the transport from the simulator options (checked)."""
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise InvalidValue(
            "options", f"unknown option {unknown[0]!r}; known: {', '.join(_OPTIONS)}"
        )
    version = options.get("version", "") or "5.0"
    if version not in VERSIONS:
        raise InvalidValue("options.version", f"must be one of {', '.join(VERSIONS)}")
    text = options.get("interval", "") or str(INTERVALS[version])
    try:
        interval = float(text)
    except ValueError:
        raise InvalidValue("options.interval", f"must be seconds, got {text!r}") from None
    if not 0.05 <= interval <= 3600:
        raise InvalidValue("options.interval", "must be 0.05..3600 seconds")
    transport = options.get("transport", "") or "pty"
    if transport not in ("pty", "tcp"):
        raise InvalidValue("options.transport", "must be pty or tcp")
    frozen = None
    if options.get("time"):
        try:
            moment = datetime.fromisoformat(options["time"].replace("Z", "+00:00"))
        except ValueError:
            raise InvalidValue("options.time", "must be an ISO time with offset") from None
        if moment.tzinfo is None:
            raise InvalidValue("options.time", "must carry a UTC offset")
        frozen = int(moment.timestamp())
    pace = (options.get("pace", "") or "false").strip().lower()
    if pace not in ("true", "false", "1", "0", "yes", "no"):
        raise InvalidValue("options.pace", f"must be true or false, got {pace!r}")
    return PushOptions(version, interval, frozen, pace in ("true", "1", "yes")), transport


class P1Simulator(Simulator):
    """Simulated P1 / mode D push meters on ptys (or TCP serial bridges)."""

    name: ClassVar[str] = "p1"
    description: ClassVar[str] = "DSMR P1, e-MUCS and mode D meters pushing telegrams"

    def start(
        self,
        count: int,
        *,
        host: str = "127.0.0.1",
        base_port: int = 0,
        faults: Faults | None = None,
        options: Mapping[str, str] | None = None,
    ) -> P1Fleet:
        """Start ``count`` meters ``P1-0001`` …; ``host`` and ``base_port`` apply to TCP."""
        settings, transport = push_options(dict(options or {}))
        baudrate, bytesize, parity = LINES[settings.version]
        server = FrameServer("p1-sim")
        meters, endpoints = [], []
        try:
            for number in range(1, count + 1):
                meter = P1Meter(f"P1-{number:04d}", faults or Faults(), settings)
                meters.append(meter)
                if transport == "tcp":
                    port = base_port + number - 1 if base_port else 0
                    bound = server.listen(host, port, meter.serve)
                    endpoints.append(
                        SimulatedEndpoint(meter.serial, "p1", "tcp", f"{bound[0]}:{bound[1]}", {})
                    )
                else:
                    line = {
                        "baudrate": baudrate,
                        "bytesize": bytesize,
                        "parity": parity,
                        "stopbits": "1",
                    }
                    endpoints.append(
                        SimulatedEndpoint(
                            meter.serial, "p1", "serial", server.serve_pty(meter.serve), line
                        )
                    )
        except BaseException:
            server.stop()
            raise
        return P1Fleet(meters, server, endpoints)
