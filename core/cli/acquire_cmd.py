"""``meterhub acquire``: the embedded acquisition engine, scheduler and workers in this process.

It runs until stopped (Ctrl-C, SIGTERM) or for ``--for SECONDS``; running sessions end and their
results are committed before it exits, and tasks still waiting stay queued for the next start.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

import click

from meterhub.cli.state import current_state

__all__ = ["acquire_command"]


@click.command("acquire")
@click.option("--for", "seconds", type=float, default=None, help="Stop after this many seconds.")
@click.option("--workers", type=click.IntRange(1, 4096), default=None, help="Session threads.")
@click.option(
    "--listen",
    metavar="HOST:PORT",
    default=None,
    help="Accept meters that call in (pushes) here; default: the inbound_listen setting.",
)
def acquire_command(seconds: float | None, workers: int | None, listen: str | None) -> None:
    """Run the acquisition engine here: scheduled jobs, runs started by users, line pools,
    and with --listen the meters that call in."""
    from meterhub.acquisition.engine import AcquisitionEngine, EngineOptions
    from meterhub.acquisition.inbound import parse_listen

    runtime = current_state().runtime()
    where = listen if listen is not None else runtime.settings.inbound_listen
    if where:
        parse_listen(where, "--listen" if listen is not None else "inbound_listen")
    engine = AcquisitionEngine(runtime, options=EngineOptions(workers=workers, listen=where))
    stop = threading.Event()

    def ask_to_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, ask_to_stop)
    try:
        engine.start()
    except BaseException:
        signal.signal(signal.SIGTERM, previous)
        raise
    if engine.inbound is not None:
        host, port = engine.inbound.address
        click.echo(f"listening for meters that call in on {host}:{port}", err=True)
    click.echo(f"acquisition engine {engine.name} running; Ctrl-C stops it", err=True)
    try:
        stop.wait(seconds)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        engine.stop()
    click.echo("acquisition engine stopped", err=True)
