"""Meters that call in to a worker of the scaled-out mode (``meterhub worker --listen``).

A gurux-built pushing meter (the DLMS simulator's ``call_in``) connects to the listener of a
:class:`~meterhub.acquisition.scaled.WorkerEngine` that consumes the real RabbitMQ. The meter's
waiting task was published by a real :class:`~meterhub.acquisition.scaled.SchedulerEngine` to a
queue no worker consumes yet (the message is in the broker, taken by nobody): the worker stores
the push through its batch writer, announces the alarms after that commit, takes the meter's
lock and runs the waiting task over the meter's line; the message, consumed later by another
worker, finds its task ended and is acknowledged without a second session.

The tests run on the backend of the run (SQLite by default; ``--db=postgresql``).
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from acquisition_helpers import wait_run
from kombu import Connection, Queue
from sqlalchemy import select, update
from test_acq_inbound import (  # noqa: F401 - the fixture is found by name
    ALARM_LOG,
    EVENT_LOG,
    AlarmListener,
    _channels,
    _event_count,
    _register,
    _wait,
    alarms,
    push_to_a_listening_command,
)

from meterhub.acquisition.broker import MAX_PRIORITY, BrokerDispatcher
from meterhub.acquisition.dispatch import Ticket
from meterhub.acquisition.runs import TASKS
from meterhub.acquisition.scaled import MeterLocks, SchedulerEngine, WorkerEngine
from meterhub.db import transaction
from meterhub.extensions.driverkit import SimulatedMeter
from meterhub.inventory import jobs
from meterhub.model.tasks import SessionLog, Task
from meterhub.runtime import Runtime

pytestmark = pytest.mark.timeout(120)

BROKER = "amqp://guest:guest@127.0.0.1:5672//"
SERIAL = "DLMS-0002"


def queue_depth(name: str) -> int:
    """Messages ready in queue ``name`` (not those delivered and unacknowledged)."""
    with Connection(BROKER) as connection:
        declared = Queue(name, durable=True, queue_arguments={"x-max-priority": MAX_PRIORITY})
        return int(declared.bind(connection.default_channel).queue_declare().message_count)


@dataclass
class Site:
    """A runtime with a pushing fleet, a run waiting in the broker, and the engines started."""

    runtime: Runtime
    plugin: Any
    fleet: Any
    meters: dict[str, int]
    run_id: int = 0
    waiting_queue: str = ""
    engines: list[Any] = field(default_factory=list)
    queues: list[str] = field(default_factory=list)

    def queue(self) -> str:
        name = f"meterhub.test.{uuid.uuid4().hex[:10]}"
        self.queues.append(name)
        return name

    def worker(self, queue_name: str, *, listen: str = "") -> WorkerEngine:
        holder: list[WorkerEngine] = []
        link = BrokerDispatcher(
            BROKER, queue_name, capacity=lambda key: holder[0].pools.capacity(key)
        )
        worker = WorkerEngine(self.runtime, link, capacity=2, listen=listen)
        holder.append(worker)
        self.engines.append(worker)
        worker.start()
        assert link.wait_connected(10)
        return worker

    def publish_waiting_task(self) -> None:
        """A run with one ``read_clock`` task for SERIAL, published to a queue of its own."""
        with transaction(self.runtime.sessions, user="alice") as session:
            job = jobs.create_job(session, name="waiting", actions=["read_clock"],
                                  meters=[self.meters[SERIAL]])  # fmt: skip
            self.run_id = jobs.run_job(session, job, user="alice").id
        self.waiting_queue = self.queue()
        scheduler = SchedulerEngine(
            self.runtime, BrokerDispatcher(BROKER, self.waiting_queue), poll_seconds=0.05
        )
        self.engines.append(scheduler)
        scheduler.start()
        _wait(lambda: queue_depth(self.waiting_queue) == 1)

    def task(self) -> Task:
        with self.runtime.sessions() as session:
            return session.scalars(select(Task).where(Task.run_id == self.run_id)).one()

    def sessions(self) -> list[SessionLog]:
        with self.runtime.sessions() as session:
            return list(session.scalars(select(SessionLog)))


@pytest.fixture
def site(make_runtime, request: pytest.FixtureRequest) -> Iterator[Site]:
    """The site; ``request.param`` (indirect) sets the writer's batch seconds (0.05)."""
    box: list[Runtime] = []
    plugin = AlarmListener(box)
    runtime = make_runtime(plugin, acquisition_batch_seconds=getattr(request, "param", 0.05))
    box.append(runtime)
    simulator = runtime.plugins.simulators()["dlms"]()
    with simulator.start(2) as fleet:
        found = Site(runtime, plugin, fleet, _register(runtime, fleet.endpoints))
        try:
            yield found
        finally:
            for engine in reversed(found.engines):
                engine.stop()
            with Connection(BROKER) as connection:
                for name in found.queues:
                    connection.default_channel.queue_delete(name)


