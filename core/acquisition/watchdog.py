"""Deadlines of sessions: a meter that hangs is cut off without holding its line.

One thread watches every session's deadline. When a session outlives its timeout the watchdog
calls the session's callback, which closes the connection and the medium (the driver's blocked
read then fails) and gives the line back to its pool at once; the worker thread ends the session
as soon as the driver returns.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

__all__ = ["Watchdog"]

log = logging.getLogger(__name__)


class Watchdog:
    """Calls a callback when its deadline passes, unless cancelled first."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int]] = []
        self._callbacks: dict[int, Callable[[], None]] = {}
        self._ids = itertools.count(1)
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="meterhub-watchdog", daemon=True)
        self._thread.start()

    def watch(self, seconds: float, callback: Callable[[], None]) -> int:
        """Call ``callback`` in ``seconds`` unless :meth:`cancel` is called first; a handle."""
        handle = next(self._ids)
        due = time.monotonic() + seconds
        with self._cond:
            self._callbacks[handle] = callback
            first = not self._heap or due < self._heap[0][0]
            heapq.heappush(self._heap, (due, handle))
            if first:  # otherwise the watchdog wakes for an earlier deadline anyway
                self._cond.notify()
        return handle

    def cancel(self, handle: int) -> None:
        """The session ended in time."""
        with self._cond:
            self._callbacks.pop(handle, None)

    def _run(self) -> None:
        with self._cond:
            while not self._stopped:
                while self._heap and self._heap[0][1] not in self._callbacks:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                due, handle = self._heap[0]
                left = due - time.monotonic()
                if left > 0:
                    self._cond.wait(left)
                    continue
                heapq.heappop(self._heap)
                callback = self._callbacks.pop(handle, None)
                if callback is None:
                    continue
                self._cond.release()
                try:
                    callback()
                except Exception:  # the watchdog must outlive a failing callback
                    log.exception("session timeout callback failed")
                finally:
                    self._cond.acquire()

    def stop(self) -> None:
        """End the watchdog thread."""
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join(timeout=5)
