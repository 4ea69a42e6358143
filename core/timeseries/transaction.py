"""Transactions of the store, the locks that serialize writers, and the retry with back-off.

Every public call of :class:`~meterhub.timeseries.MeterDataStore` runs in one
:class:`Transaction`; a :class:`~meterhub.timeseries.UnitOfWork` runs many calls in one. A read
sees one snapshot in all its statements (SQLite: a deferred ``BEGIN``; PostgreSQL:
``REPEATABLE READ``).

Writers of the same channels are serialized, so a merge (raw slots filled in, normalized
versions closed and added, recalculation from raw) is always based on what is committed:

* **SQLite**: ``BEGIN IMMEDIATE`` takes the database's write lock before the first read.
* **PostgreSQL** (and Oracle): every write locks the rows of its channels in the ``channel``
  table (``SELECT ... ORDER BY id FOR NO KEY UPDATE``, in id order so two calls cannot deadlock)
  before it reads. Inserts of rows that reference a channel are not blocked by that lock.

A transaction that still loses a race (a unique key violation, a serialization failure or a
deadlock detected by PostgreSQL, e.g. two units of work locking channels in opposite orders) is
rolled back and run again with exponential back-off and jitter (tenacity), at most
:data:`WRITE_ATTEMPTS` times; then the caller gets :class:`~meterhub.errors.Conflict`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import numpy as np
from sqlalchemy import Engine
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity import wait_random_exponential as _wait

from meterhub.errors import Conflict
from meterhub.timeseries.notifications import EventSink, Notices
from meterhub.timeseries.sql import Compiled, Runner
from meterhub.timeseries.timegrid import to_tick

if TYPE_CHECKING:
    from meterhub.timeseries.channels import ChannelCache, ChannelInfo
    from meterhub.timeseries.ingest import IngestCheck

T = TypeVar("T")

#: How often a write transaction is tried when it lost a race to a concurrent writer.
WRITE_ATTEMPTS = 3

#: SQLSTATEs of a lost race: unique violation, serialization failure, deadlock detected.
RETRYABLE_SQLSTATES = frozenset({"23505", "40001", "40P01"})


class ConcurrentWrite(Conflict):
    """Another transaction changed the same data first; the whole transaction can run again."""

    def __init__(self, detail: str) -> None:
        super().__init__("channel_ids", f"a concurrent write stored the same data first: {detail}")


class StoreState:
    """What every transaction of one store shares: engine, clock, caches, the event sink and the
    on-the-fly validation of ingest (:data:`~meterhub.timeseries.ingest.IngestCheck`)."""

    def __init__(
        self,
        engine: Engine,
        clock: Callable[[], datetime],
        channels: ChannelCache,
        notify: EventSink | None,
        ingest_check: IngestCheck | None = None,
    ) -> None:
        self.engine = engine
        self.ingest_check = ingest_check
        self.clock = clock
        self.channels = channels
        self.notify = notify
        self.compiled: dict[str, Compiled] = {}
        self.locking = engine.dialect.name != "sqlite"


class Transaction:
    """One database transaction: its SQLAlchemy connection, a statement runner on the driver
    connection, the change records made in it, the channels it locked and its events."""

    def __init__(self, conn: Any, run: Runner, state: StoreState, write: bool) -> None:
        self.conn = conn
        self.run = run
        self.state = state
        self.write = write
        self.notices: Notices | None = Notices() if write and state.notify is not None else None
        self._changes: dict[tuple[str, str, str | None], int] = {}
        self._locked: set[int] = set()
        self._on_end: list[Callable[[], None]] = []

    def now(self) -> int:
        """The store clock's current instant as a tick."""
        return to_tick(self.state.clock(), UTC, "now")

    def infos(self, ids: np.ndarray) -> list[ChannelInfo]:
        """Facts of the channels ``ids`` (cached in the store)."""
        return self.state.channels.infos(self, ids)

    def lock(self, ids: np.ndarray | list[int]) -> None:
        """Serialize with other writers of the channels ``ids`` until this transaction ends."""
        if not self.state.locking:
            return  # SQLite: BEGIN IMMEDIATE holds the database's write lock already
        wanted = sorted(set(np.asarray(ids).tolist()) - self._locked)
        if wanted:
            self.run.fetch("lock_channels", {}, ids=wanted)
            self._locked.update(wanted)

    def change(self, now: int, user: str, reason: str, comment: str | None) -> int:
        """The id of the change record of ``user``, ``reason`` and ``comment`` in this
        transaction (made on first use)."""
        key = (user, reason, comment)
        found = self._changes.get(key)
        if found is None:
            found = self._changes[key] = self.run.insert_change(
                self.conn,
                {"recorded_at": now, "user_name": user, "reason": reason, "comment_text": comment},
            )
        return found

    def after_end(self, action: Callable[[], None]) -> None:
        """Run ``action`` when the transaction ends, committed or rolled back."""
        self._on_end.append(action)

    def end(self) -> None:
        """Run the end actions (called once, by :func:`transaction`)."""
        for action in self._on_end:
            action()


@contextmanager
def transaction(state: StoreState, write: bool = True) -> Iterator[Transaction]:
    """One transaction on its own connection: committed at the end of the block, rolled back
    on any error (a lost race becomes :class:`ConcurrentWrite`)."""
    with state.engine.connect() as conn:
        if not write and state.engine.dialect.name == "postgresql":
            # every statement of a read sees the same snapshot
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        run = Runner(conn.connection.driver_connection, state.engine.dialect, state.compiled)
        tx = Transaction(conn, run, state, write)
        try:
            if not write:
                if run.name == "sqlite":
                    # one read transaction: its snapshot holds for every statement
                    run.connection.execute("BEGIN")
                yield tx
                return
            try:
                with conn.begin():
                    if run.name == "sqlite":
                        # take the write lock before reading what a merge is based on
                        run.connection.execute("BEGIN IMMEDIATE")
                    yield tx
            except Exception as error:
                cause = getattr(error, "orig", error)
                if getattr(cause, "sqlstate", None) in RETRYABLE_SQLSTATES:
                    raise ConcurrentWrite(str(cause).splitlines()[0]) from error
                raise
        finally:
            tx.end()


def _give_up(state: RetryCallState) -> NoReturn:
    assert state.outcome is not None
    raise Conflict(
        "channel_ids", "concurrent writers keep changing the same blocks; retry later"
    ) from state.outcome.exception()


def retrying(attempt: Callable[[], T], attempts: int = WRITE_ATTEMPTS) -> T:
    """Run ``attempt`` (a whole transaction); run it again after a lost race, with back-off."""
    retry = Retrying(
        stop=stop_after_attempt(attempts),
        wait=_wait(multiplier=0.01, max=0.5),
        retry=retry_if_exception_type(ConcurrentWrite),
        retry_error_callback=_give_up,
    )
    return retry(attempt)
