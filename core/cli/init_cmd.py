"""``meterhub init``: create or upgrade the database and the credential key."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from meterhub.cli.state import current_state
from meterhub.errors import ConfigurationError

if TYPE_CHECKING:
    from meterhub.config import Settings

__all__ = ["init_command", "initialise", "prepare_data_dir"]


def prepare_data_dir(path: Path) -> None:
    """Create the data directory when missing; refuse one that cannot be created or written."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ConfigurationError(f"data directory {path} is a file, not a directory") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigurationError(f"data directory {path} cannot be created: {reason}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigurationError(f"data directory {path} is not writable")


def initialise(settings: Settings) -> tuple[str, str | None]:
    """Create the data directory, migrate the database to the newest revision, create the key.

    The credential key is created only while no meter has encrypted credentials: a missing key
    file with credentials in the database is refused with the way to restore it
    (:class:`~meterhub.credentials.KeyFileMissing`). Returns the database (named without its
    password) and the revision reached.
    """
    from meterhub.credential_keys import open_cipher
    from meterhub.db import (
        current_revision,
        describe_database,
        make_engine,
        make_sessionmaker,
        upgrade_database,
    )

    prepare_data_dir(settings.data_dir)
    url = settings.effective_database_url
    engine = make_engine(url)
    try:
        upgrade_database(engine)
        revision = current_revision(engine)
        open_cipher(settings.effective_credential_key_file, make_sessionmaker(engine))
    finally:
        engine.dispose()
    return describe_database(url), revision


@click.command("init")
def init_command() -> None:
    """Create the database or upgrade it to this release's schema."""
    database, revision = initialise(current_state().settings())
    click.echo(f"{database} is at schema revision {revision}")
