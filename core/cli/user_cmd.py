"""``meterhub user add``: named users, counted against the license."""

from __future__ import annotations

import click

from meterhub.cli.state import current_state
from meterhub.db import transaction


@click.group("user")
def user_group() -> None:
    """Manage named users."""


@user_group.command("add")
@click.argument("username")
@click.option("--display-name", default=None, help="Full name shown in the UI and audit log.")
@click.password_option(help="The password (prompted when not given).")
def add_user_command(username: str, display_name: str | None, password: str) -> None:
    """Add a named user; the license's named-user limit applies."""
    from meterhub.inventory.users import add_user

    runtime = current_state().runtime()
    with transaction(runtime.sessions, user="cli") as session:
        user = add_user(session, username, password, display_name=display_name)
        click.echo(f"user {user.username} added")
