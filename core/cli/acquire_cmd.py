"""``meterhub acquire``: the embedded acquisition engine, scheduler and workers in this process.

It runs until stopped (Ctrl-C, SIGTERM) or for ``--for SECONDS``; running sessions end and their
results are committed before it exits, and tasks still waiting stay queued for the next start.
``--listen`` accepts meters that call in. ``--metrics-port`` serves the runtime's Prometheus
metrics (:mod:`meterhub.acquisition.metrics`) over HTTP from this process (prometheus_client's
own server; no token: bind it to an address only the scraper reaches).
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
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Serve the Prometheus metrics at http://ADDRESS:PORT/metrics (0: a free port).",
)
@click.option(
    "--metrics-address",
    default="127.0.0.1",
    show_default=True,
    help="The address the metrics listen on (0.0.0.0: every interface).",
)
def acquire_command(
    seconds: float | None,
    workers: int | None,
    listen: str | None,
    metrics_port: int | None,
    metrics_address: str,
) -> None:
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
    server = None
    if metrics_port is not None:
        from prometheus_client import start_http_server

        server, _ = start_http_server(
            metrics_port, metrics_address, registry=runtime.metrics.registry
        )
        port = int(server.server_address[1])
        click.echo(f"metrics at http://{metrics_address}:{port}/metrics", err=True)

    def ask_to_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, ask_to_stop)
    try:
        engine.start()
        if engine.inbound is not None:
            host, port = engine.inbound.address
            click.echo(f"listening for meters that call in on {host}:{port}", err=True)
        click.echo(f"acquisition engine {engine.name} running; Ctrl-C stops it", err=True)
        try:
            stop.wait(seconds)
        except KeyboardInterrupt:
            pass
        finally:
            engine.stop()
    finally:
        signal.signal(signal.SIGTERM, previous)
        if server is not None:
            server.shutdown()
            server.server_close()
    click.echo("acquisition engine stopped", err=True)
