"""``meterhub serve``: the web UI and REST API on one port."""

from __future__ import annotations

import click
import waitress

from meterhub.config import load_settings
from meterhub.db import current_revision
from meterhub.errors import ConfigurationError
from meterhub.runtime import Runtime, build_runtime


def serve_runtime(runtime: Runtime, host: str, port: int) -> None:
    """Serve ``runtime`` with waitress until interrupted; refuse an uninitialised database."""
    from meterhub.webapi.app import create_app

    if current_revision(runtime.engine) is None:
        raise ConfigurationError(
            "the database has no MeterHub schema yet: run 'meterhub init' first"
        )
    app = create_app(runtime=runtime)
    click.echo(f"MeterHub serves the web UI on http://{host}:{port}/", err=True)
    click.echo(f"REST API description: http://{host}:{port}/api/openapi.json", err=True)
    if runtime.license.development:
        click.echo("License: development license (every feature, not for production)", err=True)
    waitress.serve(app, host=host, port=port, threads=8, _quiet=True)


@click.command("serve")
@click.option("--host", default=None, help="Address to listen on (default: settings.host).")
@click.option("--port", type=int, default=None, help="Port (default: settings.port).")
def serve_command(host: str | None, port: int | None) -> None:
    """Serve the web UI and the REST API."""
    settings = load_settings()
    runtime = build_runtime(settings)
    try:
        serve_runtime(runtime, host or settings.host, port or settings.port)
    finally:
        runtime.close()
