"""``meterhub user add|password|unlock``: named users, counted against the license."""

from __future__ import annotations

import click

from meterhub.cli.state import current_state


@click.group("user")
def user_group() -> None:
    """Manage named users."""


@user_group.command("add")
@click.argument("username")
@click.option("--display-name", default=None, help="Full name shown in the UI and audit log.")
@click.option(
    "--role",
    "role_names",
    multiple=True,
    help="A role to grant (repeatable); 'Administrator' may do everything.",
)
@click.password_option(help="The password (prompted when not given).")
def add_user_command(
    username: str, display_name: str | None, role_names: tuple[str, ...], password: str
) -> None:
    """Add a named user; the license's named-user limit and the password policy apply."""
    from meterhub.db import transaction
    from meterhub.inventory.roles import (
        ADMINISTRATOR_ROLE,
        ensure_administrator_role,
        get_role,
        grant_role,
    )
    from meterhub.inventory.users import add_user

    runtime = current_state().runtime()
    with transaction(runtime.sessions, user="cli") as session:
        user = add_user(session, username, password, display_name=display_name)
        for name in role_names:
            role = (
                ensure_administrator_role(session)
                if name == ADMINISTRATOR_ROLE
                else get_role(session, name)
            )
            grant_role(session, user, role)
        click.echo(f"user {user.username} added")


@user_group.command("password")
@click.argument("username")
@click.password_option(help="The new password (prompted when not given).")
def password_command(username: str, password: str) -> None:
    """Set a user's password (and lift a lockout)."""
    from meterhub.db import transaction
    from meterhub.inventory.tokens import end_user_sessions
    from meterhub.inventory.users import get_user, set_password

    runtime = current_state().runtime()
    with transaction(runtime.sessions, user="cli") as session:
        user = get_user(session, username)
        set_password(session, user, password)
        end_user_sessions(session, user)
        click.echo(f"password of {user.username} set")
