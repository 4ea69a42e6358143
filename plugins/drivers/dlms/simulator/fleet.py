"""The DLMS fleet: simulated meters served over TCP and ptys on the driver kit's frame server."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar

from gurux_dlms.enums import InterfaceType

from meterhub.errors import InvalidValue
from meterhub.extensions.driverkit import ByteChannel, FrameServer, SimulatedMeter
from meterhub.extensions.simulator import Faults, RunningFleet, SimulatedEndpoint, Simulator
from meterhub.plugins.drivers.dlms.addressing import server_address
from meterhub.plugins.drivers.dlms.mechanisms import PASSWORD_MECHANISMS, canonical_mechanism
from meterhub.plugins.drivers.dlms.simulator.push import (
    PUSH_OBJECTS,
    CallIn,
    call_in,
    logical_device_name,
)
from meterhub.plugins.drivers.dlms.simulator.server import _Session
from meterhub.plugins.drivers.dlms.simulator.state import (
    _AUTH_LEVELS,
    CLIENT_MANAGEMENT,
    LOGICAL_ADDRESS,
    PHYSICAL_ADDRESS,
    ImageState,
    MeterState,
    meter_secrets,
)

__all__ = ["DlmsFleet", "DlmsSimulator"]


@dataclass
class _Meter:
    state: MeterState
    endpoint: SimulatedEndpoint
    interface_type: InterfaceType
    #: At most this many clients served at a time (``None``: no limit).
    slots: threading.Semaphore | None = None


def _tcp_session(meter: _Meter) -> Callable[[ByteChannel], None]:
    """One association per connection; a ``drop_after`` fault ends the connection.

    With ``max_clients``, a connection beyond the limit waits (unserved) until an earlier one
    ends, as a meter that takes one client at a time: a client that leaks its line blocks the
    next one.
    """

    def serve(channel: ByteChannel) -> None:
        slots = meter.slots
        if slots is not None:
            while not slots.acquire(timeout=0.1):
                if getattr(channel, "closed", None) is not None and channel.closed.is_set():
                    return
            try:
                _serve(channel)
            finally:
                slots.release()
            return
        _serve(channel)

    def _serve(channel: ByteChannel) -> None:
        session = _Session(meter.state, meter.interface_type)
        while True:
            data = channel.read(4096, 0.2)
            if not data:
                continue
            answer, drop = session.handle(data)
            if answer is not None:
                channel.write(answer)
            if drop:
                return

    return serve


def _pty_session(meter: _Meter) -> Callable[[ByteChannel], None]:
    """A serial line cannot drop: a ``drop_after`` fault starts a fresh server instead."""

    def serve(channel: ByteChannel) -> None:
        session = _Session(meter.state, meter.interface_type)
        while True:
            data = channel.read(4096, 0.2)
            if not data:
                continue
            answer, drop = session.handle(data)
            if answer is not None:
                channel.write(answer)
            if drop:
                session = _Session(meter.state, meter.interface_type)

    return serve


class DlmsFleet(RunningFleet):
    """Simulated DLMS meters serving until :meth:`stop`."""

    def __init__(self, meters: list[_Meter], server: FrameServer) -> None:
        self._meters = meters
        self._server = server

    @property
    def endpoints(self) -> list[SimulatedEndpoint]:
        """One endpoint per meter, in serial order."""
        return [meter.endpoint for meter in self._meters]

    def state(self, serial: str) -> MeterState:
        """The state of the meter ``serial`` (tests look at its breaker, clock, calendar)."""
        for meter in self._meters:
            if meter.state.serial == serial:
                return meter.state
        raise KeyError(serial)

    def call_in(
        self,
        serial: str,
        address: tuple[str, int],
        *,
        at: int | None = None,
        alarm_bits: int = 0,
        event_code: int = 0,
        stay: float = 5.0,
        frames: list[bytes] | None = None,
    ) -> CallIn:
        """Meter ``serial`` calls the listener at ``address``, pushes and serves the head-end
        on that connection (:func:`.push.call_in`)."""
        return call_in(
            self.state(serial), address, at=at, alarm_bits=alarm_bits, event_code=event_code,
            stay=stay, frames=frames,
        )  # fmt: skip

    def stop(self) -> None:
        """Close every socket and pty and end the threads; may be called twice."""
        self._server.stop()


class DlmsSimulator(Simulator):
    """Starts DLMS/COSEM meters on gurux-dlms' server classes (see the package docstring)."""

    name: ClassVar[str] = "dlms"
    description: ClassVar[str] = (
        "DLMS/COSEM meters (gurux-dlms server): wrapper or HDLC over TCP, HDLC over a pty"
    )

    def start(
        self,
        count: int,
        *,
        host: str = "127.0.0.1",
        base_port: int = 0,
        faults: Faults | None = None,
        options: Mapping[str, str] | None = None,
    ) -> DlmsFleet:
        """Start ``count`` meters; see the package docstring for the options."""
        options = dict(options or {})
        framing = options.get("framing", "wrapper")
        transport = options.get("transport", "tcp")
        authentication = options.get("authentication", "none")
        prefix = options.get("serial_prefix", "DLMS-")
        if framing not in ("wrapper", "hdlc"):
            raise ValueError(f"framing must be wrapper or hdlc, not {framing!r}")
        if transport not in ("tcp", "serial"):
            raise ValueError(f"transport must be tcp or serial, not {transport!r}")
        if transport == "serial":
            framing = "hdlc"
        if authentication not in _AUTH_LEVELS:
            raise ValueError(
                f"authentication must be one of {', '.join(_AUTH_LEVELS)}, not {authentication!r}"
            )
        security = options.get("security", "none")
        if security not in _SECURITY_POLICIES:
            raise ValueError(
                f"security must be one of {', '.join(_SECURITY_POLICIES)}, not {security!r}"
            )
        referencing = options.get("referencing", "ln")
        if referencing not in ("ln", "sn"):
            raise ValueError(f"referencing must be ln or sn, not {referencing!r}")
        if referencing == "sn" and security != "none":
            raise ValueError("a meter with short names serves no ciphered associations")
        suite = _whole(options, "security_suite", 0)
        if suite not in (0, 1, 2):
            raise ValueError(f"security_suite must be 0, 1 or 2, not {suite}")
        image_options = _image_options(options)
        addressing = _addressing(options)
        max_clients = _whole(options, "max_clients", 0)
        interface = InterfaceType.HDLC if framing == "hdlc" else InterfaceType.WRAPPER
        server = FrameServer("dlms-sim")
        meters: list[_Meter] = []
        try:
            for number in range(1, count + 1):
                serial = f"{prefix}{number:04d}"
                secrets = meter_secrets(serial, suite)
                state = MeterState(
                    serial, SimulatedMeter(serial), faults or Faults(), authentication, secrets,
                    image=image_options(), security=security, security_suite=suite,
                    referencing=referencing, **addressing,
                )  # fmt: skip
                settings = _endpoint_settings(
                    framing, authentication, secrets, addressing, security, suite
                )
                if referencing == "sn":
                    settings["referencing"] = "sn"
                else:  # a meter that calls in names itself and pushes (simulator.push)
                    settings["logical_device_name"] = logical_device_name(serial)
                    settings["push_objects"] = PUSH_OBJECTS
                slots = threading.Semaphore(max_clients) if max_clients else None
                endpoint = SimulatedEndpoint(serial, "dlms", "", "")
                meter = _Meter(state, endpoint, interface, slots)
                if transport == "tcp":
                    port = base_port + number - 1 if base_port else 0
                    bound_host, bound_port = server.listen(host, port, _tcp_session(meter))
                    address, medium = f"{bound_host}:{bound_port}", "tcp"
                else:
                    address, medium = server.serve_pty(_pty_session(meter)), "serial"
                meter.endpoint = SimulatedEndpoint(serial, "dlms", medium, address, settings)
                meters.append(meter)
        except Exception:
            server.stop()
            raise
        return DlmsFleet(meters, server)


