"""Admission ahead in a worker of the scaled-out mode (``WorkerEngine``, the real RabbitMQ): on
PostgreSQL the meters of the tickets a worker receives are locked in bulk before they wait for
a line, stay locked while they wait, and are unlocked once their results are committed (or
their run is cancelled). Other databases lock a meter when a line takes it.

The tests run on the backend of the run (SQLite by default; ``--db=postgresql``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from acquisition_helpers import wait_run
from kombu import Connection

from meterhub.acquisition.broker import BrokerDispatcher
from meterhub.acquisition.scaled import MeterLocks, SchedulerEngine, WorkerEngine
from meterhub.db import transaction
from meterhub.inventory import jobs
from meterhub.runtime import Runtime

pytestmark = pytest.mark.timeout(120)

BROKER = "amqp://guest:guest@127.0.0.1:5672//"


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        time.sleep(0.02)


class Pair:
    """A scheduler and a worker of one line on a queue of their own."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.queue = f"meterhub.test.{uuid.uuid4().hex[:10]}"
        self.scheduler = SchedulerEngine(
            runtime, BrokerDispatcher(BROKER, self.queue), poll_seconds=0.05
        )
        holder: list[WorkerEngine] = []
        self.link = BrokerDispatcher(
            BROKER, self.queue, capacity=lambda key: holder[0].pools.capacity(key)
        )
        self.worker = WorkerEngine(runtime, self.link, capacity=1)
        holder.append(self.worker)

    def start(self) -> None:
        self.worker.start()
        assert self.link.wait_connected(10)
        self.scheduler.start()

    def stop(self) -> None:
        self.scheduler.stop()
        self.worker.stop()
        with Connection(BROKER) as connection:
            connection.default_channel.queue_delete(self.queue)


@pytest.fixture
def pair(runtime: Runtime) -> Iterator[Pair]:
    found = Pair(runtime)
    try:
        yield found
    finally:
        found.stop()


def _started(
    runtime: Runtime, make_fleet: Callable[..., Any], pair: Pair, count: int, latency: str
) -> tuple[list[int], int]:
    """``count`` meters (sessions of ``latency`` s), a run reading their clocks, the pair
    started and every ticket received; on PostgreSQL every meter locked ahead by then."""
    fleet = make_fleet(count, settings={"latency": latency, "connect_round_trips": "1"})
    meters = list(fleet.meter_ids)
    with transaction(runtime.sessions, user="tester") as session:
        job = jobs.create_job(session, name="ahead", actions=["read_clock"], meters=meters)
        run_id = int(jobs.run_job(session, job, user="tester").id)
    pair.start()
    wait_for(lambda: pair.link.unsettled() == count, 20, f"the {count} tickets received")
    if pair.worker.locks.advisory:
        wait_for(lambda: pair.worker.locks.held() == set(meters), 10, "all meters locked")
    return meters, run_id


def test_meters_waiting_for_a_line_are_locked_ahead_and_unlocked_after_their_commit(
    runtime: Runtime, make_fleet: Callable[..., Any], pair: Pair
) -> None:
    # three meters, sessions of 1 s, one line: two wait while the first is read
    meters, run_id = _started(runtime, make_fleet, pair, 3, "1")
    other = MeterLocks(runtime.engine, "elsewhere:1")
    try:
        if pair.worker.locks.advisory:
            assert pair.worker.snapshot().queued + pair.worker.snapshot().claimed == 3
            # no other process can open a session with any of them, waiting or not
            assert all(other.admit(meter_id, []) is None for meter_id in meters)
        else:  # lease rows: only the meter in a session is locked
            assert len(pair.worker.locks.held()) <= 1
        assert wait_run(runtime, run_id, 30).status == "succeeded"
        wait_for(lambda: not pair.worker.locks.held(), 10, "every meter unlocked")
        wait_for(lambda: pair.link.unsettled() == 0, 10, "every message acknowledged")
        for meter_id in meters:
            assert other.admit(meter_id, []) == {}
            other.release([meter_id])
    finally:
        other.close()


def test_a_cancelled_run_unlocks_the_meters_admitted_ahead(
    runtime: Runtime, make_fleet: Callable[..., Any], pair: Pair
) -> None:
    _, run_id = _started(runtime, make_fleet, pair, 4, "2")
    with transaction(runtime.sessions, user="tester") as session:
        jobs.cancel_run(session, run_id, user="tester")
    finished = wait_run(runtime, run_id, 30)
    assert finished.status == "cancelled"
    # the waiting tickets were dropped, the session in progress ended: nothing stays locked
    wait_for(lambda: not pair.worker.locks.held(), 15, "every meter unlocked")
    wait_for(lambda: pair.link.unsettled() == 0, 10, "every message acknowledged")
