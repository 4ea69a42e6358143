"""Dispatching tasks to sessions: priority, line pools, one session per meter, capacity shares.

This module holds the **dispatch interface** the engine core works with, whatever runs it
(:class:`Dispatcher`), and its in-process implementation for the embedded mode
(:class:`LocalDispatcher`). A scaled-out implementation (a broker between a scheduler and
worker processes) implements the same interface; see ``docs/acquisition.md``.

Rules every implementation keeps:

* **Order**: quick jobs first, then higher ``priority``, then fewer ``attempts`` (first attempts
  before repetitions), then age (older first). A ticket whose ``not_before`` is in the future
  (a retry waiting out its back-off) is not dispatched before then.
* **Line pools**: a claim holds one line of the pool of the meter's main path; a pool never has
  more claims than its capacity. :meth:`Claim.switch_line` moves a claim to the backup path's
  pool; :meth:`Claim.release_line` gives the line back early (a hanging meter past its session
  timeout), idempotently.
* **One session per meter**: a meter is in at most one claim at a time, whatever asked for it;
  a claim takes the meter's other ready tickets of the same pool with it (one session serves
  them all).
* **Capacity share**: the tickets of a run with a ``share`` (a large group job started by a
  user) hold at most ``max(1, floor(capacity × share))`` lines of each pool, so scheduled work
  always finds lines.
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Claim",
    "DispatchSnapshot",
    "Dispatcher",
    "LocalDispatcher",
    "Ticket",
]

#: Tickets of one meter served by one session at most.
MAX_SIBLINGS = 16


@dataclass(slots=True, eq=False)
class Ticket:
    """One task waiting for a session: what the dispatcher needs to order and place it.

    ``not_before`` is a Unix time (seconds); ``created`` orders by age (any increasing number:
    the task id). ``share`` is the run's capacity share, ``None`` for no cap.
    """

    task_id: int
    run_id: int
    meter_id: int
    action: str
    action_index: int
    pool: str
    priority: int = 5
    quick: bool = False
    attempts: int = 0
    created: float = 0.0
    not_before: float = 0.0
    share: float | None = None
    #: Set when the ticket left the queue (claimed or cancelled): heaps drop it lazily.
    gone: bool = field(default=False, compare=False)
    #: The admission (meter lock) the ticket holds a share of in a worker, if any.
    admission: Any = field(default=None, compare=False, repr=False)

    def order(self) -> tuple[int, int, int, float, int]:
        """The dispatch order key (smaller first)."""
        return (0 if self.quick else 1, -self.priority, self.attempts, self.created, self.task_id)


@dataclass(frozen=True, slots=True)
class DispatchSnapshot:
    """Counts for monitoring and metrics: tickets waiting, claims in sessions, lines per pool
    as ``{pool: (in use, capacity)}``, tickets in sessions (``running``)."""

    queued: int
    delayed: int
    claimed: int
    pools: dict[str, tuple[int, int]]
    running: int = 0


class Claim:
    """Tickets of one meter given to one session, with the line it holds."""

    def __init__(
        self,
        dispatcher: LocalDispatcher,
        tickets: list[Ticket],
        *,
        meter_id: int | None = None,
        pool: str | None = None,
    ) -> None:
        self._dispatcher = dispatcher
        self.tickets = tickets
        self.meter_id = meter_id if meter_id is not None else tickets[0].meter_id
        #: The pool whose line this claim holds, ``None`` once given back.
        self.pool: str | None = pool if meter_id is not None else tickets[0].pool
        #: Set when the run of a ticket is cancelled while the session runs.
        self.cancelled = threading.Event()
        self.shares: list[tuple[int, str]] = []

    def release_line(self) -> None:
        """Give the line back now (idempotent); the meter stays claimed until :meth:`done`."""
        self._dispatcher._release_line(self)

    def switch_line(self, pool: str, timeout: float) -> bool:
        """Give the current line back and wait up to ``timeout`` s for one of ``pool``."""
        return self._dispatcher._switch_line(self, pool, timeout)

    def done(self) -> None:
        """The session ended: line and meter are free again."""
        self._dispatcher._done(self)


class Dispatcher(ABC):
    """The dispatch interface of the engine core (see the module docstring).

    The embedded engine uses :class:`LocalDispatcher`. Results are acknowledged with
    :meth:`ack` only after they are committed (:mod:`meterhub.acquisition.writer`); a
    broker-backed implementation acknowledges its messages there.
    """

    @abstractmethod
    def submit(self, tickets: Iterable[Ticket]) -> None:
        """Queue tickets (new tasks, or retries with a later ``not_before``)."""

    @abstractmethod
    def claim(self, timeout: float) -> Claim | None:
        """The next claim a session may serve, waiting up to ``timeout`` s; ``None`` if none."""

    @abstractmethod
    def claim_meter(self, meter_id: int, pool: str | None = None) -> Claim | None:
        """Claim every ready ticket of ``meter_id`` now (a meter that called in), or ``None``
        when the meter is in another session. ``pool`` is the line the caller already holds
        (an inbound connection); ``None`` takes no line."""

    @abstractmethod
    def ack(self, task_ids: Sequence[int]) -> None:
        """The results of these tasks are committed (a broker acknowledges the messages)."""

    @abstractmethod
    def cancel_run(self, run_id: int, *, abort_running: bool = True) -> list[Ticket]:
        """Drop the queued tickets of ``run_id`` and (with ``abort_running``) flag its running
        claims; returns the dropped tickets."""

    @abstractmethod
    def snapshot(self) -> DispatchSnapshot:
        """Counts for monitoring."""

    @abstractmethod
    def close(self) -> None:
        """Wake every waiter; later claims return ``None``."""

    def refresh_capacities(self) -> None:  # noqa: B027 - optional: nothing to refresh
        """Read the line pools' capacities again (after pools changed in the database)."""

    def forget_run(self, run_id: int) -> None:  # noqa: B027 - optional: nothing remembered
        """The run is over: whatever the dispatcher remembers of it may go."""

    def drained(self) -> bool:
        """No ticket waits and no session runs here (the writer may commit at once)."""
        snapshot = self.snapshot()
        return not (snapshot.queued or snapshot.claimed)


