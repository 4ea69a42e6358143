"""The scaled-out mode with real processes: ``meterhub scheduler`` and ``meterhub worker``
through the real RabbitMQ, on PostgreSQL.

Every test uses a database of its own on the PostgreSQL server of the tests and a queue of its
own on the broker (``broker_queue``), so it collides with nobody; the PostgreSQL restart uses a
private cluster and the broker restart a private RabbitMQ node, both started by the test. The
tests do not depend on the backend switch: they run once.

Each checks the values stored against the simulated meters (no value lost, none twice), and that
every task ended once (the run's counters).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as day_time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from kombu import Connection, Queue
from sqlalchemy import func, select, text

from meterhub.acquisition.broker import (
    MAX_PRIORITY,
    MESSAGE_METERS,
    BrokerDispatcher,
    broker_priority,
    decode,
    encode,
    messages_of,
)
from meterhub.acquisition.dispatch import Ticket
from meterhub.config import load_settings
from meterhub.db import make_engine, transaction, upgrade_database
from meterhub.extensions.driverkit import SimulatedMeter
from meterhub.inventory import jobs, meters
from meterhub.inventory.elements import create_element
from meterhub.inventory.metering import add_channel, create_metering_point, create_virtual_meter
from meterhub.inventory.templates import create_template
from meterhub.model.jobs import JobRun
from meterhub.model.tasks import Task
from meterhub.runtime import Runtime, build_runtime

pytestmark = pytest.mark.slow

METERHUB = str(Path(sys.executable).with_name("meterhub"))
BROKER = "amqp://guest:guest@127.0.0.1:5672//"
START = datetime(2026, 1, 1, tzinfo=UTC)
PG_BIN = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")


PG_ADMIN = os.environ.get(
    "METERHUB_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@contextmanager
def pg_database(admin_url: str = PG_ADMIN) -> Iterator[str]:
    """A new database on the PostgreSQL server of ``admin_url``; dropped afterwards."""
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"meterhub_scale_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.1)


# -- the fleet, the processes, the checks -----------------------------------------------------


@dataclass
class Site:
    """A database with a fleet of simulated meters, and the processes run on it."""

    url: str
    workdir: Path
    queue: str
    broker: str = BROKER
    runtime: Runtime | None = None
    serials: list[str] = field(default_factory=list)
    meter_ids: list[int] = field(default_factory=list)
    channels: dict[str, dict[str, int]] = field(default_factory=dict)
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("METERHUB_")}
        env |= {
            "METERHUB_DATABASE_URL": self.url,
            "METERHUB_DATA_DIR": str(self.workdir / "data"),
            "METERHUB_BROKER_URL": self.broker,
            "METERHUB_BROKER_QUEUE": self.queue,
            "METERHUB_ACQUISITION_LEASE_SECONDS": "3",
            "METERHUB_ACQUISITION_BATCH_SECONDS": "0.1",
            # messages of two meters: a worker holds part of a small run, and a message whose
            # tasks end in different batches is acknowledged after the last
            "METERHUB_BROKER_MESSAGE_METERS": "2",
            "METERHUB_LOG_LEVEL": "INFO",
        }
        return env

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        log = self.workdir / f"{args[0]}-{len(self.processes)}.log"
        with log.open("w") as stderr:
            process = subprocess.Popen(
                [METERHUB, *args],
                cwd=self.workdir,
                env=self.env(),
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                text=True,
            )
        process.log = log  # type: ignore[attr-defined]
        self.processes.append(process)
        return process

    def make_fleet(self, count: int, **settings: str) -> None:
        assert self.runtime is not None
        with transaction(self.runtime.sessions, user="tester") as session:
            create_template(session, "Site")
            element = create_element(session, template="Site", name="site")
            drivers = self.runtime.plugins.drivers()
            for index in range(count):
                serial = f"S{index:03d}"
                point = create_metering_point(session, element=element, name=f"point {index}")
                virtual = create_virtual_meter(session, metering_point=point, name="main")
                found = {}
                for obis in ("1-0:1.29.0", "1-0:3.29.0"):
                    found[obis] = add_channel(
                        session, virtual_meter=virtual, obis=obis, interval_minutes=15, unit=None
                    ).id
                found["register"] = add_channel(
                    session, virtual_meter=virtual, obis="1-0:1.8.0", kind="register"
                ).id
                found["events"] = add_channel(
                    session, virtual_meter=virtual, obis="0-0:99.98.0", kind="event"
                ).id
                meter = meters.create_meter(
                    session, manufacturer="Sim", serial_number=serial, driver="simulated",
                    driver_settings=dict(settings), drivers=drivers,
                )  # fmt: skip
                meters.assign_meter(session, virtual, meter, START)
                self.serials.append(serial)
                self.meter_ids.append(meter.id)
                self.channels[serial] = found

    def start_run(self, name: str = "read", **options: Any) -> int:
        assert self.runtime is not None
        with transaction(self.runtime.sessions, user="tester") as session:
            job = jobs.create_job(
                session,
                name=name,
                actions=[
                    {"action": "read_load_profile", "parameters": {"range": "previous_day"}},
                    "read_registers",
                    {"action": "read_events", "parameters": {"range": "previous_day"}},
                ],
                meters=self.meter_ids,
                user="tester",
                **options,
            )
            return int(jobs.run_job(session, job, user="tester").id)

    def run(self, run_id: int) -> JobRun:
        assert self.runtime is not None
        with self.runtime.sessions() as session:
            return session.scalars(select(JobRun).where(JobRun.id == run_id)).one()

    def wait_run(self, run_id: int, timeout: float) -> JobRun:
        deadline = time.monotonic() + timeout
        while True:
            try:
                run = self.run(run_id)
                if run.finished_at is not None:
                    return run
            except Exception:  # the database is being restarted
                run = None
            if time.monotonic() > deadline:
                logs = "\n".join(
                    f"--- {p.log}:\n{p.log.read_text()[-3000:]}"  # type: ignore[attr-defined]
                    for p in self.processes
                )
                raise AssertionError(f"run {run_id} did not end in {timeout} s: {run}\n{logs}")
            time.sleep(0.2)

    def succeeded(self, run_id: int) -> int:
        assert self.runtime is not None
        with self.runtime.engine.connect() as connection:
            return int(
                connection.execute(
                    select(func.count())
                    .select_from(Task.__table__)
                    .where(Task.run_id == run_id, Task.state == "succeeded")
                ).scalar_one()
            )

    def check_values(self, run_id: int) -> None:
        """Every meter's previous day exactly as the meter has it, every task ended once."""
        assert self.runtime is not None
        run = self.run(run_id)
        tasks = 3 * len(self.meter_ids)
        assert (run.status, run.tasks_total) == ("succeeded", tasks), run
        assert (run.tasks_succeeded, run.tasks_failed, run.tasks_cancelled) == (tasks, 0, 0)
        with self.runtime.sessions() as session:
            states = list(session.scalars(select(Task.state).where(Task.run_id == run_id)))
        assert states == ["succeeded"] * tasks
        created = run.created_at.replace(tzinfo=UTC)
        day = datetime.combine(created.date() - timedelta(days=1), day_time(), UTC)
        store = self.runtime.store
        first = int(day.timestamp())
        for serial in self.serials:
            model = SimulatedMeter(serial)
            ends = np.arange(first + 900, first + 86_401, 900)
            registers = model.registers_at(np.concatenate(([ends[0] - 900], ends)))
            ids = self.channels[serial]
            for obis, column in (("1-0:1.29.0", "active"), ("1-0:3.29.0", "reactive")):
                data = store.read_intervals([ids[obis]], day, day + timedelta(days=1), layer="raw")
                assert np.array_equal(data.values[0], np.diff(registers[column]).astype(float))
            ended = run.finished_at.replace(tzinfo=UTC) + timedelta(seconds=1)
            readings = store.read_registers(
                [ids["register"]], created - timedelta(seconds=1), ended
            )
            assert len(readings.values) == 1  # read once in the run: one reading, not two
            events = model.events(first, first + 86_400)
            stored = store.read_events([ids["events"]], day, day + timedelta(days=1))
            assert len(stored.codes) == len(events)  # none stored twice
        # a re-read that differs from a stored raw value would be a conflict: none
        with self.runtime.engine.connect() as connection:
            conflicts = connection.execute(text("SELECT count(*) FROM ts_conflict")).scalar()
        assert conflicts == 0

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def log_of(process: subprocess.Popen[str]) -> str:
    return process.log.read_text()  # type: ignore[attr-defined]


