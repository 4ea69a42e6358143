"""Database engines, sessions and schema migrations for SQLite, PostgreSQL and Oracle.

Every engine is built with ``hide_parameters=True``: an error message shows the SQL statement but
never its parameters (a password hash, a credential token). :func:`explain_database_error` turns a
driver error into one line that names the database by host and port (or by its SQLite file),
never by its password.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import (
    URL,
    BigInteger,
    Connection,
    Engine,
    any_,
    bindparam,
    create_engine,
    event,
    make_url,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from meterhub.errors import ConfigurationError, MeterHubError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

#: Seconds a SQLite connection waits for another process's lock before it gives up; a
#: ``?timeout=`` in the database URL wins (``sqlite:////srv/meterhub.sqlite3?timeout=30``).
SQLITE_BUSY_TIMEOUT = 10.0

#: Port a server listens on when the URL names none.
_DEFAULT_PORTS = {"postgresql": 5432, "oracle": 1521}


class DatabaseUnavailable(MeterHubError):
    """The database cannot be reached or used: no server at the address, a refused login, a
    SQLite file locked by another process or in a place that cannot be written."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def _sqlite_timeout(url: URL) -> float:
    """The busy timeout of a SQLite URL: its ``timeout`` query parameter or the default."""
    given = url.query.get("timeout")
    if isinstance(given, tuple):
        given = given[-1]
    try:
        return float(given) if given is not None else SQLITE_BUSY_TIMEOUT
    except ValueError:
        raise ConfigurationError(
            f"database_url: timeout must be a number of seconds, got {given!r}"
        ) from None


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """Create an engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout.

    The parent directory of a SQLite file is created when missing. SQL parameters are kept out
    of error messages (``hide_parameters``).
    """
    parsed = make_url(url)
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        connect_args = {"timeout": _sqlite_timeout(parsed)} | kwargs.pop("connect_args", {})
        engine = create_engine(parsed, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(parsed, pool_pre_ping=True, **kwargs)


def describe_database(url: str | URL) -> str:
    """The database named for a message: its SQLite file, or backend, name, host and port.

    The password is never part of it.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return f"SQLite database {parsed.database or ':memory:'}"
    host = parsed.host or "localhost"
    port = parsed.port or _DEFAULT_PORTS.get(backend)
    address = f"{host}:{port}" if port else host
    who = f" as user {parsed.username}" if parsed.username else ""
    name = f" {parsed.database!r}" if parsed.database else ""
    return f"{backend} database{name} at {address}{who}"


def explain_database_error(error: DBAPIError, url: str | URL | None = None) -> str:
    """One line saying why the database of ``url`` cannot be used, from a driver ``error``.

    The line names the database as :func:`describe_database` does, and the driver's own first
    line; SQLite's usual failures (locked, missing directory, read-only file) are put in words.
    """
    original = error.orig if error.orig is not None else error
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    reason = lines[0] if lines else type(original).__name__
    where = describe_database(url) if url is not None else "the database"
    lower = reason.lower()
    if url is not None and make_url(url).get_backend_name() == "sqlite":
        if "database is locked" in lower or "database table is locked" in lower:
            waited = _sqlite_timeout(make_url(url))
            return (
                f"the {where} is locked by another process (waited {waited:g} s); "
                "try again when that process has finished"
            )
        if "unable to open database file" in lower:
            return f"the {where} cannot be opened: its directory is missing or not writable"
        if "readonly database" in lower:
            return f"the {where} is read-only: make the file and its directory writable"
    if error.connection_invalidated or "connect" in lower:
        return f"cannot connect to the {where}: {reason}"
    return f"the {where} cannot be used: {reason}"


def id_in(connection: Connection | Session, column: Any, ids: Iterable[int]) -> Any:
    """``column IN (ids)``; on PostgreSQL ``column = ANY(:ids)`` with one ``BIGINT[]``.

    A list of hundreds of ids as hundreds of parameters makes a long statement whose text
    changes with the count: psycopg converts such a text anew on every execution and never
    prepares it. As one array it is one short text for any count.
    """
    wanted = [int(i) for i in ids]
    bind = connection if isinstance(connection, Connection) else connection.get_bind()
    if bind.dialect.name == "postgresql":
        return column == any_(bindparam(None, wanted, type_=ARRAY(BigInteger)))
    return column.in_(wanted)


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


def head_revision() -> str | None:
    """The newest migration revision of this release (the one ``meterhub init`` reaches)."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def require_current_schema(engine: Engine) -> None:
    """Refuse a database that ``meterhub init`` has not created or brought up to this release.

    Raises :class:`~meterhub.errors.ConfigurationError` saying to run ``meterhub init``.
    """
    current = current_revision(engine)
    if current is None:
        raise ConfigurationError(
            "the database has no MeterHub schema yet: run 'meterhub init' first"
        )
    head = head_revision()
    if current != head:
        raise ConfigurationError(
            f"the database schema is at revision {current} but this release uses {head}: "
            "run 'meterhub init' to upgrade it"
        )