def _image_options(options: Mapping[str, str]) -> Callable[[], ImageState]:
    """Check the ``image_*`` options; return a factory of one meter's :class:`ImageState`."""
    mode = options.get("image_transfer", "yes")
    if mode not in ("yes", "no", "disabled"):
        raise ValueError(f"image_transfer must be yes, no or disabled, not {mode!r}")
    verify = options.get("image_verify", "ok")
    if verify not in ("ok", "fail"):
        raise ValueError(f"image_verify must be ok or fail, not {verify!r}")
    try:
        block_size = int(options.get("image_block_size", "192"))
        busy = float(options.get("image_busy", "0"))
        lose = {int(options["image_lose_block"])} if options.get("image_lose_block") else set()
    except ValueError:
        raise ValueError("image_block_size, image_busy and image_lose_block are numbers") from None
    if not 16 <= block_size <= 960:
        raise ValueError(f"image_block_size must be 16..960, not {block_size}")

    def make() -> ImageState:
        return ImageState(
            present=mode != "no",
            enabled=mode == "yes",
            block_size=block_size,
            verify_ok=verify == "ok",
            busy=busy,
            lose=set(lose),
        )

    return make


def _whole(options: Mapping[str, str], name: str, default: int) -> int:
    try:
        return int(options.get(name, str(default)), 0)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {options[name]!r}") from None


def _addressing(options: Mapping[str, str]) -> dict[str, int]:
    """The HDLC address options, checked like the driver's settings."""
    found = {
        "logical_address": _whole(options, "logical_address", LOGICAL_ADDRESS),
        "physical_address": _whole(options, "physical_address", PHYSICAL_ADDRESS),
        "address_size": _whole(options, "address_size", 0),
    }
    try:
        server_address(found["logical_address"], found["physical_address"], found["address_size"])
    except InvalidValue as exc:
        raise ValueError(f"{exc.field.removeprefix('settings.')}: {exc.reason}") from None
    return found


_SECURITY_POLICIES = ("none", "authentication", "encryption", "authentication_encryption")


def _endpoint_settings(
    framing: str,
    authentication: str,
    secrets: dict[str, str],
    addressing: dict[str, int],
    security: str = "none",
    suite: int = 0,
) -> dict:
    settings = {"framing": framing, "authentication": authentication}
    if framing == "hdlc":
        for name, value in addressing.items():
            settings[name] = str(value)
    settings["client_address"] = str(CLIENT_MANAGEMENT)
    mechanism = canonical_mechanism(authentication)
    if mechanism == "low":
        settings["password"] = secrets["password"]
    elif mechanism in PASSWORD_MECHANISMS:
        settings["password"] = secrets["hls_secret"]
    if mechanism == "sha256":
        settings["system_title"] = secrets["system_title"]
    if mechanism == "gmac" or security != "none":
        for name in ("authentication_key", "block_cipher_key", "system_title"):
            settings[name] = secrets[name]
    if security != "none":
        settings["security"] = security
    if suite:
        settings["security_suite"] = str(suite)
    return settings
