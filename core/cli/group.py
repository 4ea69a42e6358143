"""The ``meterhub`` click group: built-in commands, commands from other packages, one-line errors.

Commands outside the core (the web layer's ``serve``, ``demo`` and ``openapi``) are found through
the ``meterhub.commands`` entry-point group and loaded only when they are run or listed, so the
core imports no web code. A command that fails to load is reported by name and left out; a
built-in command of the same name wins.

Every failure of a command ends in one line on stderr and a non-zero exit
(:func:`meterhub.cli.failures.failure_line`); ``meterhub --debug`` lets the exception through
with its traceback instead.
"""

from __future__ import annotations

import importlib.metadata
import logging
from typing import Any

import click

from meterhub.cli.failures import failure_line
from meterhub.cli.state import current_state

log = logging.getLogger(__name__)

__all__ = ["COMMANDS_GROUP", "CommandFailed", "MeterHubGroup"]

#: Entry-point group of commands contributed from outside the core (``name = module:command``).
COMMANDS_GROUP = "meterhub.commands"


class CommandFailed(click.ClickException):
    """A command failed for a reason its one-line message gives (exit status 1)."""


class MeterHubGroup(click.Group):
    """A click group that adds entry-point commands and turns failures into one line."""

    def _entry_points(self) -> dict[str, importlib.metadata.EntryPoint]:
        found = importlib.metadata.entry_points(group=COMMANDS_GROUP)
        return {entry_point.name: entry_point for entry_point in found}

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Built-in commands and contributed ones, sorted by name."""
        return sorted(set(super().list_commands(ctx)) | set(self._entry_points()))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """A built-in command, else the contributed command of that name (loaded now)."""
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        entry_point = self._entry_points().get(cmd_name)
        if entry_point is None:
            return None
        try:
            loaded = entry_point.load()
        except Exception as exc:  # a broken package must not take the other commands down
            log.warning(
                "command %r (%s) failed to load: %s: %s",
                cmd_name,
                entry_point.value,
                type(exc).__name__,
                exc,
            )
            return None
        if not isinstance(loaded, click.Command):
            log.warning("command %r (%s) is not a click command", cmd_name, entry_point.value)
            return None
        return loaded

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; an exception becomes one line unless ``--debug`` was given."""
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            state = current_state()
            if state.debug:
                raise
            command = f"meterhub {ctx.invoked_subcommand or ''}".strip()
            line = failure_line(exc, database_url=state.database_url, command=command)
            raise CommandFailed(line) from exc