def queue_depth(broker: str, name: str) -> int:
    """Messages ready in the queue (not those delivered and unacknowledged)."""
    with Connection(broker) as connection:
        declared = Queue(name, durable=True, queue_arguments={"x-max-priority": MAX_PRIORITY})
        result = declared.bind(connection.default_channel).queue_declare(passive=True)
        return int(result.message_count)


def delete_queue(broker: str, name: str) -> None:
    try:
        with Connection(broker) as connection:
            connection.default_channel.queue_delete(name)
    except Exception:  # the broker is gone already
        pass


@pytest.fixture
def make_site(tmp_path: Path) -> Iterator[Callable[..., Site]]:
    """A migrated database of its own (the URL given, or a new one on the test server), a
    runtime on it, and a queue of its own; processes stopped and the queue deleted after."""
    sites: list[Site] = []
    stack = ExitStack()

    def make(url: str | None = None, broker: str = BROKER) -> Site:
        if url is None:
            url = stack.enter_context(pg_database())
        engine = make_engine(url)
        upgrade_database(engine)
        engine.dispose()
        site = Site(url, tmp_path, f"meterhub.test.{uuid.uuid4().hex[:10]}", broker)
        site.runtime = build_runtime(
            load_settings(data_dir=tmp_path / "data", database_url=url, log_level="WARNING")
        )
        sites.append(site)
        return site

    yield make
    for site in sites:
        site.stop_all()
        if site.runtime is not None:
            site.runtime.close()
        delete_queue(site.broker, site.queue)
    stack.close()


