"""The ``meterhub`` command: a Flask CLI group with MeterHub's own commands.

Commands that need the database or plugins build a :class:`meterhub.runtime.Runtime` through the
Flask app; ``license`` and ``plugins`` work without a database.
"""

from __future__ import annotations

import logging
import os

import click
from flask.cli import FlaskGroup

from meterhub import __version__
from meterhub.cli.demo_cmd import demo_command
from meterhub.cli.init_cmd import init_command
from meterhub.cli.later_cmd import worker_command
from meterhub.cli.license_cmd import license_group
from meterhub.cli.plugins_cmd import plugins_command
from meterhub.cli.serve_cmd import serve_command
from meterhub.cli.simulate_cmd import simulate_command
from meterhub.cli.user_cmd import user_group
from meterhub.errors import MeterHubError


def _create_app() -> object:
    from meterhub.webapi.app import create_app

    return create_app()


@click.group(
    cls=FlaskGroup,
    create_app=_create_app,
    add_version_option=False,
    load_dotenv=False,
    set_debug_flag=False,
)
@click.version_option(__version__, prog_name="meterhub")
def cli() -> None:
    """MeterHub: head-end system and meter data management."""


for command in (
    init_command,
    serve_command,
    worker_command,
    demo_command,
    plugins_command,
    simulate_command,
    license_group,
    user_group,
):
    cli.add_command(command)


def _configure_logging() -> None:
    logging.basicConfig(
        level=os.environ.get("METERHUB_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for chatty in ("alembic", "pymodbus"):
        logging.getLogger(chatty).setLevel(logging.WARNING)


def main() -> None:
    """Entry point of the ``meterhub`` console script; MeterHub errors exit 1 with their text."""
    _configure_logging()
    try:
        code = cli.main(prog_name="meterhub", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        raise SystemExit(1) from None
    except click.ClickException as exc:
        exc.show()
        raise SystemExit(exc.exit_code) from None
    except MeterHubError as exc:
        click.echo(f"Error: {exc}", err=True)
        raise SystemExit(1) from None
    if isinstance(code, int) and code:
        raise SystemExit(code)
