"""A scheduler of another process woken at once when a run is queued (PostgreSQL).

The embedded engine is woken in its own process when a run is started there
(:meth:`~meterhub.acquisition.engine.AcquisitionEngine.wake`). ``meterhub scheduler`` runs
apart from the API and the command line that start runs, and looked at the database every
``poll_seconds``: a quick job waited up to that long before its first ticket was published.
On PostgreSQL a started run is announced with ``NOTIFY``
(:func:`~meterhub.acquisition.runs.announce_queued_run`, delivered at the commit), and
:class:`RunListener` — a thread with a connection of its own that ``LISTEN``\\ s — wakes the
scheduler. A notification lost with a dropped connection costs nothing but that wait: the
scheduler still looks at the database every ``poll_seconds``, and the listener connects again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Engine

from meterhub.acquisition.runs import RUNS_CHANNEL

__all__ = ["RunListener"]

log = logging.getLogger(__name__)

#: Seconds between looks at the stop flag while no notification comes.
WAIT_SECONDS = 0.5
#: Seconds before connecting again after the connection was lost.
RETRY_SECONDS = 2.0


class RunListener:
    """Calls ``wake`` whenever a run is announced on :data:`RUNS_CHANNEL` (PostgreSQL only;
    :meth:`start` does nothing on other databases)."""

    def __init__(self, engine: Engine, wake: Callable[[], None]) -> None:
        self._engine = engine
        self._wake = wake
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Notifications received (for tests and logs).
        self.received = 0
        self.listening = threading.Event()

    def start(self) -> RunListener:
        """Start listening (a daemon thread ``meterhub-run-listener``)."""
        if self._engine.dialect.name != "postgresql" or self._thread is not None:
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="meterhub-run-listener", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening and close the connection."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception as exc:  # the database went away: poll until it is back
                self.listening.clear()
                log.debug("run notifications interrupted: %s", exc)
                self._stop.wait(RETRY_SECONDS)

    def _listen(self) -> None:
        raw = self._engine.raw_connection()
        try:
            connection = raw.driver_connection
            assert connection is not None
            connection.autocommit = True
            connection.execute(f"LISTEN {RUNS_CHANNEL}")
            self.listening.set()
            while not self._stop.is_set():
                for _ in connection.notifies(timeout=WAIT_SECONDS, stop_after=1):
                    self.received += 1
                    self._wake()
        finally:
            self.listening.clear()
            raw.invalidate()  # LISTEN and autocommit must not go back to the pool
            raw.close()