@dataclass
class _Pool:
    capacity: int
    in_use: int = 0
    heap: list[tuple[tuple[int, int, int, float, int], int, Ticket]] = field(default_factory=list)


class LocalDispatcher(Dispatcher):
    """In-process dispatch for the embedded mode: heaps per line pool under one lock.

    ``capacity(pool)`` gives a pool's capacity (it may change between calls: the engine
    refreshes pools from the database). ``clock`` returns Unix time (tests pass their own).
    """

    def __init__(
        self,
        capacity: Callable[[str], int],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._capacity_of = capacity
        self._clock = clock
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._seq = itertools.count()
        self._pools: dict[str, _Pool] = {}
        self._available: list[tuple[tuple[int, int, int, float, int], int, str]] = []
        self._delayed: list[tuple[float, int, Ticket]] = []
        self._meter_tickets: dict[int, list[Ticket]] = {}
        self._busy_meters: set[int] = set()
        self._parked_meter: dict[int, list[Ticket]] = {}
        self._share_use: dict[tuple[int, str], int] = {}
        self._parked_share: dict[tuple[int, str], list[Ticket]] = {}
        self._claims: set[Claim] = set()
        self._cancelled_runs: set[int] = set()
        self._queued = 0
        self._closed = False

    # -- pools ----------------------------------------------------------------------------------

    def _pool(self, key: str) -> _Pool:
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = _Pool(max(1, int(self._capacity_of(key))))
        return pool

    def refresh_capacities(self) -> None:
        """Read every known pool's capacity again (after pools changed in the database)."""
        with self._lock:
            for key, pool in self._pools.items():
                pool.capacity = max(1, int(self._capacity_of(key)))
                self._offer(key)
            self._cond.notify_all()

    def _offer(self, key: str) -> None:
        """Announce pool ``key`` when it has room and a ticket (lazily validated on pop)."""
        pool = self._pools[key]
        while pool.heap and pool.heap[0][2].gone:
            heapq.heappop(pool.heap)
        if pool.heap and pool.in_use < pool.capacity:
            heapq.heappush(self._available, (pool.heap[0][0], next(self._seq), key))

    # -- queueing -------------------------------------------------------------------------------

    def _push(self, ticket: Ticket) -> None:
        pool = self._pool(ticket.pool)
        heapq.heappush(pool.heap, (ticket.order(), next(self._seq), ticket))
        mine = self._meter_tickets.setdefault(ticket.meter_id, [])
        if not any(other is ticket for other in mine):
            mine.append(ticket)
        self._offer(ticket.pool)

    def submit(self, tickets: Iterable[Ticket]) -> None:
        """Queue tickets; those with a future ``not_before`` wait in the delay heap."""
        now = self._clock()
        count = 0
        with self._lock:
            for ticket in tickets:
                if ticket.run_id in self._cancelled_runs:
                    continue
                ticket.gone = False
                count += 1
                self._queued += 1
                if ticket.not_before > now:
                    heapq.heappush(self._delayed, (ticket.not_before, next(self._seq), ticket))
                else:
                    self._push(ticket)
            if count:
                self._cond.notify(count)

    def _release_delayed(self, now: float) -> float | None:
        """Move due tickets into their pools; return when the next one is due."""
        while self._delayed and self._delayed[0][0] <= now:
            _, _, ticket = heapq.heappop(self._delayed)
            if not ticket.gone:
                self._push(ticket)
        return self._delayed[0][0] if self._delayed else None

    def _cap(self, ticket: Ticket) -> int | None:
        if ticket.share is None:
            return None
        return max(1, math.floor(self._pools[ticket.pool].capacity * ticket.share))

    def _take_one(self) -> Claim | None:
        """The best claimable ticket as a claim, or ``None``; called under the lock."""
        while self._available:
            order, _, key = heapq.heappop(self._available)
            pool = self._pools[key]
            while pool.heap and pool.heap[0][2].gone:
                heapq.heappop(pool.heap)
            if not pool.heap or pool.in_use >= pool.capacity or pool.heap[0][0] != order:
                continue  # a stale announcement; a fresh one exists if the pool qualifies
            _, _, ticket = heapq.heappop(pool.heap)
            if ticket.meter_id in self._busy_meters:
                self._parked_meter.setdefault(ticket.meter_id, []).append(ticket)
                self._offer(key)
                continue
            cap = self._cap(ticket)
            share_key = (ticket.run_id, key)
            if cap is not None and self._share_use.get(share_key, 0) >= cap:
                self._parked_share.setdefault(share_key, []).append(ticket)
                self._offer(key)
                continue
            return self._make_claim(ticket)
        return None

    def _make_claim(self, first: Ticket) -> Claim:
        """Claim ``first`` with the meter's other ready tickets of the same pool."""
        tickets = [first]
        first.gone = True
        for other in self._meter_tickets.get(first.meter_id, ()):
            if len(tickets) >= MAX_SIBLINGS:
                break
            if other.gone or other.pool != first.pool:
                continue
            if other.share is not None and other.run_id != first.run_id:
                continue  # a capped run's ticket rides only with its own run's
            other.gone = True
            tickets.append(other)
        self._forget_gone(first.meter_id)
        self._queued -= len(tickets)
        pool = self._pools[first.pool]
        pool.in_use += 1
        self._busy_meters.add(first.meter_id)
        claim = Claim(self, tickets)
        if first.share is not None:
            share_key = (first.run_id, first.pool)
            self._share_use[share_key] = self._share_use.get(share_key, 0) + 1
            claim.shares.append(share_key)
        self._claims.add(claim)
        self._offer(first.pool)
        return claim

    def _forget_gone(self, meter_id: int) -> None:
        remaining = [t for t in self._meter_tickets.get(meter_id, ()) if not t.gone]
        if remaining:
            self._meter_tickets[meter_id] = remaining
        else:
            self._meter_tickets.pop(meter_id, None)

    def claim(self, timeout: float) -> Claim | None:
        """Wait up to ``timeout`` s for a claimable ticket."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not self._closed:
                due = self._release_delayed(self._clock())
                claim = self._take_one()
                if claim is not None:
                    return claim
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                if due is not None:
                    left = min(left, max(0.001, due - self._clock()))
                self._cond.wait(left)
        return None

    def claim_meter(self, meter_id: int, pool: str | None = None) -> Claim | None:
        """Claim the ready tickets of one meter (a meter that called in) without a new line."""
        with self._lock:
            if meter_id in self._busy_meters or self._closed:
                return None
            self._release_delayed(self._clock())
            ready = [t for t in self._meter_tickets.get(meter_id, ()) if not t.gone]
            ready.sort(key=Ticket.order)
            tickets = ready[:MAX_SIBLINGS]
            for ticket in tickets:
                ticket.gone = True
            for key in {ticket.pool for ticket in tickets}:
                self._offer(key)
            self._forget_gone(meter_id)
            self._queued -= len(tickets)
            self._busy_meters.add(meter_id)
            claim = Claim(self, tickets, meter_id=meter_id, pool=pool)
            if pool is not None:
                self._pool(pool).in_use += 1
            self._claims.add(claim)
            return claim

    # -- giving back ----------------------------------------------------------------------------

    def _release_line(self, claim: Claim) -> None:
        with self._lock:
            self._give_back(claim)

    def _give_back(self, claim: Claim) -> None:
        if claim.pool is None:
            return
        pool = self._pools[claim.pool]
        pool.in_use -= 1
        self._offer(claim.pool)
        claim.pool = None
        self._cond.notify(2)

    def _switch_line(self, claim: Claim, key: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._lock:
            self._give_back(claim)
            pool = self._pool(key)
            while pool.in_use >= pool.capacity:
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    return False
                self._cond.wait(left)
            pool.in_use += 1
            claim.pool = key
            return True

    def _done(self, claim: Claim) -> None:
        with self._lock:
            if claim not in self._claims:
                return
            self._claims.discard(claim)
            self._give_back(claim)
            self._busy_meters.discard(claim.meter_id)
            woken = 0
            for parked in self._parked_meter.pop(claim.meter_id, []):
                if not parked.gone:
                    self._push(parked)
                    woken += 1
            for share_key in claim.shares:
                self._share_use[share_key] -= 1
                waiting = self._parked_share.get(share_key)
                while waiting:
                    ticket = waiting.pop()
                    if not ticket.gone:
                        self._push(ticket)
                        woken += 1
                        break
                if not self._share_use[share_key]:
                    del self._share_use[share_key]
                    if not waiting:
                        self._parked_share.pop(share_key, None)
            if woken:
                self._cond.notify(woken)

    def ack(self, task_ids: Sequence[int]) -> None:
        """Nothing to acknowledge in process: the database holds the task state."""

    # -- cancelling -----------------------------------------------------------------------------

    def cancel_run(self, run_id: int, *, abort_running: bool = True) -> list[Ticket]:
        """Drop the run's queued tickets; flag its claims (their sessions stop early) unless
        ``abort_running`` is false (a closed window lets running sessions finish)."""
        dropped: list[Ticket] = []
        with self._lock:
            self._cancelled_runs.add(run_id)
            for tickets in self._meter_tickets.values():
                for ticket in tickets:
                    if ticket.run_id == run_id and not ticket.gone:
                        ticket.gone = True
                        dropped.append(ticket)
            for parked in (*self._parked_meter.values(), *self._parked_share.values()):
                for ticket in parked:
                    if ticket.run_id == run_id and not ticket.gone:
                        ticket.gone = True
                        dropped.append(ticket)
            for _, _, ticket in self._delayed:
                if ticket.run_id == run_id and not ticket.gone:
                    ticket.gone = True
                    dropped.append(ticket)
            self._queued -= len(dropped)
            for key in list(self._pools):
                self._offer(key)
            for claim in self._claims if abort_running else ():
                if any(ticket.run_id == run_id for ticket in claim.tickets):
                    claim.cancelled.set()
        return dropped

    def forget_run(self, run_id: int) -> None:
        """The run is over: stop refusing its tickets (ids are never reused, so this only
        frees memory)."""
        with self._lock:
            self._cancelled_runs.discard(run_id)

    # -- monitoring -----------------------------------------------------------------------------

    def drained(self) -> bool:
        """No ticket waits (delayed ones aside) and no session runs."""
        return self._queued - len(self._delayed) <= 0 and not self._claims

    def snapshot(self) -> DispatchSnapshot:
        """Queued and delayed tickets, claims, and lines per pool."""
        with self._lock:
            delayed = sum(1 for _, _, t in self._delayed if not t.gone)
            return DispatchSnapshot(
                queued=self._queued - delayed,
                delayed=delayed,
                claimed=len(self._claims),
                pools={key: (pool.in_use, pool.capacity) for key, pool in self._pools.items()},
                running=sum(len(claim.tickets) for claim in self._claims),
            )

    def close(self) -> None:
        """Wake every waiting worker; claims return ``None`` from now on."""
        with self._lock:
            self._closed = True
            self._cond.notify_all()
