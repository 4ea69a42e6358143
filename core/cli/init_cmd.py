"""``meterhub init``: create or upgrade the database and the credential key."""

from __future__ import annotations

import click
from sqlalchemy.engine import make_url

from meterhub.config import load_settings
from meterhub.credentials import load_or_create_key
from meterhub.db import current_revision, make_engine, upgrade_database


def initialise(settings_overrides: dict[str, object] | None = None) -> tuple[str, str | None]:
    """Create the data directory, migrate the database to the newest revision, create the key.

    Returns the database URL (password hidden) and the revision reached.
    """
    settings = load_settings(**(settings_overrides or {}))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    load_or_create_key(settings.effective_credential_key_file)
    url = settings.effective_database_url
    engine = make_engine(url)
    try:
        upgrade_database(engine)
        revision = current_revision(engine)
    finally:
        engine.dispose()
    return make_url(url).render_as_string(hide_password=True), revision


@click.command("init")
def init_command() -> None:
    """Create the database or upgrade it to this release's schema."""
    url, revision = initialise()
    click.echo(f"database {url} is at schema revision {revision}")
