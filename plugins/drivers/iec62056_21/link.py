"""Reading answers the way IEC 62056-21 times them: a reaction time, then characters.

The standard bounds the meter's *reaction time* (from the end of a request to the first
character of the answer: 20 or 200 ms at least, 1.5 s at most) and the *inter-character
time* within an answer (under 1.5 s). It sets no limit on a whole answer, which grows with
the data: a 4.5 KB readout at 9600 Bd takes about 5 s, at 300 Bd two and a half minutes.
:func:`read_answer` therefore waits ``reaction`` seconds for the first byte and then
``inter_character`` seconds for each further one; a meter that falls silent mid-answer fails
after the inter-character time, not after some whole-answer deadline.

Bytes read past the answer stay pending on the medium for the next read (the driver kit's
pushback), as with :func:`meterhub.extensions.driverkit.read_until`.
"""

from __future__ import annotations

import time

from meterhub.extensions.driver import MeterTimeout, ProtocolError
from meterhub.extensions.driverkit import pending, take_pending, unread
from meterhub.extensions.medium import Medium

__all__ = ["Timing", "read_answer", "skip_until"]


class Timing:
    """The two time-outs of an exchange, in seconds."""

    __slots__ = ("inter_character", "reaction")

    def __init__(self, reaction: float, inter_character: float) -> None:
        self.reaction = reaction
        self.inter_character = inter_character


def _chunk(medium: Medium, size: int, timeout: float) -> bytes:
    return take_pending(medium, size) or medium.read(size, timeout)


def read_answer(
    medium: Medium,
    terminator: bytes | tuple[bytes, ...],
    timing: Timing,
    *,
    extra: int = 0,
    max_size: int = 65536,
    what: str = "answer",
    started: bool = False,
) -> bytes:
    """Read until ``terminator`` (or any of several) and ``extra`` bytes after it.

    :param started: the answer's first byte was already read (wait only the inter-character
        time for the rest).
    :raises MeterTimeout: no first byte within the reaction time, or a gap longer than the
        inter-character time (``frame`` holds what arrived).
    :raises ProtocolError: more than ``max_size`` bytes came without a terminator.
    """
    terminators = (terminator,) if isinstance(terminator, bytes) else terminator
    longest = max(len(end) for end in terminators)
    data = bytearray()
    searched = 0
    wait = timing.inter_character if started else timing.reaction
    while True:
        cut = -1
        for end in terminators:
            index = data.find(end, max(searched - longest, 0))
            if index >= 0 and (cut < 0 or index + len(end) < cut):
                cut = index + len(end)
        if cut >= 0 and len(data) >= cut + extra:
            unread(medium, bytes(data[cut + extra :]))
            return bytes(data[: cut + extra])
        if cut < 0:
            searched = len(data)
        if len(data) >= max_size:
            raise ProtocolError(
                f"{what}: no end within {max_size} bytes (oversized)", frame=bytes(data[-256:])
            )
        deadline = time.monotonic() + wait
        chunk = b""
        while not chunk:
            left = deadline - time.monotonic()
            if left <= 0 and not pending(medium):
                if not data and not started:
                    raise MeterTimeout(
                        f"{what}: no answer within {timing.reaction:g} s (reaction time)",
                        frame=b"",
                    )
                raise MeterTimeout(
                    f"{what}: the meter fell silent for {timing.inter_character:g} s after "
                    f"{len(data)} bytes (inter-character time)",
                    frame=bytes(data),
                )
            chunk = _chunk(medium, 4096, max(left, 0.0))
        data += chunk
        wait = timing.inter_character


def skip_until(medium: Medium, marker: bytes, timeout: float, *, what: str) -> None:
    """Drop bytes until ``marker`` arrives within ``timeout``; leave it pending.

    For push meters: a connection that starts mid-telegram waits for the next start.

    :raises MeterTimeout: no ``marker`` in time.
    """
    deadline = time.monotonic() + timeout
    tail = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0 and not pending(medium):
            raise MeterTimeout(f"{what}: nothing within {timeout:g} s", frame=tail[-64:])
        chunk = tail + _chunk(medium, 4096, max(left, 0.0))
        index = chunk.find(marker)
        if index >= 0:
            unread(medium, chunk[index:])
            return
        tail = chunk[-(len(marker) - 1) :] if len(marker) > 1 else b""
