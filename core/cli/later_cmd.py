"""Commands whose capability a later release delivers: they say so and exit non-zero."""

from __future__ import annotations

import click

#: Exit status of a command that is not available yet (distinct from 1, a failed command).
NOT_AVAILABLE_EXIT = 3


def _not_yet(command: str, capability: str) -> None:
    click.echo(
        f"meterhub {command}: {capability} is not part of this release yet; nothing was started.",
        err=True,
    )
    raise SystemExit(NOT_AVAILABLE_EXIT)


@click.command("worker")
def worker_command() -> None:
    """A worker of the scaled-out mode (not available yet; 'meterhub acquire' runs embedded)."""
    _not_yet("worker", "the scaled-out acquisition (workers fed through RabbitMQ)")


@click.command("scheduler")
def scheduler_command() -> None:
    """The scheduler of the scaled-out mode (not available yet; 'meterhub acquire' embeds it)."""
    _not_yet("scheduler", "the scaled-out acquisition (a scheduler elected through the database)")
