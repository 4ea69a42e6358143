"""``meterhub scheduler`` and ``meterhub worker``: the scaled-out acquisition through RabbitMQ.

``meterhub scheduler`` runs the coordinator (scheduled jobs, runs started by users,
cancellations, retries) and publishes tickets to the broker; one is active per database (the
lease), a second one waits and takes over. ``meterhub worker`` runs sessions for the tickets it
receives and commits their results; start any number, on any host that reaches the database,
the broker and the meters; with ``--listen`` it also accepts meters that call in. Both run
until Ctrl-C or SIGTERM (or ``--for SECONDS``). See ``docs/acquisition.md`` (the scaled-out
mode).
"""

from __future__ import annotations

import faulthandler
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import click

from meterhub.cli.state import current_state

__all__ = ["scheduler_command", "worker_command"]


@contextmanager
def _until_stopped(seconds: float | None) -> Iterator[threading.Event]:
    """An event set by SIGTERM, Ctrl-C or after ``seconds``."""
    stop = threading.Event()

    def ask_to_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, ask_to_stop)
    previous_int = signal.signal(signal.SIGINT, ask_to_stop)
    timer = threading.Timer(seconds, stop.set) if seconds is not None else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        yield stop
    finally:
        if timer is not None:
            timer.cancel()
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)


def _pools(values: tuple[str, ...]) -> dict[str, int]:
    pools = {}
    for value in values:
        name, sep, count = value.partition("=")
        if not sep or not name.strip() or not count.strip().isdigit() or int(count) < 1:
            raise click.BadParameter(
                f"{value!r}: expected NAME=LINES with LINES a whole number of at least 1",
                param_hint="--pool",
            )
        pools[name.strip()] = int(count)
    return pools


@click.command("scheduler")
@click.option("--for", "seconds", type=float, default=None, help="Stop after this many seconds.")
@click.option("--queue", "queue_name", default=None, help="The broker queue (broker_queue).")
def scheduler_command(seconds: float | None, queue_name: str | None) -> None:
    """Run the scheduler of the scaled-out mode: jobs, runs, retries; tickets to RabbitMQ.

    One scheduler is active per database; another one started waits and takes over when the
    active one stops or dies.
    """
    from meterhub.acquisition.broker import BrokerDispatcher
    from meterhub.acquisition.scaled import SchedulerEngine, run_scheduler

    runtime = current_state().runtime()
    settings = runtime.settings
    name = queue_name or settings.broker_queue
    BrokerDispatcher(settings.broker_url, name).shutdown()  # a bad URL fails here

    def make() -> SchedulerEngine:
        link = BrokerDispatcher(
            settings.broker_url, name, message_meters=settings.broker_message_meters
        )
        return SchedulerEngine(runtime, link)

    def waiting(message: str) -> None:
        click.echo(f"scheduler waiting: {message}", err=True)

    def running(scheduler: SchedulerEngine) -> None:
        click.echo(f"scheduler {scheduler.name} active; publishing to queue {name!r}", err=True)

    with _until_stopped(seconds) as stop:
        run_scheduler(make, stop, waiting=waiting, running=running)
    click.echo("scheduler stopped", err=True)


@click.command("worker")
@click.option("--for", "seconds", type=float, default=None, help="Stop after this many seconds.")
@click.option("--queue", "queue_name", default=None, help="The broker queue (broker_queue).")
@click.option(
    "--capacity",
    type=click.IntRange(1, 100_000),
    default=None,
    help="Lines of the default pool in this worker (default: acquisition_default_capacity).",
)
@click.option(
    "--pool",
    "pools",
    multiple=True,
    metavar="NAME=LINES",
    help="Lines of a named pool in this worker (repeatable; default: the pool's capacity).",
)
@click.option(
    "--prefetch",
    type=click.IntRange(1, 65535),
    default=None,
    help="Unacknowledged messages at most (default: four per line of the worker).",
)
@click.option(
    "--listen",
    metavar="HOST:PORT",
    default=None,
    help="Accept meters that call in (pushes) here; default: the inbound_listen setting.",
)
def worker_command(
    seconds: float | None,
    queue_name: str | None,
    capacity: int | None,
    pools: tuple[str, ...],
    prefetch: int | None,
    listen: str | None,
) -> None:
    """Run a worker of the scaled-out mode: sessions for the tickets it receives from RabbitMQ,
    results committed, then acknowledged; with --listen also the meters that call in."""
    from meterhub.acquisition.broker import BrokerDispatcher
    from meterhub.acquisition.inbound import parse_listen
    from meterhub.acquisition.scaled import WorkerEngine

    lines = _pools(pools)
    if hasattr(signal, "SIGUSR1"):  # ``kill -USR1 PID``: every thread's stack on stderr
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    runtime = current_state().runtime()
    settings = runtime.settings
    where = listen if listen is not None else settings.inbound_listen
    if where:
        parse_listen(where, "--listen" if listen is not None else "inbound_listen")
    name = queue_name or settings.broker_queue
    holder: list[WorkerEngine] = []
    link = BrokerDispatcher(
        settings.broker_url, name, capacity=lambda key: holder[0].pools.capacity(key)
    )
    worker = WorkerEngine(
        runtime, link, capacity=capacity, pools=lines, prefetch=prefetch, listen=where
    )
    holder.append(worker)
    with _until_stopped(seconds) as stop:
        worker.start()
        if worker.inbound is not None:
            host, port = worker.inbound.address
            click.echo(f"listening for meters that call in on {host}:{port}", err=True)
        if not link.wait_connected(30):
            click.echo(f"worker {worker.name}: the broker is not reachable yet; trying", err=True)
        click.echo(
            f"worker {worker.name} running: {worker.lines} line(s), queue {name!r}", err=True
        )
        stop.wait()
        worker.stop()
    click.echo("worker stopped", err=True)
