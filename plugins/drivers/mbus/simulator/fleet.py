"""The ``mbus`` and ``wmbus`` simulators that ``meterhub simulate`` and ``make demo`` start.

``mbus``: one bus of ``count`` meters (heat, water, warm water and gas in turn; primary
addresses 1..count; identification numbers 31000001...), served by a TCP gateway and, with
``transport=pty`` or ``both``, on a pseudo-terminal. Options: ``transport`` (``tcp``, ``pty``,
``both``), ``baudrate`` (pace every byte at this rate; 0 = as fast as possible), ``time`` (a
frozen ISO time), ``storages`` (months of history, default 12), ``media`` (a comma-separated
cycle of ``heat``, ``water``, ``warm_water``, ``gas``) or ``types`` (a comma-separated cycle of
shipped meter types, ``kamstrup-multical-601,kamstrup-flowiq-2101``: each meter sends its type's
record layout, see :mod:`.layouts`). Faults: ``latency``, ``corrupt_every`` (a bad checksum),
``silent_after``, ``drop_after``.

``wmbus``: ``count`` meters (identification numbers 32000001...) sending telegrams every
``interval`` seconds (default 5) to the clients of a TCP feed, and with ``udp=host:port`` and
``file=path`` there too. Options: ``security`` (0, 5 or 7; default 5), ``format`` (``a``,
``b``, ``none``), ``interval``, ``time``, ``media`` or ``types`` (the ``wmbus`` meter types),
``udp``, ``file``. The endpoints carry each
meter's key (a declared secret) so the demo stores it encrypted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from meterhub.errors import InvalidValue
from meterhub.extensions.driverkit import FrameServer
from meterhub.extensions.simulator import Faults, RunningFleet, SimulatedEndpoint, Simulator
from meterhub.plugins.drivers.mbus.catalogue import load_catalogue
from meterhub.plugins.drivers.mbus.simulator.air import TelegramGenerator, meter_key
from meterhub.plugins.drivers.mbus.simulator.bus import SimulatedBus
from meterhub.plugins.drivers.mbus.simulator.layouts import layout, layout_names
from meterhub.plugins.drivers.mbus.simulator.model import (
    GAS,
    HEAT,
    WARM_WATER,
    WATER,
    MeterSpec,
)

__all__ = [
    "MbusFleet",
    "MbusSimulator",
    "WmbusFleet",
    "WmbusSimulator",
    "parse_media",
    "typed_specs",
]

_MEDIA = {"heat": HEAT, "water": WATER, "warm_water": WARM_WATER, "gas": GAS}
#: The line settings of the simulated bus on a pty (see :attr:`MbusFleet.endpoints`).
PTY_LINE = {"baudrate": "2400", "parity": "N"}
#: Channels the demo registers per medium: (OBIS, unit, kind).
DEMO_CHANNELS = {
    HEAT: (("6-0:1.0.0*255", "Wh", "register"), ("6-0:2.0.0*255", "m³", "register")),
    WATER: (("8-0:1.0.0*255", "m³", "register"),),
    WARM_WATER: (("9-0:1.0.0*255", "m³", "register"),),
    GAS: (("7-0:3.0.0*255", "m³", "register"),),
}


def parse_media(text: str | None) -> list[int]:
    """``heat,water`` → device types; :class:`InvalidValue` for an unknown name."""
    names = [name.strip() for name in (text or "heat,water,warm_water,gas").split(",") if name]
    unknown = [name for name in names if name not in _MEDIA]
    if unknown or not names:
        raise InvalidValue("options.media", f"names {', '.join(sorted(_MEDIA))}, comma-separated")
    return [_MEDIA[name] for name in names]


def typed_specs(
    text: str, driver: str, count: int, first: int, *, storages: int = 12
) -> list[MeterSpec]:
    """``count`` meters of the meter types named in ``text`` (comma-separated, in turn),
    numbered from ``first`` (primary addresses 1..count); :class:`InvalidValue` for a type the
    ``driver`` does not read or the simulator cannot imitate."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    known = {kind.name: kind for kind in load_catalogue(driver)}
    wrong = [name for name in names if name not in known or name not in layout_names()]
    if wrong or not names:
        choices = ", ".join(name for name in layout_names() if name in known)
        raise InvalidValue("options.types", f"{driver} meter types, comma-separated: {choices}")
    specs = []
    for number in range(1, count + 1):
        name = names[(number - 1) % len(names)]
        shape = layout(name)
        specs.append(
            MeterSpec(
                f"{first + number:08d}",
                shape.medium,
                number,
                shape.version,
                known[name].manufacturer,
                storages,
                name,
            )
        )
    return specs


