"""Meter locks of the scaled-out mode: one session per meter across worker processes.

A worker locks a meter before a session (dialled, or a meter that called in) and holds it until
the session's results are committed; under the lock it reads the states of the tasks it is
about to run (a previous holder committed before it unlocked). See
:class:`~meterhub.acquisition.scaled.WorkerEngine` and ``docs/acquisition.md``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.exc import DBAPIError

from meterhub.acquisition.lease import EngineBusy, release_lease, take_lease
from meterhub.acquisition.runs import TASKS
from meterhub.db import id_in, make_engine
from meterhub.inventory.common import chunks

__all__ = ["LOCK_CLASS", "LOCK_LINES", "LOCK_ROW_TTL", "MeterLocks"]

log = logging.getLogger(__name__)

#: Lock key space of the meter locks (PostgreSQL advisory locks ``(class, meter id)``).
LOCK_CLASS = 0x4D48
#: Connections of a worker's meter locks (PostgreSQL), so that locking is not one queue.
LOCK_LINES = 8
#: Seconds a meter lock row lasts on databases without advisory locks.
LOCK_ROW_TTL = 900.0


class _LockLine:
    """One connection of :class:`MeterLocks`, the meters locked on it (with how many
    admissions of this process hold each) and the admissions waiting for it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.connection: Connection | None = None
        self.held: dict[int, int] = {}
        self.waiting: list[_Admission] = []
        self.waiting_lock = threading.Lock()


class _Admission:
    """One meter to admit and, once served, its tasks' states (``None``: locked elsewhere)
    or the error that stopped it."""

    __slots__ = ("done", "error", "meter_id", "states", "task_ids")

    def __init__(self, meter_id: int, task_ids: Sequence[int]) -> None:
        self.meter_id = meter_id
        self.task_ids = task_ids
        self.states: dict[int, str] | None = None
        self.error: BaseException | None = None
        self.done = False


