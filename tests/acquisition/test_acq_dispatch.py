"""The local dispatcher: order, line pools, one session per meter, shares, delays, cancels."""

from __future__ import annotations

import random
import threading
import time

from meterhub.acquisition.dispatch import LocalDispatcher, Ticket

_ids = iter(range(1, 1_000_000))


def ticket(meter: int, *, pool: str = "default", run: int = 1, **fields: object) -> Ticket:
    task_id = next(_ids)
    return Ticket(task_id, run, meter, "read_clock", 0, pool, created=float(task_id), **fields)


def drain(dispatcher: LocalDispatcher) -> list[Ticket]:
    order = []
    while (claim := dispatcher.claim(0)) is not None:
        order.extend(claim.tickets)
        claim.done()
    return order


def test_quick_then_priority_then_attempts_then_age() -> None:
    dispatcher = LocalDispatcher(lambda pool: 1)
    old = ticket(1)
    retry = ticket(2, attempts=1)
    high = ticket(3, priority=8)
    quick = ticket(4, quick=True, priority=9)
    young = ticket(5)
    dispatcher.submit([young, retry, old, high, quick])
    assert [t.meter_id for t in drain(dispatcher)] == [4, 3, 1, 5, 2]


def test_a_pool_never_has_more_claims_than_its_capacity() -> None:
    capacities = {"pool:a": 3, "pool:b": 1}
    dispatcher = LocalDispatcher(lambda pool: capacities[pool])
    dispatcher.submit([ticket(m, pool=random.choice(list(capacities))) for m in range(200)])
    in_use = {pool: 0 for pool in capacities}
    peak = dict(in_use)
    lock = threading.Lock()
    served = []

    def worker() -> None:
        while (claim := dispatcher.claim(0.2)) is not None:
            with lock:
                in_use[claim.pool] += 1
                peak[claim.pool] = max(peak[claim.pool], in_use[claim.pool])
                served.extend(claim.tickets)
            time.sleep(0.001)
            with lock:
                in_use[claim.pool] -= 1
            claim.done()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(served) == 200
    assert peak == {"pool:a": 3, "pool:b": 1}


def test_one_claim_per_meter_takes_its_other_tickets_along() -> None:
    dispatcher = LocalDispatcher(lambda pool: 10)
    first, second, other = ticket(7), ticket(7, run=2), ticket(8)
    dispatcher.submit([first, second, other])
    claim = dispatcher.claim(0)
    assert claim is not None and claim.meter_id == 7
    assert [t.task_id for t in claim.tickets] == [first.task_id, second.task_id]
    late = ticket(7)
    dispatcher.submit([late])
    next_claim = dispatcher.claim(0)
    assert next_claim is not None and next_claim.meter_id == 8  # meter 7 is in a session
    assert dispatcher.claim(0) is None
    claim.done()
    again = dispatcher.claim(0)
    assert again is not None and again.tickets == [late]


def test_a_shared_run_takes_at_most_its_share_of_a_pool() -> None:
    dispatcher = LocalDispatcher(lambda pool: 4)
    big = [ticket(m, run=9, share=0.5) for m in range(10)]
    dispatcher.submit(big)
    claims = [dispatcher.claim(0) for _ in range(3)]
    assert claims[0] is not None and claims[1] is not None
    assert claims[2] is None  # half of 4 lines
    scheduled = ticket(100, run=10)
    dispatcher.submit([scheduled])
    claim = dispatcher.claim(0)
    assert claim is not None and claim.tickets == [scheduled]
    claims[0].done()
    freed = dispatcher.claim(0)
    assert freed is not None and freed.tickets[0].run_id == 9


def test_a_delayed_ticket_waits_for_its_time() -> None:
    now = [1000.0]
    dispatcher = LocalDispatcher(lambda pool: 1, clock=lambda: now[0])
    later = ticket(1, not_before=1010.0)
    dispatcher.submit([later])
    assert dispatcher.claim(0) is None
    assert dispatcher.snapshot().delayed == 1
    now[0] = 1010.0
    claim = dispatcher.claim(0)
    assert claim is not None and claim.tickets == [later]


def test_cancelling_a_run_drops_its_tickets_and_flags_its_claims() -> None:
    dispatcher = LocalDispatcher(lambda pool: 1)
    running, waiting, other = ticket(1, run=5), ticket(2, run=5), ticket(3, run=6)
    dispatcher.submit([running, waiting, other])
    claim = dispatcher.claim(0)
    assert claim is not None and claim.tickets == [running]
    dropped = dispatcher.cancel_run(5)
    assert dropped == [waiting]
    assert claim.cancelled.is_set()
    claim.done()
    assert [t.task_id for t in drain(dispatcher)] == [other.task_id]
    dispatcher.submit([ticket(4, run=5)])  # a late retry of the cancelled run
    assert dispatcher.claim(0) is None


def test_a_line_given_back_early_serves_the_next_meter_while_the_first_is_still_busy() -> None:
    dispatcher = LocalDispatcher(lambda pool: 1)
    hanging, waiting, same_meter = ticket(1), ticket(2), ticket(1)
    dispatcher.submit([hanging, waiting])
    claim = dispatcher.claim(0)
    assert claim is not None
    assert dispatcher.claim(0) is None
    claim.release_line()  # the watchdog cut the hanging session
    claim.release_line()  # idempotent
    next_claim = dispatcher.claim(0)
    assert next_claim is not None and next_claim.tickets == [waiting]
    dispatcher.submit([same_meter])
    next_claim.done()
    assert dispatcher.claim(0) is None  # meter 1 is still in its session
    claim.done()
    assert dispatcher.claim(0) is not None
    assert dispatcher.snapshot().pools["default"] == (1, 1)


def test_switching_to_the_backup_pool_waits_for_a_free_line() -> None:
    capacities = {"pool:main": 1, "pool:backup": 1}
    dispatcher = LocalDispatcher(lambda pool: capacities[pool])
    dispatcher.submit([ticket(1, pool="pool:main"), ticket(2, pool="pool:backup")])
    first = dispatcher.claim(0)
    second = dispatcher.claim(0)
    assert first is not None and second is not None
    assert first.switch_line("pool:backup", timeout=0.05) is False
    threading.Timer(0.05, second.done).start()
    assert first.switch_line("pool:backup", timeout=2) is True
    assert first.pool == "pool:backup"
    first.done()
    assert dispatcher.snapshot().pools == {"pool:main": (0, 1), "pool:backup": (0, 1)}


def test_claim_meter_takes_the_waiting_tickets_of_a_meter_that_called_in() -> None:
    dispatcher = LocalDispatcher(lambda pool: 1)
    mine, other = ticket(42), ticket(43)
    dispatcher.submit([mine, other])
    claim = dispatcher.claim_meter(42, pool="inbound")
    assert claim is not None and claim.tickets == [mine]
    assert dispatcher.claim_meter(42) is None
    rest = dispatcher.claim(0)
    assert rest is not None and rest.tickets == [other]