def endpoint_channels(spec: MeterSpec, driver: str) -> tuple[tuple[str, str, str], ...]:
    """What a simulated meter offers: its type's channels, else the demo's per medium."""
    if spec.layout is None:
        return DEMO_CHANNELS[spec.medium]
    kind = {kind.name: kind for kind in load_catalogue(driver)}[spec.layout]
    return tuple((channel.obis, channel.unit or "", channel.kind) for channel in kind.channels)


def _frozen(options: Mapping[str, str]) -> int | None:
    text = options.get("time")
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidValue("options.time", "must be an ISO time with offset") from None
    if moment.tzinfo is None:
        raise InvalidValue("options.time", "must carry a UTC offset")
    return int(moment.timestamp())


def _number(
    options: Mapping[str, str], name: str, default: float, low: float, high: float
) -> float:
    text = options.get(name, "")
    try:
        value = float(text) if text else default
    except ValueError:
        raise InvalidValue(f"options.{name}", f"must be a number, got {text!r}") from None
    if not low <= value <= high:
        raise InvalidValue(f"options.{name}", f"must be within {low:g}..{high:g}")
    return value


def _check_options(options: Mapping[str, str], known: set[str]) -> None:
    unknown = sorted(set(options) - known)
    if unknown:
        raise InvalidValue(
            "options", f"unknown option {unknown[0]!r}; known: {', '.join(sorted(known))}"
        )


class MbusFleet(RunningFleet):
    """A running simulated bus."""

    def __init__(
        self, bus: SimulatedBus, server: FrameServer, tcp: tuple[str, int] | None, pty: str | None
    ) -> None:
        self.bus = bus
        self.server = server
        self.tcp = tcp
        self.pty = pty

    @property
    def endpoints(self) -> list[SimulatedEndpoint]:
        """One endpoint per meter: the gateway (or the pty) and the meter's primary address."""
        found = []
        for slave in self.bus.slaves:
            spec = slave.spec
            settings = {"primary_address": str(spec.primary_address)}
            if self.tcp is not None:
                medium, address = "tcp", f"{self.tcp[0]}:{self.tcp[1]}"
            else:
                # A pty refuses even parity when it is opened a second time (EINVAL from
                # tcsetattr); the bits on a pty are not physical, so no parity is the same line.
                medium, address = "serial", str(self.pty)
                settings.update(PTY_LINE)
            found.append(
                SimulatedEndpoint(
                    spec.identification,
                    "mbus",
                    medium,
                    address,
                    settings,
                    channels=endpoint_channels(spec, "mbus"),
                    meter_type=spec.layout or "",
                )
            )
        return found

    def stop(self) -> None:
        """Close the gateway and the pty; idempotent."""
        self.server.stop()


class MbusSimulator(Simulator):
    """A wired M-Bus with heat, water and gas meters, behind a TCP gateway and/or on a pty."""

    name: ClassVar[str] = "mbus"
    description: ClassVar[str] = "wired M-Bus meters (heat, water, gas) on one bus: TCP and pty"

    def start(
        self,
        count: int,
        *,
        host: str = "127.0.0.1",
        base_port: int = 0,
        faults: Faults | None = None,
        options: Mapping[str, str] | None = None,
    ) -> MbusFleet:
        """Start a bus of ``count`` meters (at most 250: the primary addresses)."""
        options = dict(options or {})
        _check_options(options, {"transport", "baudrate", "time", "storages", "media", "types"})
        if not 1 <= count <= 250:
            raise InvalidValue("count", "a wired bus has 1..250 meters (primary addresses)")
        transport = options.get("transport") or "tcp"
        if transport not in ("tcp", "pty", "both"):
            raise InvalidValue("options.transport", "must be tcp, pty or both")
        baudrate = int(_number(options, "baudrate", 0, 0, 38400))
        storages = int(_number(options, "storages", 12, 0, 60))
        if options.get("types") and options.get("media"):
            raise InvalidValue("options.types", "give types or media, not both")
        if options.get("types"):
            specs = typed_specs(options["types"], "mbus", count, 31000000, storages=storages)
        else:
            media = parse_media(options.get("media"))
            specs = [
                MeterSpec(
                    f"{31000000 + number:08d}",
                    media[(number - 1) % len(media)],
                    number,
                    storages=storages,
                )
                for number in range(1, count + 1)
            ]
        bus = SimulatedBus(specs, faults or Faults(), _frozen(options), baudrate)
        server = FrameServer("mbus-sim")
        tcp = pty = None
        try:
            if transport in ("tcp", "both"):
                tcp = server.listen(host, base_port, bus.serve)
            if transport in ("pty", "both"):
                pty = server.serve_pty(bus.serve)
        except BaseException:
            server.stop()
            raise
        return MbusFleet(bus, server, tcp, pty)


