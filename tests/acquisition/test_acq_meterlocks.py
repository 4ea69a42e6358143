"""Meter locks of the scaled-out mode under many sessions at once: admissions that wait for the
same connection are served together, and every one gets its own meter's answer."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from meterhub.acquisition.meterlocks import LOCK_LINES, MeterLocks
from meterhub.db import transaction
from meterhub.inventory import jobs
from meterhub.model.tasks import Task
from meterhub.runtime import Runtime


def _admit_all(
    locks: MeterLocks, requests: list[tuple[int, list[int]]]
) -> dict[int, dict[int, str] | None]:
    """Admit every (meter, tasks) from a thread of its own, all released at once."""
    results: dict[int, dict[int, str] | None] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(len(requests))

    def admit(meter_id: int, task_ids: list[int]) -> None:
        start.wait()
        try:
            results[meter_id] = locks.admit(meter_id, task_ids)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=admit, args=request) for request in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    return results


def test_many_meters_admitted_at_once_get_their_own_tasks_states(
    runtime: Runtime, make_fleet: Callable[..., Any]
) -> None:
    fleet = make_fleet(2)
    with transaction(runtime.sessions, user="tester") as session:
        job = jobs.create_job(
            session, name="locks", actions=["read_clock", "read_registers"], meters=fleet.meter_ids
        )
        run = jobs.run_job(session, job, user="tester")
        run_id = run.id
    with runtime.sessions() as session:
        tasks = session.execute(
            select(Task.meter_id, Task.id, Task.state).where(Task.run_id == run_id)
        ).all()
    by_meter: dict[int, dict[int, str]] = {}
    for meter_id, task_id, state in tasks:
        by_meter.setdefault(meter_id, {})[task_id] = state
    # the fleet's meters with their tasks, and many more meters (ids of no meter) without
    requests = [(meter_id, list(states)) for meter_id, states in by_meter.items()]
    requests += [(10_000 + number, []) for number in range(4 * LOCK_LINES * 3)]
    mine = MeterLocks(runtime.engine, "worker-a:1")
    theirs = MeterLocks(runtime.engine, "worker-b:2")
    try:
        results = _admit_all(mine, requests)
        for meter_id, task_ids in requests:
            expected = {task_id: by_meter[meter_id][task_id] for task_id in task_ids}
            assert results[meter_id] == expected, meter_id
        # all held by this process: none can be admitted by another ...
        refused = _admit_all(theirs, requests)
        assert all(answer is None for answer in refused.values())
        # ... until released
        mine.release([meter_id for meter_id, _ in requests])
        again = _admit_all(theirs, requests)
        assert all(answer is not None for answer in again.values())
    finally:
        mine.close()
        theirs.close()


def test_a_meter_held_elsewhere_is_refused_while_the_others_of_its_batch_are_admitted(
    runtime: Runtime,
) -> None:
    mine = MeterLocks(runtime.engine, "worker-a:1")
    theirs = MeterLocks(runtime.engine, "worker-b:2")
    try:
        assert theirs.admit(7, []) == {}
        same_line = [7 + LOCK_LINES * number for number in range(1, 6)]
        results = _admit_all(mine, [(7, []), *((m, []) for m in same_line)])
        assert results[7] is None
        assert all(results[m] == {} for m in same_line)
    finally:
        mine.close()
        theirs.close()