# -- the broker dispatcher alone --------------------------------------------------------------


def test_tickets_travel_as_plain_data_with_their_priority() -> None:
    ticket = Ticket(7, 3, 11, "read_clock", 0, "default", priority=4, attempts=0, created=7.0)
    quick = Ticket(8, 4, 11, "read_clock", 0, "default", priority=9, quick=True)
    retry = Ticket(9, 3, 12, "read_clock", 0, "default", priority=4, attempts=2, share=0.5)
    assert broker_priority(quick) == MAX_PRIORITY
    assert broker_priority(ticket) == 9 and broker_priority(retry) == 8
    from meterhub.acquisition.broker import encode

    (back,) = decode(encode([retry]))
    assert (back.task_id, back.meter_id, back.attempts, back.share) == (9, 12, 2, 0.5)
    with pytest.raises(ValueError, match=r"tickets\[0\]: expected 11 fields"):
        decode({"tickets": [[1, 2]]})
    with pytest.raises(ValueError, match="no list 'tickets'"):
        decode({"ticket": []})


def test_a_bad_broker_url_is_refused_naming_the_setting() -> None:
    from meterhub.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="broker_url: 'http://x' is not an AMQP URL"):
        BrokerDispatcher("http://x", "q")


def test_published_tickets_come_out_by_priority_and_a_bad_message_is_refused() -> None:
    name = f"meterhub.test.{uuid.uuid4().hex[:10]}"
    publisher = BrokerDispatcher(BROKER, name)
    try:
        publisher.purge()
        low = Ticket(1, 1, 1, "read_clock", 0, "default", priority=1, created=1.0)
        high = Ticket(2, 2, 2, "read_clock", 0, "default", priority=8, created=2.0)
        quick = Ticket(3, 3, 3, "read_clock", 0, "default", priority=9, quick=True)
        siblings = [Ticket(4 + i, 1, 4, f"a{i}", i, "default", created=4.0 + i) for i in range(3)]
        publisher.submit([low, high, *siblings, quick])
        with Connection(BROKER) as connection:
            producer = connection.Producer()
            producer.publish(b"not json", routing_key=name, content_type="application/json",
                             content_encoding="utf-8")  # fmt: skip
        consumer = BrokerDispatcher(BROKER, name, capacity=lambda key: 1)
        consumer.consume(prefetch=10)
        try:
            assert consumer.wait_connected(10)
            wait_for(lambda: consumer.unsettled() == 6, 10, "six tickets received")
            order = []
            for _ in range(4):
                claim = consumer.claim(5)
                assert claim is not None
                order.append(sorted(t.task_id for t in claim.tickets))
                claim.done()
                consumer.settle(t.task_id for t in claim.tickets)
            # quick first, then priority; the meter's three tickets in one message, one claim
            assert order[0] == [3] and order[1] == [2] and [1] in order and [4, 5, 6] in order
            wait_for(lambda: consumer.unsettled() == 0, 5, "all settled")
        finally:
            consumer.shutdown()
        assert queue_depth(BROKER, name) == 0  # acknowledged, and the bad one rejected
    finally:
        publisher.shutdown()
        delete_queue(BROKER, name)