class WmbusFleet(RunningFleet):
    """Running wireless meters and their feed."""

    def __init__(
        self, generator: TelegramGenerator, server: FrameServer, feed: tuple[str, int]
    ) -> None:
        self.generator = generator
        self.server = server
        self.feed = feed

    @property
    def endpoints(self) -> list[SimulatedEndpoint]:
        """One endpoint per meter: the TCP feed, the meter's number, manufacturer and key."""
        found = []
        for spec in self.generator.specs:
            settings = {"meter_id": spec.identification, "manufacturer": spec.manufacturer}
            if self.generator.security:
                settings["key"] = meter_key(spec.identification).hex().upper()
            found.append(
                SimulatedEndpoint(
                    spec.identification,
                    "wmbus",
                    "tcp",
                    f"{self.feed[0]}:{self.feed[1]}",
                    settings,
                    channels=endpoint_channels(spec, "wmbus"),
                    meter_type=spec.layout or "",
                )
            )
        return found

    def stop(self) -> None:
        """Stop sending and close the feed; idempotent."""
        self.generator.stop()
        self.server.stop()


class WmbusSimulator(Simulator):
    """Wireless M-Bus meters sending OMS telegrams (modes 0, 5, 7) to a TCP/UDP feed and files."""

    name: ClassVar[str] = "wmbus"
    description: ClassVar[str] = (
        "wireless M-Bus/OMS meters: encrypted telegrams over TCP, UDP, file"
    )

    def start(
        self,
        count: int,
        *,
        host: str = "127.0.0.1",
        base_port: int = 0,
        faults: Faults | None = None,
        options: Mapping[str, str] | None = None,
    ) -> WmbusFleet:
        """Start ``count`` meters and the TCP feed on ``host:base_port``."""
        options = dict(options or {})
        _check_options(
            options, {"security", "format", "interval", "time", "media", "types", "udp", "file"}
        )
        if not 1 <= count <= 100_000:
            raise InvalidValue("count", "must be 1..100000")
        security = options.get("security") or "5"
        if security not in ("0", "5", "7"):
            raise InvalidValue("options.security", "must be 0, 5 or 7")
        frame_format = (options.get("format") or "a").lower()
        if frame_format not in ("a", "b", "none"):
            raise InvalidValue("options.format", "must be a, b or none")
        udp = None
        if options.get("udp"):
            udp_host, _, udp_port = options["udp"].rpartition(":")
            if not udp_host or not udp_port.isdigit():
                raise InvalidValue("options.udp", "must be host:port")
            udp = (udp_host, int(udp_port))
        if options.get("types") and options.get("media"):
            raise InvalidValue("options.types", "give types or media, not both")
        if options.get("types"):
            specs = [
                replace(spec, primary_address=0)
                for spec in typed_specs(options["types"], "wmbus", count, 32000000)
            ]
        else:
            media = parse_media(options.get("media"))
            specs = [
                MeterSpec(f"{32000000 + number:08d}", media[(number - 1) % len(media)], 0)
                for number in range(1, count + 1)
            ]
        generator = TelegramGenerator(
            specs,
            security=int(security),
            frame_format=frame_format,
            interval=_number(options, "interval", 5.0, 0.01, 86400),
            frozen=_frozen(options),
            udp_target=udp,
            file=Path(options["file"]) if options.get("file") else None,
        )
        server = FrameServer("wmbus-sim")
        try:
            feed = server.listen(host, base_port, generator.serve)
        except BaseException:
            server.stop()
            raise
        generator.start()
        return WmbusFleet(generator, server, feed)