def test_a_meter_calling_a_worker_is_stored_alarmed_and_its_waiting_task_runs_once(site) -> None:
    site.publish_waiting_task()
    worker = site.worker(site.queue(), listen="127.0.0.1:0")
    assert worker.inbound is not None
    meter_id = site.meters[SERIAL]
    at = int(time.time())
    call = site.fleet.call_in(SERIAL, worker.inbound.address, at=at, alarm_bits=0b101,
                              event_code=1)  # fmt: skip
    assert call.wait(30)
    assert call.closed_by_peer and call.requests > 0  # the worker talked, then hung up
    run = wait_run(site.runtime, site.run_id)
    assert (run.status, run.tasks_succeeded) == ("succeeded", 1)
    (log,) = site.sessions()
    assert (log.pool_key, log.medium, log.meter_id) == ("inbound", "tcp", meter_id)
    assert site.task().attempts == 1
    # the push: through the worker's writer, the alarms announced after that commit
    _wait(lambda: site.plugin.calls)
    ((hooked_meter, hooked),) = site.plugin.calls
    assert hooked_meter == meter_id and site.plugin.committed_events == [3]
    assert sorted((a.log, a.code) for a in hooked) == [(ALARM_LOG, 0), (ALARM_LOG, 2),
                                                       (EVENT_LOG, 1)]  # fmt: skip
    channels = _channels(site.runtime, meter_id)
    stamp = datetime.fromtimestamp(at, UTC)
    readings = site.runtime.store.read_registers(
        [channels[("register", "1-0:1.8.0*255")]], stamp, stamp + timedelta(seconds=1)
    )
    assert readings.values.tolist() == [SimulatedMeter(SERIAL).active_energy(at)]
    stats = worker.inbound.stats
    assert (stats.pushes, stats.values_stored, stats.alarms, stats.sessions) == (1, 5, 3, 1)
    # the message, still in the broker, is consumed by another worker: the task is ended,
    # the message acknowledged, and the meter not read again
    assert queue_depth(site.waiting_queue) == 1
    other = site.worker(site.waiting_queue)
    _wait(lambda: other.skipped == 1)
    _wait(lambda: other.link.unsettled() == 0)
    other.stop()  # unacknowledged messages would go back to the queue now
    assert queue_depth(site.waiting_queue) == 0
    assert len(site.sessions()) == 1 and site.task().attempts == 1
    assert worker.link.unsettled() == 0


def test_a_meter_in_a_session_elsewhere_is_stored_but_not_served(site) -> None:
    site.publish_waiting_task()
    worker = site.worker(site.queue(), listen="127.0.0.1:0")
    assert worker.inbound is not None
    meter_id = site.meters[SERIAL]
    elsewhere = MeterLocks(site.runtime.engine, "another-worker:1")
    try:
        assert elsewhere.admit(meter_id, []) == {}
        call = site.fleet.call_in(SERIAL, worker.inbound.address, event_code=1, stay=2)
        assert call.wait(30)
        assert call.closed_by_peer and call.requests == 0  # closed without a request
        _wait(lambda: len(site.plugin.calls) == 1)  # the push stored, its alarm announced
        with site.runtime.engine.connect() as connection:
            assert _event_count(connection) == 1
        assert worker.inbound.stats.sessions == 0
        assert site.task().state == "queued" and site.sessions() == []
    finally:
        elsewhere.close()
    # the lock given up, the next call serves the waiting task
    call = site.fleet.call_in(SERIAL, worker.inbound.address, stay=2)
    assert call.wait(30) and call.requests > 0
    assert wait_run(site.runtime, site.run_id).status == "succeeded"


@pytest.mark.parametrize("site", [3.0], indirect=True)  # results wait 3 s for their batch
def test_a_meter_calling_again_before_its_results_are_committed_runs_no_task_twice(site) -> None:
    site.publish_waiting_task()
    worker = site.worker(site.queue(), listen="127.0.0.1:0")
    assert worker.inbound is not None
    first = site.fleet.call_in(SERIAL, worker.inbound.address, stay=0.5)
    assert first.wait(30) and first.requests > 0
    assert site.task().state == "queued"  # the session's results wait for their batch
    again = site.fleet.call_in(SERIAL, worker.inbound.address, stay=0.5)
    assert again.wait(30) and again.requests == 0  # nothing left to do: closed
    assert site.task().state == "queued"
    assert wait_run(site.runtime, site.run_id).status == "succeeded"
    (log,) = site.sessions()
    assert site.task().attempts == 1 and worker.inbound.stats.sessions == 1
    _wait(lambda: worker.link.unsettled() == 0)
    # both admissions released: another process may lock the meter now
    elsewhere = MeterLocks(site.runtime.engine, "another-worker:1")
    try:
        _wait(lambda: elsewhere.admit(site.meters[SERIAL], []) == {})
    finally:
        elsewhere.close()


