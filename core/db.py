"""Database engines, sessions and schema migrations for SQLite, PostgreSQL and Oracle."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA busy_timeout = 10000")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout.

    The parent directory of a SQLite file is created when missing.
    """
    if url.startswith("sqlite"):
        database = url.split("///", 1)[-1]
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def make_sessionmaker(engine: Engine, *, license: Any = None) -> sessionmaker[Session]:
    """A session factory bound to ``engine`` whose objects stay usable after commit.

    ``license`` (a :class:`meterhub.licensing.License`) is put in every session's ``info`` so the
    operations that create counted objects (virtual meters, users) can enforce its limits.
    """
    info = {"license": license} if license is not None else {}
    return sessionmaker(engine, expire_on_commit=False, info=info)


@contextmanager
def transaction(factory: sessionmaker[Session], user: str | None = None) -> Iterator[Session]:
    """One unit of work: commit when the block ends, roll back everything on any error.

    ``user`` is recorded in the audit log for every change made in the block.
    """
    with factory() as session:
        if user is not None:
            session.info["user"] = user
        with session.begin():
            yield session


def alembic_config(engine_or_url: Engine | str) -> Config:
    """An Alembic configuration for MeterHub's migrations and the given database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if isinstance(engine_or_url, str):
        config.set_main_option("sqlalchemy.url", engine_or_url.replace("%", "%%"))
    else:
        config.attributes["engine"] = engine_or_url
    return config


def upgrade_database(engine_or_url: Engine | str, revision: str = "head") -> None:
    """Create the schema or bring it up to ``revision`` (``meterhub init``)."""
    command.upgrade(alembic_config(engine_or_url), revision)


def downgrade_database(engine_or_url: Engine | str, revision: str = "base") -> None:
    """Undo migrations down to ``revision`` (``base`` drops every MeterHub table)."""
    command.downgrade(alembic_config(engine_or_url), revision)


def current_revision(engine: Engine) -> str | None:
    """The migration revision the database is at, or ``None`` for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
