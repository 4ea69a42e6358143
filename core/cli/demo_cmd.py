"""``meterhub demo``: the embedded system with demo data and the web UI, on SQLite."""

from __future__ import annotations

from pathlib import Path

import click

from meterhub.cli.init_cmd import initialise
from meterhub.cli.serve_cmd import serve_runtime
from meterhub.config import load_settings
from meterhub.db import transaction
from meterhub.demo import populate_demo
from meterhub.runtime import build_runtime


@click.command("demo")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("var/demo"),
    show_default=True,
    help="Where the demo's SQLite database and keys live.",
)
@click.option(
    "--meters", "meters_count", type=click.IntRange(1, 100_000), default=20, show_default=True
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8080, show_default=True)
@click.option("--no-serve", is_flag=True, help="Create the demo data, then exit.")
def demo_command(data_dir: Path, meters_count: int, host: str, port: int, no_serve: bool) -> None:
    """Create demo data in an embedded SQLite database and serve the web UI."""
    overrides = {"data_dir": data_dir, "database_url": ""}
    url, revision = initialise(overrides)
    click.echo(f"demo database {url} (schema {revision})")
    runtime = build_runtime(load_settings(**overrides))
    try:
        with transaction(runtime.sessions, user="demo") as session:
            summary = populate_demo(session, meters_count)
        if summary.virtual_meters:
            click.echo(
                f"demo data: {summary.elements} elements, {summary.virtual_meters} simulated "
                f"meters, {summary.channels} channels"
            )
        else:
            click.echo("demo data already present")
        if not no_serve:
            serve_runtime(runtime, host, port)
    finally:
        runtime.close()
