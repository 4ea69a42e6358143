"""The ``meterhub`` command: a plain click group with MeterHub's commands.

The core's commands (``init``, ``user``, ``license``, ``credentials``, ``plugins``, ``simulate``,
``acquire``, ``job``, ``tasks``, ``trace``, ``stats``, ``firmware``, ``worker``, ``scheduler``,
``script``, ``vee``) are built in; the web layer adds ``serve``, ``demo`` and ``openapi``
through the ``meterhub.commands`` entry points (:mod:`meterhub.cli.group`), so the core imports
no web code.
Commands read the settings and build the runtime only when they need them
(:mod:`meterhub.cli.state`): ``--help`` and ``--version`` touch neither. Every expected failure
ends in one line on stderr and exit status 1 (2 for a wrong argument); ``--debug`` shows the
traceback instead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import click

from meterhub import __version__
from meterhub.cli.acquire_cmd import acquire_command
from meterhub.cli.credentials_cmd import credentials_group
from meterhub.cli.firmware_cmd import firmware_group
from meterhub.cli.group import MeterHubGroup
from meterhub.cli.init_cmd import init_command
from meterhub.cli.job_cmd import job_group
from meterhub.cli.license_cmd import license_group
from meterhub.cli.plugins_cmd import plugins_command
from meterhub.cli.scaled_cmd import scheduler_command, worker_command
from meterhub.cli.script_cmd import script_group
from meterhub.cli.simulate_cmd import simulate_command
from meterhub.cli.state import CliState
from meterhub.cli.stats_cmd import stats_command
from meterhub.cli.tasks_cmd import tasks_command, trace_command
from meterhub.cli.user_cmd import user_group
from meterhub.cli.vee_cmd import vee_group

__all__ = ["cli", "main"]

#: Format of the log lines on stderr.
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@click.group(cls=MeterHubGroup)
@click.version_option(__version__, prog_name="meterhub")
@click.option(
    "--debug",
    is_flag=True,
    help="Show the full traceback when a command fails (for bug reports).",
)
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """MeterHub: head-end system and meter data management."""
    ctx.obj = CliState(debug=debug)


for command in (
    init_command,
    acquire_command,
    job_group,
    tasks_command,
    trace_command,
    stats_command,
    firmware_group,
    worker_command,
    scheduler_command,
    plugins_command,
    simulate_command,
    license_group,
    user_group,
    credentials_group,
    script_group,
    vee_group,
):
    cli.add_command(command)


def configure_logging() -> None:
    """Log to stderr; the level follows the ``log_level`` setting once a command reads it."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    for chatty in ("alembic", "pymodbus"):
        logging.getLogger(chatty).setLevel(logging.WARNING)


def _one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``meterhub`` console script: failures exit non-zero with one line."""
    configure_logging()
    try:
        code = cli.main(args=argv, prog_name="meterhub", standalone_mode=False)
    except click.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx is not None else "meterhub"
        message = _one_line(exc.format_message())
        click.echo(f"Error: {message} (see '{command} --help')", err=True)
        raise SystemExit(exc.exit_code) from None
    except click.ClickException as exc:
        click.echo(f"Error: {_one_line(exc.format_message())}", err=True)
        raise SystemExit(exc.exit_code) from None
    except click.Abort:
        click.echo("Aborted.", err=True)
        raise SystemExit(1) from None
    if isinstance(code, int) and code:
        raise SystemExit(code)
