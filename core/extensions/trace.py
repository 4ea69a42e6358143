"""Frame traces: the debug log of one driver session (direction, time, bytes in hex).

A :class:`~meterhub.extensions.medium.Medium` given a trace records every write (``tx``) and
every non-empty read (``rx``); drivers add ``note`` entries (``"AARQ sent"``, ``"bad BCC"``) and
attach the trace's last frame to a :class:`~meterhub.extensions.driver.DriverError`. The
acquisition engine stores :meth:`FrameTrace.as_records` as the session's debug log.

**Secrets never reach a trace.** A driver declares the byte strings that must not be recorded
(a password, an authentication value) with :meth:`FrameTrace.add_secret` for the whole session
or :meth:`FrameTrace.secret` around one exchange, or gives the exact places with
:meth:`FrameTrace.mask_next` for the next frame sent. Every occurrence in a recorded frame is
replaced by as many ``*`` bytes (``2A``): the frame keeps its length, so offsets still match the
protocol, and the entry's :attr:`TraceEntry.masked` lists the replaced spans;
:meth:`TraceEntry.line` shows them as ``**``. Masking happens before the entry is stored: the
secret is never in the trace's memory, nor in its records.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from typing import Any

__all__ = ["MASK_BYTE", "Direction", "FrameTrace", "TraceEntry", "mask_spans"]

#: The byte that replaces every byte of a secret in a recorded frame (``*``).
MASK_BYTE = 0x2A


class Direction(StrEnum):
    """Which way a frame went, seen from MeterHub."""

    TX = "tx"
    RX = "rx"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """One recorded frame or note."""

    time: datetime
    direction: Direction
    data: bytes = b""
    text: str = ""
    #: ``(start, end)`` byte spans of ``data`` that held a secret and now hold ``*`` bytes.
    masked: tuple[tuple[int, int], ...] = ()

    def line(self) -> str:
        """``2026-11-28T12:00:00.123456Z tx 7E A0 ...`` or ``... note text``.

        Masked bytes show as ``**`` and the line ends with ``(masked)``.
        """
        stamp = self.time.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        if self.direction == Direction.NOTE:
            body = self.text
        else:
            digits = [f"{byte:02X}" for byte in self.data]
            for start, end in self.masked:
                digits[start:end] = ["**"] * (end - start)
            body = " ".join(digits) + (" (masked)" if self.masked else "")
        return f"{stamp} {self.direction.value} {body}".rstrip()


def mask_spans(data: bytes, secrets: Iterable[bytes]) -> list[tuple[int, int]]:
    """The spans of ``data`` where any of ``secrets`` occurs (overlaps merged, sorted)."""
    spans = []
    for secret in secrets:
        if not secret:
            continue
        start = data.find(secret)
        while start >= 0:
            spans.append((start, start + len(secret)))
            start = data.find(secret, start + 1)
    return _merge(spans)


def _merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _apply(data: bytes, spans: Iterable[tuple[int, int]]) -> bytes:
    """``data`` with ``*`` bytes in ``spans``."""
    buffer = bytearray(data)
    for start, end in spans:
        buffer[start:end] = bytes([MASK_BYTE]) * (end - start)
    return bytes(buffer)


class FrameTrace:
    """An append-only, thread-safe list of the frames of one session.

    ``limit`` bounds the bytes kept (oldest entries go first) so a long firmware transfer
    cannot exhaust memory; ``dropped`` counts what was let go.
    """

    def __init__(self, limit: int = 4 * 1024 * 1024, clock: Callable[[], datetime] | None = None):
        self.limit = limit
        self.dropped = 0
        self._clock = clock or partial(datetime.now, UTC)
        self._entries: list[TraceEntry] = []
        self._size = 0
        self._lock = threading.Lock()
        self._secrets: list[bytes] = []
        self._next_spans: list[tuple[int, int]] = []

    def _add(self, entry: TraceEntry) -> None:
        with self._lock:
            self._append(entry)

    def _append(self, entry: TraceEntry) -> None:
        """Store ``entry`` (the caller holds the lock), dropping the oldest past the limit."""
        self._entries.append(entry)
        self._size += len(entry.data) + len(entry.text)
        while self._size > self.limit and len(self._entries) > 1:
            gone = self._entries.pop(0)
            self._size -= len(gone.data) + len(gone.text)
            self.dropped += 1

    # -- secrets ---------------------------------------------------------------------------------

    def add_secret(self, value: bytes | str) -> None:
        """Mask ``value`` in every frame recorded from now on (for the whole session)."""
        data = value.encode("latin-1") if isinstance(value, str) else bytes(value)
        if data:
            with self._lock:
                self._secrets.append(data)

    @contextmanager
    def secret(self, *values: bytes | str) -> Iterator[None]:
        """Mask ``values`` in the frames recorded inside the ``with`` block."""
        added = [v.encode("latin-1") if isinstance(v, str) else bytes(v) for v in values if v]
        with self._lock:
            self._secrets.extend(added)
        try:
            yield
        finally:
            with self._lock:
                for value in added:
                    self._secrets.remove(value)

    def mask_next(self, spans: Iterable[tuple[int, int]]) -> None:
        """Mask the byte spans ``(start, end)`` of the next frame sent (a field the driver
        located itself, such as a DLMS AARQ's authentication value)."""
        with self._lock:
            self._next_spans.extend((int(start), int(end)) for start, end in spans)

    def _record(self, data: bytes, direction: Direction) -> None:
        """Mask and store one frame; a secret split across two chunks of the same direction
        is masked in both (the earlier entry is replaced by its masked copy)."""
        if not self._secrets and not self._next_spans:
            # Nothing to mask (the common case): no scan. A secret added by another thread at
            # this very moment applies from the next frame on, as it would anyway.
            self._add(TraceEntry(self._clock(), direction, data))
            return
        with self._lock:
            spans = mask_spans(data, self._secrets)
            if direction == Direction.TX and self._next_spans:
                spans = sorted(
                    {*spans, *((max(s, 0), min(e, len(data))) for s, e in self._next_spans)}
                )
                self._next_spans = []
            self._mask_across(data, direction, spans)
            entry = TraceEntry(self._clock(), direction, _apply(data, spans), masked=tuple(spans))
            self._append(entry)

    def _mask_across(self, data: bytes, direction: Direction, spans: list[tuple[int, int]]) -> None:
        """Find secrets that began in the previous chunk and end in ``data``; mask both parts."""
        if not self._secrets or not self._entries or self._entries[-1].direction != direction:
            return
        previous = self._entries[-1]
        keep = max(len(secret) for secret in self._secrets) - 1
        tail = previous.data[-keep:] if keep else b""
        joined = tail + data
        cut = len(tail)
        earlier = list(previous.masked)
        for start, end in mask_spans(joined, self._secrets):
            if start < cut < end:
                earlier.append((len(previous.data) - cut + start, len(previous.data)))
                spans.append((0, end - cut))
        if len(earlier) > len(previous.masked):
            merged = _merge(earlier)
            self._entries[-1] = TraceEntry(
                previous.time,
                previous.direction,
                _apply(previous.data, merged),
                previous.text,
                tuple(merged),
            )
            spans[:] = _merge(spans)

    # -- recording -------------------------------------------------------------------------------

    def sent(self, data: bytes) -> None:
        """Record bytes written to the line (secrets masked)."""
        self._record(bytes(data), Direction.TX)

    def received(self, data: bytes) -> None:
        """Record bytes read from the line (empty reads are not recorded; secrets masked)."""
        if data:
            self._record(bytes(data), Direction.RX)

    def note(self, text: str) -> None:
        """Record a remark of the driver."""
        self._add(TraceEntry(self._clock(), Direction.NOTE, text=text))

    @property
    def entries(self) -> list[TraceEntry]:
        """A copy of the entries, oldest first."""
        with self._lock:
            return list(self._entries)

    def last_received(self) -> bytes | None:
        """The most recent received frame, the usual suspect of a protocol error."""
        for entry in reversed(self.entries):
            if entry.direction == Direction.RX:
                return entry.data
        return None

    def text(self) -> str:
        """The whole trace, one line per entry."""
        return "\n".join(entry.line() for entry in self.entries)

    def as_records(self) -> list[dict[str, Any]]:
        """Plain data for storage and the API: time (ISO), direction, hex, text."""
        return [
            {
                "time": entry.time.isoformat(),
                "direction": entry.direction.value,
                "hex": entry.data.hex(),
                "text": entry.text,
                "masked": [list(span) for span in entry.masked],
            }
            for entry in self.entries
        ]
