"""``meterhub openapi print`` and ``meterhub openapi write FILE``: the REST API's description.

The document is the one the application serves at ``/api/openapi.json``, with the blueprints of
the plugins the license enables; it needs no database. ``docs/openapi.json`` is written with
``meterhub openapi write docs/openapi.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from meterhub.cli.state import current_state

__all__ = ["openapi_group", "openapi_text"]


def openapi_text() -> str:
    """The OpenAPI document as indented JSON text, ending with a newline."""
    from meterhub.webapi.app import create_app
    from meterhub.webapi.extensions import openapi_document

    app = create_app(runtime=current_state().runtime(require_schema=False))
    return json.dumps(openapi_document(app), indent=2) + "\n"


@click.group("openapi")
def openapi_group() -> None:
    """Print or write the OpenAPI description of the REST API."""


@openapi_group.command("print")
def print_command() -> None:
    """Print the OpenAPI document (JSON) on standard output."""
    click.echo(openapi_text(), nl=False)


@openapi_group.command("write")
@click.argument("output_file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
def write_command(output_file: Path) -> None:
    """Write the OpenAPI document (JSON) to OUTPUT_FILE."""
    output_file.write_text(openapi_text(), encoding="utf-8")
    click.echo(f"wrote {output_file}", err=True)