def test_messages_carry_up_to_n_meters_of_one_priority_with_each_meters_tickets_together() -> None:
    low = [Ticket(10 + i, 1, 100 + i, "read_clock", 0, "default", created=10.0 + i)
           for i in range(5)]  # fmt: skip
    siblings = [Ticket(20 + i, 1, 104, f"a{i}", i, "default", created=20.0 + i) for i in range(3)]
    high = [Ticket(30 + i, 2, 200 + i, "read_clock", 0, "default", priority=8, created=30.0 + i)
            for i in range(3)]  # fmt: skip
    quick = Ticket(40, 3, 300, "read_clock", 0, "default", quick=True, created=40.0)
    messages = messages_of([*low, *siblings, *high, quick], meters=2)
    as_meters = [[ticket.meter_id for ticket in message] for message in messages]
    # quick first, then the higher priority, each message one priority, at most two meters;
    # meter 104's four tickets travel together (its first ticket places it)
    assert as_meters == [
        [300],
        [200, 201],
        [202],
        [100, 101],
        [102, 103],
        [104, 104, 104, 104],
    ]
    assert {broker_priority(t) for t in messages[1]} == {broker_priority(high[0])}
    many = [Ticket(i, 1, i, "read_clock", 0, "default", created=float(i)) for i in range(1, 26)]
    assert [len(m) for m in messages_of(many)] == [MESSAGE_METERS, MESSAGE_METERS, 5]
    first = messages_of(many)[0]
    assert [(t.task_id, t.meter_id) for t in decode(encode(first))] == [
        (t.task_id, t.meter_id) for t in first
    ]


# -- real processes ---------------------------------------------------------------------------


def test_a_worker_killed_mid_task_loses_nothing_and_stores_nothing_twice(make_site) -> None:
    site = make_site()
    # sessions of 3 s (3 round trips of 1 s): the kill comes while they run
    site.make_fleet(16, latency="1", connect_round_trips="2", round_trips="0")
    run_id = site.start_run()
    site.spawn("scheduler")
    doomed = site.spawn("worker", "--capacity", "4", "--prefetch", "4")
    wait_for(lambda: "running" in log_of(doomed), 60, "the first worker")
    # it holds 4 messages (8 tickets) unacknowledged, four sessions running, none ended
    wait_for(lambda: queue_depth(site.broker, site.queue) == 4, 60, "4 of 8 messages taken")
    time.sleep(1.5)
    assert site.run(run_id).tasks_succeeded == 0
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(10)
    site.spawn("worker", "--capacity", "4")
    site.spawn("worker", "--capacity", "4")
    finished = site.wait_run(run_id, 120)
    assert finished.status == "succeeded"
    site.check_values(run_id)
    assert queue_depth(site.broker, site.queue) == 0


