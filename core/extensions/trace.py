"""Frame traces: the debug log of one driver session (direction, time, bytes in hex).

A :class:`~meterhub.extensions.medium.Medium` given a trace records every write (``tx``) and
every non-empty read (``rx``); drivers add ``note`` entries (``"AARQ sent"``, ``"bad BCC"``) and
attach the trace's last frame to a :class:`~meterhub.extensions.driver.DriverError`. The
acquisition engine stores :meth:`FrameTrace.as_records` as the session's debug log.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

__all__ = ["Direction", "FrameTrace", "TraceEntry"]


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

    def line(self) -> str:
        """``2026-11-28T12:00:00.123456Z tx 7E A0 ...`` or ``... note text``."""
        stamp = self.time.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        body = self.data.hex(" ").upper() if self.direction != Direction.NOTE else self.text
        return f"{stamp} {self.direction.value} {body}".rstrip()


class FrameTrace:
    """An append-only, thread-safe list of the frames of one session.

    ``limit`` bounds the bytes kept (oldest entries go first) so a long firmware transfer
    cannot exhaust memory; ``dropped`` counts what was let go.
    """

    def __init__(self, limit: int = 4 * 1024 * 1024, clock: Callable[[], datetime] | None = None):
        self.limit = limit
        self.dropped = 0
        self._clock = clock or (lambda: datetime.now(UTC))
        self._entries: list[TraceEntry] = []
        self._size = 0
        self._lock = threading.Lock()

    def _add(self, entry: TraceEntry) -> None:
        with self._lock:
            self._entries.append(entry)
            self._size += len(entry.data) + len(entry.text)
            while self._size > self.limit and len(self._entries) > 1:
                gone = self._entries.pop(0)
                self._size -= len(gone.data) + len(gone.text)
                self.dropped += 1

    def sent(self, data: bytes) -> None:
        """Record bytes written to the line."""
        self._add(TraceEntry(self._clock(), Direction.TX, bytes(data)))

    def received(self, data: bytes) -> None:
        """Record bytes read from the line (empty reads are not recorded)."""
        if data:
            self._add(TraceEntry(self._clock(), Direction.RX, bytes(data)))

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

    def as_records(self) -> list[dict[str, str]]:
        """Plain data for storage and the API: time (ISO), direction, hex, text."""
        return [
            {
                "time": entry.time.isoformat(),
                "direction": entry.direction.value,
                "hex": entry.data.hex(),
                "text": entry.text,
            }
            for entry in self.entries
        ]
