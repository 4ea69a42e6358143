"""A unit of work: many writes of the store, and the caller's own rows, in one transaction.

The acquisition engine stores what one round of readings brought — many meters' profiles,
registers and events, and its own session records — all or nothing::

    with store.unit_of_work() as uow:
        uow.write_intervals(profile_channels, start, values, status)
        uow.write_registers(register_channels, times, readings)
        uow.write_events(event_channels, event_times, codes)
        with Session(bind=uow.connection) as session:  # the caller's rows, same transaction
            session.add(SessionRecord(...))
            session.flush()

The block commits when it ends; an exception rolls everything back. The events the writes fire
(``readings_stored``, ``values_edited``) are merged and fired once, after the commit, and never
for a rolled-back unit. :meth:`MeterDataStore.run_unit_of_work` runs a function as a unit of work
and runs it again when it lost a race to a concurrent writer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from meterhub.errors import MeterHubError
from meterhub.timeseries.edits import Edits
from meterhub.timeseries.history import History
from meterhub.timeseries.intervals import Intervals
from meterhub.timeseries.meter_events import MeterEvents
from meterhub.timeseries.registers import Registers

if TYPE_CHECKING:
    from meterhub.timeseries.transaction import Transaction

T = TypeVar("T")


class UnitOfWorkFailed(MeterHubError):
    """A write inside a unit of work failed after it began writing; the unit is rolled back.

    Raised by every later call of the unit and when its ``with`` block ends without the error
    (the caller caught it): a unit of work is all or nothing. ``__cause__`` is the error.
    """


class UnitOfWork(Intervals, Edits, Registers, MeterEvents, History):
    """The store's reads and writes on one open transaction (see the module docs).

    It offers the store's interval, edit, register, event and history methods with the same
    arguments; reads see the unit's own writes. Input errors found before a call writes
    (:class:`~meterhub.errors.InvalidValue`) leave the unit usable; an error after a call began
    writing makes the whole unit fail (:class:`UnitOfWorkFailed`).
    """

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx
        self._failure: BaseException | None = None
        self._open = True

    @property
    def connection(self) -> Any:
        """The SQLAlchemy connection of the transaction, for the caller's own statements, or
        to bind an ORM ``Session`` to (``Session(bind=uow.connection)``: it joins the
        transaction, its ``flush`` writes into it, and the unit commits or rolls back all)."""
        return self._tx.conn

    def _run(self, work: Callable[[Transaction], T], write: bool = True) -> T:
        if not self._open:
            raise UnitOfWorkFailed("the unit of work has ended; start a new one")
        if self._failure is not None:
            raise UnitOfWorkFailed(
                f"an earlier write of this unit of work failed: {self._failure}"
            ) from self._failure
        try:
            return work(self._tx)
        except BaseException as error:
            if write:
                self._failure = error
            raise

    def _close(self) -> None:
        """End the unit (called by the store); raise if a write failed inside it."""
        self._open = False
        if self._failure is not None:
            raise UnitOfWorkFailed(
                f"a write of this unit of work failed, nothing of it was stored: {self._failure}"
            ) from self._failure