def test_of_two_schedulers_one_runs_and_the_other_waits_then_takes_over(make_site) -> None:
    site = make_site()
    site.make_fleet(4)
    first = site.spawn("scheduler")
    wait_for(lambda: "active" in log_of(first), 60, "the first scheduler active")
    second = site.spawn("scheduler")
    wait_for(lambda: "scheduler waiting" in log_of(second), 60, "the second one waiting")
    assert f"vm:{first.pid}" in log_of(second) or str(first.pid) in log_of(second)
    site.spawn("worker", "--capacity", "2")
    run_id = site.start_run("first")
    assert site.wait_run(run_id, 60).status == "succeeded"
    site.check_values(run_id)
    assert "active" not in log_of(second)
    first.send_signal(signal.SIGKILL)  # dies holding the lease: it lapses after 3 s
    first.wait(10)
    wait_for(lambda: "active" in log_of(second), 30, "the second scheduler taking over")
    again = site.start_run("second")
    assert site.wait_run(again, 60).status == "succeeded"
    site.check_values(again)


# -- a private PostgreSQL cluster -------------------------------------------------------------


def _as_postgres(command: list[str]) -> list[str]:
    """``command`` as the ``postgres`` user when we are root (PostgreSQL refuses root)."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@dataclass
class Cluster:
    """A PostgreSQL cluster of the test's own in a temporary directory, on a free port."""

    directory: Path
    port: int

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def ctl(self, *args: str) -> None:
        subprocess.run(
            _as_postgres([str(PG_BIN[-1] / "pg_ctl"), "-D", str(self.data), *args]),
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.ctl("-o", options, "-l", str(self.directory / "log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self.ctl("-m", mode, "-w", "stop")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"


@pytest.fixture
def private_postgresql() -> Iterator[Cluster]:
    """A private cluster: restarting it disturbs nobody (never the shared server)."""
    if not PG_BIN:
        pytest.fail("PostgreSQL's server programs are not in /usr/lib/postgresql/*/bin")
    import tempfile

    directory = Path(tempfile.mkdtemp(prefix="meterhub-pg-"))
    if os.geteuid() == 0:
        import pwd

        entry = pwd.getpwnam("postgres")
        os.chown(directory, entry.pw_uid, entry.pw_gid)
    cluster = Cluster(directory, free_port())
    subprocess.run(
        _as_postgres([str(PG_BIN[-1] / "initdb"), "-D", str(cluster.data), "-A", "trust",
                      "-U", "postgres", "--no-sync"]),
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    cluster.start()
    try:
        yield cluster
    finally:
        try:
            cluster.stop("immediate")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(directory, ignore_errors=True)


def test_postgresql_restarted_during_a_run_workers_reconnect_and_the_run_completes(
    make_site, private_postgresql
) -> None:
    with pg_database(private_postgresql.url) as url:
        site = make_site(url)
        site.make_fleet(16, latency="0.5", connect_round_trips="2", round_trips="0")
        run_id = site.start_run(max_attempts=5, retry_delay=1, retry_backoff=1.0)
        site.spawn("scheduler")
        site.spawn("worker", "--capacity", "2")
        site.spawn("worker", "--capacity", "2")
        wait_for(lambda: site.succeeded(run_id) >= 6, 90, "a part of the run done")
        private_postgresql.stop()
        time.sleep(3)  # sessions end meanwhile; their results wait for the database
        private_postgresql.start()
        finished = site.wait_run(run_id, 120)
        assert finished.status == "succeeded"
        site.check_values(run_id)
        site.stop_all()
        site.runtime.close()


# -- a private RabbitMQ node ------------------------------------------------------------------


@dataclass
class RabbitNode:
    """A RabbitMQ node of the test's own (its own name, ports and data directory)."""

    directory: Path
    name: str
    port: int
    dist_port: int
    process: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        base = self.directory
        return os.environ | {
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_PLUGINS_EXPAND_DIR": str(base / "plugins"),
            "RABBITMQ_PID_FILE": str(base / "pid"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(base / "env.conf"),
        }

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def start(self) -> None:
        with (self.directory / "server.log").open("ab") as out:
            self.process = subprocess.Popen(
                [str(RABBIT_BIN / "rabbitmq-server")], env=self.env(), stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

        def answers() -> bool:
            try:
                with Connection(self.url, connect_timeout=1) as connection:
                    connection.ensure_connection(max_retries=0)
                return True
            except Exception:
                return False

        wait_for(answers, 90, f"the private RabbitMQ node {self.name}")

    def stop(self) -> None:
        subprocess.run(
            [str(RABBIT_BIN / "rabbitmqctl"), "-n", self.name, "shutdown"],
            env=self.env(), capture_output=True, timeout=60,
        )  # fmt: skip
        if self.process is not None:
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            self.process = None


@pytest.fixture
def private_rabbitmq() -> Iterator[RabbitNode]:
    """A private node: restarting it disturbs nobody (never the shared broker)."""
    if not (RABBIT_BIN / "rabbitmq-server").exists():
        pytest.fail(f"RabbitMQ's server programs are not in {RABBIT_BIN}")
    import tempfile

    directory = Path(tempfile.mkdtemp(prefix="meterhub-rabbit-"))
    (directory / "enabled_plugins").write_text("[].\n")
    (directory / "env.conf").write_text("")
    node = RabbitNode(directory, f"meterhub-{uuid.uuid4().hex[:8]}@localhost", free_port(),
                      free_port())  # fmt: skip
    node.start()
    try:
        yield node
    finally:
        node.stop()
        shutil.rmtree(directory, ignore_errors=True)


def test_the_broker_restarted_during_a_run_loses_nothing(make_site, private_rabbitmq) -> None:
    site = make_site(broker=private_rabbitmq.url)
    site.make_fleet(16, latency="0.5", connect_round_trips="2", round_trips="0")
    run_id = site.start_run()
    site.spawn("scheduler")
    workers = [site.spawn("worker", "--capacity", "2", "--prefetch", "3") for _ in range(2)]
    wait_for(lambda: site.succeeded(run_id) >= 6, 90, "a part of the run done")
    assert queue_depth(site.broker, site.queue) > 0  # tickets wait in the broker
    private_rabbitmq.stop()
    private_rabbitmq.start()  # the same node and data: durable queue, persistent messages
    finished = site.wait_run(run_id, 120)
    assert finished.status == "succeeded"
    site.check_values(run_id)
    assert all("lost the broker" in log_of(worker) for worker in workers)


def test_bad_jobs_are_refused_naming_the_part_and_nothing_is_published(make_site) -> None:
    site = make_site()
    site.make_fleet(2)
    scheduler = site.spawn("scheduler")
    wait_for(lambda: "active" in log_of(scheduler), 60, "the scheduler active")

    def job(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([METERHUB, "job", *args], cwd=site.workdir, env=site.env(),
                              capture_output=True, text=True, timeout=60)  # fmt: skip

    rule = job("add", "r", "--action", "read_clock", "--meter", "S000", "--rrule", "FREQ=NEVER")
    assert rule.returncode == 1
    assert "recurrence: 'FREQ=NEVER' is not an RFC 5545 rule" in rule.stderr
    meter = job("add", "m", "--action", "read_clock", "--meter", "GHOST")
    assert meter.returncode == 1
    assert "meters[0]: no meter with serial number 'GHOST'" in meter.stderr
    action = job("add", "a", "--action", "read_mind", "--meter", "S000")
    assert action.returncode == 1
    assert "actions[0].action: unknown action 'read_mind'" in action.stderr
    assert site.runtime is not None
    with site.runtime.sessions() as session:
        assert session.scalars(select(func.count()).select_from(JobRun)).one() == 0
    time.sleep(1.5)  # three scheduler rounds
    assert queue_depth(site.broker, site.queue) == 0
    good = job("add", "good", "--action", "read_clock", "--meter", "S000")
    assert good.returncode == 0, good.stderr
    assert job("run", "good").returncode == 0
    wait_for(lambda: queue_depth(site.broker, site.queue) == 1, 30, "the good job published")
