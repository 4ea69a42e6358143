"""``meterhub serve``: the web UI and REST API on one port, served by waitress."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from meterhub.cli.state import current_state

if TYPE_CHECKING:
    from meterhub.runtime import Runtime

__all__ = ["serve_command", "serve_runtime"]


def serve_runtime(runtime: Runtime, host: str, port: int) -> None:
    """Serve ``runtime`` with waitress until interrupted (the schema is checked by the caller).

    An address that cannot be listened on (in use, not local, a privileged port) is refused in
    one line naming it.
    """
    from waitress.server import create_server

    from meterhub.webapi.app import create_app

    app = create_app(runtime=runtime)
    try:
        server = create_server(app, host=host, port=port, threads=8)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise click.ClickException(f"cannot listen on {host}:{port}: {reason}") from None
    click.echo(f"MeterHub serves the web UI on http://{host}:{port}/", err=True)
    click.echo(f"REST API description: http://{host}:{port}/api/openapi.json", err=True)
    if runtime.license.development:
        click.echo("License: development license (every feature, not for production)", err=True)
    server.run()


@click.command("serve")
@click.option("--host", default=None, help="Address to listen on (default: settings.host).")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Port, 1 to 65535 (default: settings.port).",
)
def serve_command(host: str | None, port: int | None) -> None:
    """Serve the web UI and the REST API."""
    state = current_state()
    settings = state.settings()
    runtime = state.runtime()
    serve_runtime(runtime, host or settings.host, port or settings.port)
