"""The meter data store: bulk numpy writes and reads of raw, normalized and versioned meter data.

:class:`MeterDataStore` is the one entry point, a facade over modules with one job each:

- :mod:`~meterhub.timeseries.channels`: channel facts, units and formulas;
- :mod:`~meterhub.timeseries.intervals`: interval ingest and reads;
- :mod:`~meterhub.timeseries.edits`: substitutes and flags, recalculation, restore;
- :mod:`~meterhub.timeseries.history` and :mod:`~meterhub.timeseries.normlayer`: versions,
  as-of reads, value histories, retention;
- :mod:`~meterhub.timeseries.registers` and :mod:`~meterhub.timeseries.meter_events`;
- :mod:`~meterhub.timeseries.transaction`: transactions, locks and the retry with back-off;
  :mod:`~meterhub.timeseries.unitofwork`: many calls in one transaction;
  :mod:`~meterhub.timeseries.notifications`: the events fired after a commit.

Every public method is one transaction: it validates the whole call first (unknown channels,
off-grid times, NaN/inf, wrong lengths, unknown zones, as-of in the future) and writes nothing
unless everything is acceptable. Interval data travels as 2-D numpy arrays ``[channels, slots]``;
no Python object is made per value on the write or read path. See ``docs/datastore.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import Engine

from meterhub.errors import InvalidValue
from meterhub.timeseries.channels import ChannelCache, ChannelInfo, ChannelSettings
from meterhub.timeseries.edits import Edits
from meterhub.timeseries.history import History, prune
from meterhub.timeseries.ingest import IngestCheck
from meterhub.timeseries.intervals import Intervals
from meterhub.timeseries.meter_events import MeterEvents
from meterhub.timeseries.notifications import EventSink, Notices, fire
from meterhub.timeseries.registers import Registers
from meterhub.timeseries.timegrid import to_tick
from meterhub.timeseries.transaction import (
    WRITE_ATTEMPTS,
    StoreState,
    Transaction,
    retrying,
    transaction,
)
from meterhub.timeseries.unitofwork import UnitOfWork

__all__ = ["WRITE_ATTEMPTS", "ChannelInfo", "IngestCheck", "MeterDataStore"]

T = TypeVar("T")


class MeterDataStore(ChannelSettings, Intervals, Edits, History, Registers, MeterEvents):
    """Raw, normalized and versioned meter data of the channels in one database.

    ``engine`` is the application's engine (:func:`meterhub.db.make_engine`). ``clock`` returns
    the current instant (aware); tests may pass their own. ``notify``, when given, is called as
    ``notify(event, **arguments)`` after every commit that changed interval data
    (``readings_stored``, ``values_edited``: see :mod:`meterhub.timeseries.notifications`);
    :class:`meterhub.runtime.Runtime` passes its plugin host's
    :meth:`~meterhub.pluginhost.PluginHost.notify`. ``ingest_check``, when given, flags values
    inside the ingest transaction (on-the-fly validation, :data:`IngestCheck`); the runtime
    passes VEE's (:class:`meterhub.vee.ingest.IngestValidation`).

    Channel facts (interval, kind, unit, scaler, formula) are looked up once per call for all
    channels of the call and cached in this instance; call :meth:`invalidate_channels` after
    changing channels or formulas elsewhere (this instance's own formula methods invalidate).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], datetime] | None = None,
        notify: EventSink | None = None,
        ingest_check: IngestCheck | None = None,
    ) -> None:
        self.engine = engine
        self._clock = clock or (lambda: datetime.now(UTC))
        self._channels = ChannelCache()
        self._state = StoreState(engine, self._clock, self._channels, notify, ingest_check)

    def _run(self, work: Callable[[Transaction], T], write: bool = True) -> T:
        """Run ``work`` in a transaction of its own; a write is retried after a lost race and
        its events are fired once it has committed."""
        if not write:
            with transaction(self._state, write=False) as tx:
                return work(tx)

        def attempt() -> tuple[T, Notices | None]:
            with transaction(self._state) as tx:
                result = work(tx)
            return result, tx.notices

        result, notices = retrying(attempt)
        fire(self._state.notify, notices)
        return result

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        """Many writes (and the caller's own rows) in one transaction, all or nothing.

        Commits when the ``with`` block ends, rolls back on an exception; events are fired once
        after the commit. A lost race to a concurrent writer raises
        :class:`~meterhub.errors.Conflict` (use :meth:`run_unit_of_work` to run it again).
        See :class:`~meterhub.timeseries.UnitOfWork`.
        """
        with transaction(self._state) as tx:
            uow = UnitOfWork(tx)
            try:
                yield uow
            except BaseException:
                uow._open = False
                raise
            uow._close()
        fire(self._state.notify, tx.notices)

    def run_unit_of_work(self, work: Callable[[UnitOfWork], T]) -> T:
        """``work(uow)`` in a unit of work; run again (with back-off) after a lost race, at most
        :data:`WRITE_ATTEMPTS` times. ``work`` must be safe to repeat; returns its result."""

        def attempt() -> T:
            with self.unit_of_work() as uow:
                return work(uow)

        return retrying(attempt)

    def prune_versions(self, before: datetime, *, archive: bool = True) -> int:
        """Archive (or with ``archive=False`` drop) normalized versions replaced before ``before``.

        Current versions and raw data are always kept. As-of reads before ``before`` then read
        the archive, or are refused once versions were dropped. Returns the versions moved.
        """
        tick = to_tick(before, UTC, "before")
        if before.tzinfo is None:
            raise InvalidValue("before", "give an aware datetime")

        def work(tx: Transaction) -> int:
            now = tx.now()
            if tick > now:
                raise InvalidValue("before", "the horizon must not be in the future")
            return prune(tx, tick, now, archive)

        return self._run(work)
