"""Finding the meters on a wired bus: the secondary-address search and the primary scan.

**Secondary search** (EN 13757-3, the wildcard scan): select with a mask in which ``F`` digits
match anything (SND_UD CI 52h to address 253), then ask the selected meters for data (REQ_UD2
to 253). No answer: nobody matches. A valid telegram: exactly one meter matches and it says
who it is. A broken answer (checksum, framing): several meters answered at once — a
*collision* — so the search fixes the next wildcard digit to 0..9 and tries each. Digits are
fixed from the most significant identification digit on; a collision with all eight digits
fixed (meters with the same identification number and different manufacturer, version or
medium) is reported as unresolved, with its mask.

**Primary scan**: SND_NKE to each primary address; an E5h means a meter lives there (its
identity then comes from one REQ_UD2), a broken answer means two meters share the address.

Both report what answered (:class:`SearchResult`); no request is repeated, since silence is the
usual answer here.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from meterhub.extensions.driver import MeterTimeout, ProtocolError
from meterhub.plugins.drivers.mbus import pymeterbus_compat as requests
from meterhub.plugins.drivers.mbus.frames import Frame, FrameError, read_frame

if TYPE_CHECKING:
    from meterhub.plugins.drivers.mbus.wired import MbusConnection

__all__ = ["FoundMeter", "SearchResult", "scan_primary", "search_secondary"]


@dataclass(frozen=True, slots=True)
class FoundMeter:
    """A meter that answered: its secondary address fields and its primary address."""

    secondary_address: str
    identification: str
    manufacturer: str
    version: int
    medium: int
    primary_address: int


@dataclass
class SearchResult:
    """What answered: the meters, how many probes it took, the collisions seen and left."""

    meters: list[FoundMeter] = field(default_factory=list)
    probes: int = 0
    collisions: int = 0
    unresolved: list[str] = field(default_factory=list)
    seconds: float = 0.0
    bytes_sent: int = 0
    bytes_received: int = 0


class _Probe:
    """One request and at most one answer, without repeats."""

    def __init__(self, connection: MbusConnection, result: SearchResult) -> None:
        self.connection = connection
        self.result = result

    def ask(self, request: bytes, what: str) -> Frame | str:
        """The answer frame, ``"none"`` (silence) or ``"collision"`` (a broken answer)."""
        settings = self.connection.settings
        self.result.bytes_sent += len(request)
        self.connection.medium.write(request)
        try:
            frame = read_frame(
                self.connection.medium, settings.timeout, settings.bus_baudrate, what
            )
        except MeterTimeout as exc:
            self.result.bytes_received += len(exc.frame or b"")
            if exc.frame:
                self._settle()
                return "collision"
            return "none"
        except FrameError as exc:
            self.result.bytes_received += len(exc.frame or b"")
            self._settle()
            return "collision"
        self.result.bytes_received += len(frame.raw)
        return frame

    def _settle(self) -> None:
        """Let the rest of a garbled answer arrive, then drop it."""
        time.sleep(self.connection.settings.timeout / 2)
        discard = getattr(self.connection.medium, "discard_input", None)
        if discard is not None:
            discard()
        else:
            while self.connection.medium.read(4096, 0.01):
                pass


def _found(frame: Frame) -> FoundMeter:
    from meterhub.plugins.drivers.mbus.wired import parse_telegram

    telegram = parse_telegram(frame)
    return FoundMeter(
        telegram.secondary_address,
        telegram.identification,
        telegram.manufacturer,
        telegram.version,
        telegram.medium,
        frame.address,
    )


def _probe_mask(probe: _Probe, mask: str) -> str | FoundMeter:
    probe.result.probes += 1
    answer = probe.ask(requests.select_frame(mask), f"select {mask}")
    if isinstance(answer, str):
        return answer
    if answer.kind != "ack":
        return "collision"
    reply = probe.ask(requests.request_frame(requests.SELECTED, True), f"data of {mask}")
    if isinstance(reply, str):
        return reply
    try:
        return _found(reply)
    except (ProtocolError, ValueError):  # an overlay that happened to pass the checksum
        return "collision"


def search_secondary(connection: MbusConnection, mask: str) -> SearchResult:
    """Every meter matching ``mask`` (see the module docstring)."""
    result = SearchResult()
    probe = _Probe(connection, result)
    started = time.monotonic()
    seen: dict[str, FoundMeter] = {}

    def walk(current: str) -> None:
        answer = _probe_mask(probe, current)
        if isinstance(answer, FoundMeter):
            seen.setdefault(answer.secondary_address, answer)
            return
        if answer == "none":
            return
        result.collisions += 1
        position = current.find("F", 0, 8)
        if position < 0:
            result.unresolved.append(current)
            return
        for digit in "0123456789":
            walk(current[:position] + digit + current[position + 1 :])

    walk(mask)
    result.meters = sorted(seen.values(), key=lambda meter: meter.secondary_address)
    result.seconds = time.monotonic() - started
    return result


def scan_primary(connection: MbusConnection, addresses: Sequence[int]) -> SearchResult:
    """Every primary address in ``addresses`` that answers SND_NKE."""
    result = SearchResult()
    probe = _Probe(connection, result)
    started = time.monotonic()
    for address in addresses:
        result.probes += 1
        answer = probe.ask(requests.snd_nke_frame(address), f"SND_NKE {address}")
        if answer == "none":
            continue
        if answer == "collision":
            result.collisions += 1
            result.unresolved.append(f"primary {address}")
            continue
        reply = probe.ask(requests.request_frame(address, True), f"data of {address}")
        if isinstance(reply, Frame):
            try:
                result.meters.append(_found(reply))
                continue
            except (ProtocolError, ValueError):
                pass
        result.collisions += 1
        result.unresolved.append(f"primary {address}")
    result.seconds = time.monotonic() - started
    return result