class MeterLocks:
    """One session per meter across processes, and the tasks' states read under the lock.

    On PostgreSQL a session-level advisory lock ``(LOCK_CLASS, meter id)`` on one of
    :data:`LOCK_LINES` connections of its own (a meter always on the same one): one round trip,
    no commit, and released by the server when the worker dies. On other databases a lease row
    ``meter:<id>`` of ``acq_lease`` lasting :data:`LOCK_ROW_TTL`.

    Admissions are counted: a meter admitted again by this process while its lock is held (its
    previous session ended, the results not committed yet, and the meter called in) stays
    locked until each admission is released.
    """

    def __init__(self, engine: Engine, holder: str) -> None:
        self._holder = holder
        self._advisory = engine.dialect.name == "postgresql"
        # connections of their own: held for good, they must not drain the sessions' pool
        self._engine = (
            make_engine(engine.url, pool_size=LOCK_LINES, max_overflow=0)
            if self._advisory
            else engine
        )
        self._lines = [_LockLine() for _ in range(LOCK_LINES)]

    def _line(self, meter_id: int) -> _LockLine:
        return self._lines[meter_id % len(self._lines)]

    def _conn(self, line: _LockLine) -> Connection:
        if line.connection is None or line.connection.closed:
            line.connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            line.held.clear()  # locks of a lost connection went with it
        return line.connection

    @staticmethod
    def _drop(line: _LockLine) -> None:
        if line.connection is not None:
            try:
                line.connection.invalidate()
                line.connection.close()
            except Exception:
                log.debug("closing a lock connection failed", exc_info=True)
        line.connection = None
        line.held.clear()

    @staticmethod
    def _states(connection: Connection, task_ids: Sequence[int]) -> dict[int, str]:
        states: dict[int, str] = {}
        for part in chunks(list(task_ids)):
            rows = connection.execute(
                select(TASKS.c.id, TASKS.c.state).where(id_in(connection, TASKS.c.id, part))
            )
            states.update((int(task_id), str(state)) for task_id, state in rows)
        return states

    def admit(self, meter_id: int, task_ids: Sequence[int]) -> dict[int, str] | None:
        """Lock ``meter_id`` for this process and read the states of ``task_ids`` (after the
        lock: a previous holder committed before it unlocked); ``None`` when another process
        holds the meter.

        Admissions that wait for the same connection are served together: whoever gets the
        connection locks every waiting meter in one statement and reads all their tasks in
        another (a thousand lines ask for about as many admissions a second, and one round
        trip each behind a connection lock made the sessions queue for it)."""
        line = self._line(meter_id)
        mine = _Admission(meter_id, task_ids)
        with line.waiting_lock:
            line.waiting.append(mine)
        with line.lock:
            if not mine.done:
                with line.waiting_lock:
                    batch, line.waiting = line.waiting, []
                try:
                    if self._advisory:
                        self._admit_advisory(line, batch)
                    else:
                        for admission in batch:
                            admission.states = self._admit_row(line, admission)
                except BaseException as exc:
                    for admission in batch:
                        if not admission.done:
                            admission.error = exc
                finally:
                    for admission in batch:
                        admission.done = True
        if mine.error is not None:
            raise mine.error
        return mine.states

    def _admit_row(self, line: _LockLine, admission: _Admission) -> dict[int, str] | None:
        meter_id = admission.meter_id
        if meter_id not in line.held:
            try:
                take_lease(
                    self._engine, f"meter:{meter_id}", self._holder, LOCK_ROW_TTL,
                    datetime.now(UTC),
                )  # fmt: skip
            except EngineBusy:
                return None
        with self._engine.connect() as connection:
            states = self._states(connection, admission.task_ids)
        line.held[meter_id] = line.held.get(meter_id, 0) + 1
        return states

    def _admit_advisory(self, line: _LockLine, batch: list[_Admission]) -> None:
        """Lock the batch's meters not held yet (one statement), then read the tasks of those
        now held (another: its snapshot is taken after the locks)."""
        try:
            connection = self._conn(line)
            wanted = sorted({a.meter_id for a in batch if a.meter_id not in line.held})
            if wanted:
                for meter_id, got in connection.execute(
                    text(
                        "SELECT m, pg_try_advisory_lock(CAST(:c AS INTEGER), m) "
                        "FROM unnest(CAST(:ms AS INTEGER[])) AS m"
                    ),
                    {"c": LOCK_CLASS, "ms": wanted},
                ):
                    if got:
                        line.held[int(meter_id)] = 0
            admitted = [a for a in batch if a.meter_id in line.held]
            states = self._states(connection, [t for a in admitted for t in a.task_ids])
        except DBAPIError:
            self._drop(line)
            raise
        for admission in admitted:
            admission.states = {t: states[t] for t in admission.task_ids if t in states}
            line.held[admission.meter_id] += 1

    def release(self, meter_ids: Iterable[int], *, all_admissions: bool = False) -> None:
        """Release one admission of each meter named (a meter named twice, two); a meter is
        unlocked when none is left, or at once with ``all_admissions``. Meters not held are
        ignored; one statement per connection; never raises."""
        by_line: dict[int, list[int]] = {}
        for meter_id in meter_ids:
            by_line.setdefault(meter_id % len(self._lines), []).append(meter_id)
        for index, meters in by_line.items():
            line = self._lines[index]
            with line.lock:
                mine = []
                for meter_id in meters:
                    if meter_id not in line.held:
                        continue
                    line.held[meter_id] -= 1
                    if all_admissions or line.held[meter_id] <= 0:
                        del line.held[meter_id]
                        mine.append(meter_id)
                if not mine:
                    continue
                try:
                    if not self._advisory:
                        for meter_id in mine:
                            release_lease(self._engine, f"meter:{meter_id}", self._holder)
                    elif line.connection is not None:
                        line.connection.execute(
                            text("SELECT pg_advisory_unlock(:c, m) FROM unnest(:ms) AS m"),
                            {"c": LOCK_CLASS, "ms": mine},
                        )
                except Exception as exc:  # the locks went with the connection
                    log.debug("unlocking meters %s failed: %s", mine, exc)
                    if self._advisory:
                        self._drop(line)

    def close(self) -> None:
        """Release everything, close the connections."""
        for line in self._lines:
            self.release(list(line.held), all_admissions=True)
            with line.lock:
                if line.connection is not None:
                    line.connection.close()
                    line.connection = None
        if self._advisory:
            self._engine.dispose()