def test_a_meter_admitted_twice_by_a_worker_stays_locked_until_both_are_released(
    runtime,
) -> None:
    mine = MeterLocks(runtime.engine, "worker-a:1")
    theirs = MeterLocks(runtime.engine, "worker-b:2")
    try:
        assert mine.admit(42, []) == {}
        assert mine.admit(42, []) == {}  # its session ended; the meter called in meanwhile
        mine.release([42])  # the first session's results committed
        assert theirs.admit(42, []) is None
        mine.release([42])
        assert theirs.admit(42, []) == {}
        assert mine.admit(42, []) is None
    finally:
        mine.close()
        theirs.close()


def test_a_message_of_a_task_waiting_for_its_retry_is_acknowledged_not_run(site) -> None:
    """A copy left in the broker by a session that did not consume it (a meter that called
    in, or a worker killed before its acknowledgement): the scheduler publishes the retry
    when it is due, so the copy is not run before."""
    site.publish_waiting_task()
    later = datetime.now(UTC) + timedelta(hours=1)
    with site.runtime.engine.begin() as connection:
        connection.execute(
            update(TASKS)
            .where(TASKS.c.run_id == site.run_id)
            .values(state="retry", attempts=1, not_before=later)
        )
    worker = site.worker(site.waiting_queue)
    _wait(lambda: worker.skipped == 1)
    _wait(lambda: worker.link.unsettled() == 0)
    worker.stop()
    assert queue_depth(site.waiting_queue) == 0
    task = site.task()
    assert (task.state, task.attempts) == ("retry", 1) and site.sessions() == []


def test_a_broker_link_holds_a_task_taken_from_the_database() -> None:
    """A message of a task this worker runs without it waits for the task to be settled."""
    name = f"meterhub.test.{uuid.uuid4().hex[:10]}"
    publisher = BrokerDispatcher(BROKER, name)
    consumer = BrokerDispatcher(BROKER, name)
    try:
        assert consumer.hold([7]) == {7}
        assert consumer.hold([7]) == set()  # held already: its results are on their way
        consumer.consume(prefetch=4)
        assert consumer.wait_connected(10)
        publisher.submit([Ticket(7, 1, 3, "read_clock", 0, "default")])
        _wait(lambda: consumer.received == 1)
        assert consumer.claim(0.2) is None  # not handed to a session: the task is held
        assert consumer.unsettled() == 1
        publisher.submit([Ticket(8, 1, 3, "read_clock", 1, "default")])
        _wait(lambda: consumer.received == 2)
        assert consumer.hold([8]) == set()  # its message is here: its own ticket serves it
        claim = consumer.claim(5)
        assert claim is not None and [t.task_id for t in claim.tickets] == [8]
        claim.done()
        consumer.settle([8])
        consumer.settle([7])
        _wait(lambda: consumer.unsettled() == 0)
    finally:
        consumer.shutdown()
        publisher.shutdown()
    assert queue_depth(name) == 0  # acknowledged
    with Connection(BROKER) as connection:
        connection.default_channel.queue_delete(name)


def test_meterhub_worker_listen_stores_what_a_meter_pushes(
    alarms,  # noqa: F811 - the fixture imported above
    cli_env: dict[str, str],
    database_url: str,
) -> None:
    runtime, _ = alarms
    simulator = runtime.plugins.simulators()["dlms"]()
    queue_name = f"meterhub.test.{uuid.uuid4().hex[:10]}"
    env = cli_env | {
        "METERHUB_DATABASE_URL": database_url,
        "METERHUB_BROKER_URL": BROKER,
        "METERHUB_BROKER_QUEUE": queue_name,
    }
    try:
        with simulator.start(1) as fleet:
            meters = _register(runtime, fleet.endpoints)
            code, rest = push_to_a_listening_command(
                runtime, fleet, meters, ["worker", "--for", "30"], env
            )
    finally:
        with Connection(BROKER) as connection:
            connection.default_channel.queue_delete(queue_name)
    assert code == 0, rest
    assert "worker stopped" in rest


def test_a_bad_listen_address_stops_the_worker_naming_the_option(
    meterhub: Callable[..., subprocess.CompletedProcess[str]], database_url: str, runtime
) -> None:
    wrong = meterhub("worker", "--for", "1", "--listen", "4059",
                     METERHUB_DATABASE_URL=database_url)  # fmt: skip
    assert wrong.returncode != 0
    last = wrong.stderr.strip().splitlines()[-1]
    assert "--listen: must be HOST:PORT with a port 0..65535, got '4059'" in last
