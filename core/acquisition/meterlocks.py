"""Meter locks of the scaled-out mode: one session per meter across worker processes.

A worker locks a meter before a session (dialled, or a meter that called in) and holds it until
the session's results are committed; under the lock it reads the states of the tasks it is
about to run (a previous holder committed before it unlocked). See
:class:`~meterhub.acquisition.scaled.WorkerEngine` and ``docs/acquisition.md``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select
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


_LOCK_SQL = "SELECT m, pg_try_advisory_lock(%s, m) FROM unnest(%s::integer[]) AS m"
_UNLOCK_SQL = "SELECT pg_advisory_unlock(%s, m) FROM unnest(%s::integer[]) AS m"
_STATES_SQL = f"SELECT id, state FROM {TASKS.name} WHERE id = ANY(%s::bigint[])"


@contextmanager
def _driver_errors(connection: Connection, sql: str, parameters: Any) -> Iterator[None]:
    """A driver error of the block comes out as SQLAlchemy's
    :class:`~sqlalchemy.exc.DBAPIError`, as from ``connection.execute`` (a lost connection
    flagged as such)."""
    dbapi = connection.dialect.loaded_dbapi
    try:
        yield
    except dbapi.Error as exc:
        raise DBAPIError.instance(
            sql, parameters, exc, dbapi.Error,
            connection_invalidated=isinstance(exc, dbapi.OperationalError),
        ) from exc  # fmt: skip


def _raw(connection: Connection, sql: str, parameters: tuple[Any, ...]) -> list[Any]:
    """The rows of ``sql`` (``%s`` parameters) run on the driver's own cursor of
    ``connection`` (PostgreSQL drivers)."""
    with _driver_errors(connection, sql, parameters):
        raw: Any = connection.connection.dbapi_connection
        cursor = raw.cursor()
        try:
            cursor.execute(sql, parameters)
            return list(cursor.fetchall())
        finally:
            cursor.close()


def _lock_and_read(
    connection: Connection, meters: list[int], task_ids: list[int]
) -> tuple[list[Any], list[Any]]:
    """Try the advisory locks of ``meters``, then read the states of ``task_ids``: two
    statements, the second's snapshot taken after the first ended. On psycopg both go in one
    pipeline (one round trip: each wait for the server is also a wait for the interpreter,
    long when hundreds of session threads want it)."""
    raw: Any = connection.connection.dbapi_connection
    pipeline = getattr(raw, "pipeline", None)
    if pipeline is None or not meters or not task_ids:
        locked = _raw(connection, _LOCK_SQL, (LOCK_CLASS, meters)) if meters else []
        rows = _raw(connection, _STATES_SQL, (task_ids,)) if task_ids else []
        return locked, rows
    with _driver_errors(connection, _LOCK_SQL, (LOCK_CLASS, meters)):
        with raw.cursor() as first, raw.cursor() as second:
            with pipeline():
                first.execute(_LOCK_SQL, (LOCK_CLASS, meters))
                second.execute(_STATES_SQL, (task_ids,))
            return list(first.fetchall()), list(second.fetchall())


class _LockLine:
    """One connection of :class:`MeterLocks`, the meters locked on it (with how many
    admissions of this process hold each) and the admissions waiting for it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.connection: Connection | None = None
        self.held: dict[int, int] = {}
        self.waiting: list[_Admission] = []
        self.waiting_lock = threading.Lock()
        #: An admission is serving a batch on this line (the others wait for their event).
        self.serving = False


#: The event of admissions that are served by their caller and never wait (set, never used).
_NEVER_WAITED = threading.Event()
_NEVER_WAITED.set()


class _Admission:
    """One meter to admit and, once served, its tasks' states (``None``: locked elsewhere)
    or the error that stopped it."""

    __slots__ = ("done", "error", "lead", "meter_id", "states", "task_ids", "woken")

    def __init__(self, meter_id: int, task_ids: Sequence[int], *, waits: bool = True) -> None:
        self.meter_id = meter_id
        self.task_ids = task_ids
        self.states: dict[int, str] | None = None
        self.error: BaseException | None = None
        self.done = False
        #: This admission serves the next batch of its line.
        self.lead = False
        #: Set when its batch is served (``waits=False``: served by its caller, never waits).
        self.woken = threading.Event() if waits else _NEVER_WAITED


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
        trip each behind a connection lock made the sessions queue for it).

        One admission at a time serves its line's batch; the others wait each for its own
        event, set when their batch is served, and the first of those still waiting then
        serves the next batch. (Waiting for the line's lock instead made the waiters of a
        batch take that lock one after the other only to find themselves served: at hundreds
        of sessions ending together, each such turn waiting for the interpreter, a tenth of a
        second a session.)"""
        line = self._line(meter_id)
        mine = _Admission(meter_id, task_ids)
        with line.waiting_lock:
            line.waiting.append(mine)
            if not line.serving:
                line.serving = mine.lead = True
        if not mine.lead:
            mine.woken.wait()
        if mine.lead:
            self._serve(line)
        if mine.error is not None:
            raise mine.error
        return mine.states

    def _serve(self, line: _LockLine) -> None:
        """Serve the line's waiting admissions (this one among them), then hand the line to
        the first admission that came meanwhile, or leave it free."""
        with line.waiting_lock:
            batch, line.waiting = line.waiting, []
        try:
            with line.lock:
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
            with line.waiting_lock:
                if line.waiting:
                    successor: _Admission | None = line.waiting[0]
                    successor.lead = True  # type: ignore[union-attr]
                else:
                    successor = None
                    line.serving = False
            for admission in batch:
                admission.done = True
                admission.woken.set()
            if successor is not None:
                successor.woken.set()

    def held(self) -> set[int]:
        """The meters this process holds now."""
        found: set[int] = set()
        for line in self._lines:
            with line.lock:
                found.update(line.held)
        return found

    @property
    def advisory(self) -> bool:
        """Whether the locks are PostgreSQL advisory locks (rather than lease rows)."""
        return self._advisory

    def admit_many(self, requests: Mapping[int, Sequence[int]]) -> dict[int, dict[int, str] | None]:
        """:meth:`admit` for many meters at once (``{meter id: task ids}``): one pipeline per
        lock connection; ``{meter id: states, or None when held elsewhere}``."""
        if not self._advisory:
            return {meter_id: self.admit(meter_id, ids) for meter_id, ids in requests.items()}
        by_line: dict[int, list[_Admission]] = {}
        for meter_id, task_ids in requests.items():
            by_line.setdefault(meter_id % len(self._lines), []).append(
                _Admission(meter_id, task_ids, waits=False)
            )
        for index, batch in by_line.items():
            line = self._lines[index]
            with line.lock:
                self._admit_advisory(line, batch)
        return {a.meter_id: a.states for batch in by_line.values() for a in batch}

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
        now held (another: its snapshot is taken after the locks).

        Both go to the driver's cursor as plain SQL: a worker admits a meter per session, and
        compiling and caching the statements through SQLAlchemy cost three times the CPU of
        the round trips themselves."""
        try:
            connection = self._conn(line)
            wanted = sorted({a.meter_id for a in batch if a.meter_id not in line.held})
            task_ids = [t for a in batch for t in a.task_ids]
            locked, rows = _lock_and_read(connection, wanted, task_ids)
            for meter_id, got in locked:
                if got:
                    line.held[int(meter_id)] = 0
            admitted = [a for a in batch if a.meter_id in line.held]
            states = {int(task_id): str(state) for task_id, state in rows}
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
                        _raw(line.connection, _UNLOCK_SQL, (LOCK_CLASS, mine))
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
