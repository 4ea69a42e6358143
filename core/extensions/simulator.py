"""Meter simulators: protocol peers that tests, ``make demo`` and benchmarks read from.

A driver plugin may contribute a :class:`Simulator` for its protocol (``dlms``, ``modbus``,
``iec62056-21``). :meth:`Simulator.start` opens real sockets on loopback (or pseudo-terminals for
serial protocols) and returns a :class:`RunningFleet` that says, per meter, which driver, address
and settings read it. Values come from
:class:`meterhub.plugins.drivers.simulated.SimulatedMeter`-style deterministic models, so a test
knows what it must read. :class:`Faults` injects the failures drivers must survive.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import ClassVar, Self

__all__ = ["Faults", "RunningFleet", "SimulatedEndpoint", "Simulator"]


@dataclass(frozen=True, slots=True)
class Faults:
    """Failures a simulated meter produces on demand (all off by default).

    :param latency: seconds added before every reply.
    :param drop_after: close the connection after this many replies (``None``: never).
    :param corrupt_every: corrupt every n-th reply frame (flip a byte, keeping its length).
    :param wrong_password: the meter expects credentials other than the ones it advertises.
    :param clock_drift: seconds the meter clock runs ahead (negative: behind).
    :param silent_after: stop answering (keep the line open) after this many replies.
    """

    latency: float = 0.0
    drop_after: int | None = None
    corrupt_every: int | None = None
    wrong_password: bool = False
    clock_drift: float = 0.0
    silent_after: int | None = None


@dataclass(frozen=True, slots=True)
class SimulatedEndpoint:
    """How to read one simulated meter: everything a communication path would hold.

    ``channels`` lists what the meter offers as ``(OBIS, unit, kind)`` with kind ``register``
    or ``profile`` (a heat meter's energy ``6-0:1.0.0*255`` in Wh); empty means the electricity
    defaults of the demo. ``meter_type`` names the meter type (``register_meter_types()``) the
    simulated meter imitates, empty when none: the demo then takes the channels, model and
    medium from the type.
    """

    serial: str
    driver: str
    medium: str
    address: str
    settings: Mapping[str, str] = field(default_factory=dict)
    channels: tuple[tuple[str, str, str], ...] = ()
    meter_type: str = ""


class RunningFleet(ABC):
    """Simulated meters serving until :meth:`stop`; a context manager."""

    @property
    @abstractmethod
    def endpoints(self) -> list[SimulatedEndpoint]:
        """One endpoint per simulated meter, in serial order."""

    @abstractmethod
    def stop(self) -> None:
        """Close every socket and pty and end the serving threads; may be called twice."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class Simulator(ABC):
    """Starts simulated meters speaking one protocol."""

    #: The contribution hook that collects subclasses (see :mod:`meterhub.hookspecs`).
    hook: ClassVar[str] = "register_simulators"
    #: The class attribute that names a contribution (:attr:`name`).
    key: ClassVar[str] = "name"
    #: The protocol name ``meterhub simulate --protocol`` takes.
    name: ClassVar[str]
    #: One line for ``meterhub simulate --help``.
    description: ClassVar[str] = ""

    @abstractmethod
    def start(
        self,
        count: int,
        *,
        host: str = "127.0.0.1",
        base_port: int = 0,
        faults: Faults | None = None,
        options: Mapping[str, str] | None = None,
    ) -> RunningFleet:
        """Start ``count`` meters; ``base_port`` 0 picks free ports.

        :param options: protocol specific (``framing=hdlc``, ``authentication=high``, ...).
        """
