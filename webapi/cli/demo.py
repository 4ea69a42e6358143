"""``meterhub demo``: the embedded system with a simulated meter fleet and the web UI, on SQLite."""

from __future__ import annotations

import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from meterhub.cli.init_cmd import initialise
from meterhub.cli.state import current_state

if TYPE_CHECKING:
    from meterhub.acquisition.engine import AcquisitionEngine
    from meterhub.extensions.simulator import SimulatedEndpoint
    from meterhub.runtime import Runtime

__all__ = ["demo_command", "probe_fleet", "start_fleets"]

#: Simulator options per protocol for the demo fleet (protocols not listed use defaults).
DEMO_OPTIONS = {
    "dlms": {"framing": "wrapper"},
    "mbus": {  # M-Bus meter types (docs/drivers/mbus.md): heat, water, gas, heat in turn
        "types": "kamstrup-multical-601,kamstrup-flowiq-2101,itron-cyble-mbus-gas,"
        "landis-gyr-ultraheat-t230"
    },
    "wmbus": {"interval": "1"},
}


def start_fleets(
    runtime: Runtime, per_protocol: int, host: str, stack: ExitStack
) -> list[SimulatedEndpoint]:
    """Start ``per_protocol`` meters of every simulator the licensed plugins offer."""
    endpoints: list[SimulatedEndpoint] = []
    for name, simulator in sorted(runtime.plugins.simulators().items()):
        fleet = stack.enter_context(
            simulator().start(per_protocol, host=host, options=DEMO_OPTIONS.get(name, {}))
        )
        endpoints.extend(fleet.endpoints)
        click.echo(f"simulator {name}: {len(fleet.endpoints)} meters")
    return endpoints


def probe_fleet(runtime: Runtime, endpoints: list[SimulatedEndpoint]) -> None:
    """Read each simulated meter through its driver (clock, else the import register)."""
    from meterhub.extensions.driver import DriverError, UnsupportedAction
    from meterhub.identifiers.obis import ACTIVE_ENERGY_IMPORT

    drivers = runtime.plugins.drivers()
    media = runtime.plugins.media()
    for endpoint in endpoints:
        driver = drivers.get(endpoint.driver)
        if driver is None:
            click.echo(f"  {endpoint.serial}: driver {endpoint.driver!r} not loaded", err=True)
            continue
        medium_class = media.get(endpoint.medium)
        model = getattr(medium_class, "settings_model", None)
        line = {k: v for k, v in endpoint.settings.items() if model and k in model.model_fields}
        medium = medium_class(endpoint.address, line) if medium_class else None
        try:
            if medium is not None:
                medium.open(timeout=5)
            with driver().connect(endpoint.address, endpoint.settings, medium) as connection:
                try:
                    clock = connection.read_clock()
                    offset = clock.value - clock.timestamp  # type: ignore[operator]
                    answer = f"clock {offset.total_seconds():+.0f} s"
                except UnsupportedAction:  # a meter type without a clock (Modbus maps)
                    (energy,) = connection.read_registers([str(ACTIVE_ENERGY_IMPORT)])
                    answer = f"1.8.0 = {energy.scaled:.3f} {energy.unit}"
            where = f"{endpoint.driver} {endpoint.address}"
            click.echo(f"  {endpoint.serial:<10} {where:<36} {answer}")
        except (DriverError, OSError) as exc:
            click.echo(f"  {endpoint.serial}: {exc}", err=True)
        finally:
            if medium is not None:
                medium.close()


@click.command("demo")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("var/demo"),
    show_default=True,
    help="Where the demo's SQLite database and keys live.",
)
@click.option(
    "--meters",
    "per_protocol",
    type=click.IntRange(1, 1000),
    default=4,
    show_default=True,
    help="Simulated meters per protocol.",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option(
    "--no-serve", is_flag=True, help="Start the fleet, register it, read it once, then exit."
)
@click.option("--no-acquire", is_flag=True, help="Do not run the acquisition engine.")
def demo_command(
    data_dir: Path, per_protocol: int, host: str, port: int, no_serve: bool, no_acquire: bool
) -> None:
    """Start a simulated meter fleet, register it in an embedded SQLite database, read it on a
    schedule with the embedded acquisition engine, serve the UI."""
    from meterhub.credential_keys import open_cipher
    from meterhub.db import transaction
    from meterhub.demo import DEMO_PASSWORD, DEMO_USER, ensure_demo_user, populate_demo
    from meterhub.webapi.cli.serve import serve_runtime

    state = current_state()
    # Plain HTTP on loopback: the login cookie cannot insist on HTTPS.
    settings = state.settings(data_dir=data_dir, database_url="", secure_cookies=False)
    database, revision = initialise(settings)
    click.echo(f"demo {database} (schema {revision})")
    runtime = state.runtime()
    cipher = open_cipher(settings.effective_credential_key_file, runtime.sessions)
    with ExitStack() as stack:
        endpoints = start_fleets(runtime, per_protocol, "127.0.0.1", stack)
        with transaction(runtime.sessions, user="demo") as session:
            summary = populate_demo(
                session,
                endpoints,
                runtime.plugins.drivers(),
                cipher,
                runtime.plugins.meter_types(),
                runtime.plugins,
            )
            ensure_demo_user(session)
        click.echo(
            f"demo fleet: {len(endpoints)} simulated meters ({summary.created_meters} new, "
            f"{summary.updated_devices} re-addressed) at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
        )
        probe_fleet(runtime, endpoints)
        click.echo(f"log in as {DEMO_USER!r} with the password {DEMO_PASSWORD!r}")
        engine = None if no_acquire else start_acquisition(runtime, wait=no_serve)
        try:
            if not no_serve:
                serve_runtime(runtime, host, port)
        finally:
            if engine is not None:
                engine.stop()


def start_acquisition(runtime: Runtime, *, wait: bool) -> AcquisitionEngine:
    """The embedded engine with the demo's jobs (every 5 minutes), run once at the start."""
    from meterhub.acquisition.engine import AcquisitionEngine, EngineOptions
    from meterhub.db import transaction
    from meterhub.demo import ensure_demo_jobs
    from meterhub.inventory import jobs

    with transaction(runtime.sessions, user="demo") as session:
        demo_jobs = ensure_demo_jobs(session, runtime.plugins.drivers())
        runs = [
            jobs.run_job(
                session, job, user="demo",
                default_capacity=runtime.settings.acquisition_default_capacity,
            ).id
            for job in demo_jobs
        ]  # fmt: skip
    listen = runtime.settings.inbound_listen
    engine = AcquisitionEngine(runtime, options=EngineOptions(listen=listen)).start()
    click.echo(f"acquisition: {len(demo_jobs)} demo jobs every 5 minutes (runs {runs} now)")
    if engine.inbound is not None:
        host, port = engine.inbound.address
        click.echo(f"acquisition: meters that call in are accepted on {host}:{port}")
    if wait:
        for run_id in runs:
            click.echo(f"  {_ended(runtime, run_id)}")
    return engine


def _ended(runtime: Runtime, run_id: int, timeout: float = 60.0) -> str:
    from meterhub.inventory import jobs

    deadline = time.monotonic() + timeout
    while True:
        with runtime.sessions() as session:
            progress = jobs.run_progress(session, run_id)
        if progress["finished_at"] is not None or time.monotonic() > deadline:
            return (
                f"run {run_id} {progress['status']}: {progress['succeeded']} of "
                f"{progress['total']} tasks succeeded"
            )
        time.sleep(0.1)
