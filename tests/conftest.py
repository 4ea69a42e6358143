"""Shared fixtures: the database switch (SQLite or PostgreSQL) and clean databases per test.

Select the backend with ``pytest --db=postgresql`` or ``METERHUB_TEST_DB=postgresql``; the
server is found through ``METERHUB_TEST_PG_URL`` (default: trust auth on 127.0.0.1:5432). Every
test that takes ``session_factory`` starts with empty tables in a migrated schema.
"""

from __future__ import annotations

import os
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from meterhub.db import make_engine, make_sessionmaker, upgrade_database

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=["sqlite", "postgresql"],
        default=os.environ.get("METERHUB_TEST_DB", "sqlite"),
        help="database backend the tests run against",
    )


def pytest_report_header(config: pytest.Config) -> str:
    return f"meterhub database backend: {config.getoption('--db')}"


_LEFTOVERS = pytest.StashKey[str]()


def _leftover_threads() -> list[threading.Thread]:
    return [
        thread
        for thread in threading.enumerate()
        if thread is not threading.main_thread() and not thread.daemon and thread.is_alive()
    ]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when a test leaves a non-daemon thread behind.

    Such a thread keeps the interpreter alive after the last test, and CI would hang instead of
    failing. Threads get a few seconds to end on their own first.
    """
    for thread in _leftover_threads():
        thread.join(timeout=3)
    leftovers = _leftover_threads()
    if leftovers:
        names = ", ".join(f"{t.name} ({getattr(t, '_target', None)})" for t in leftovers)
        session.config.stash[_LEFTOVERS] = names
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_unconfigure(config: pytest.Config) -> None:
    """Exit now, reporting the threads, rather than hang on them at interpreter shutdown."""
    names = config.stash.get(_LEFTOVERS, None)
    if names:
        print(f"\nnon-daemon threads left running by the tests: {names}", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(pytest.ExitCode.TESTS_FAILED))


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend of this run: ``sqlite`` or ``postgresql``."""
    return request.config.getoption("--db")


def _pg_admin_url() -> str:
    return os.environ.get("METERHUB_TEST_PG_URL", DEFAULT_PG_URL)


@contextmanager
def fresh_database(backend: str, tmp_dir: Path) -> Iterator[str]:
    """Yield the URL of a new, empty database of ``backend``; drop it afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_dir / f'meterhub-{uuid.uuid4().hex[:8]}.sqlite3'}"
        return
    admin = make_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    name = f"meterhub_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    base = _pg_admin_url().rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database migrated to the newest revision, shared by the tests of this run."""
    with fresh_database(backend, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture
def empty_database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A database of its own for one test, with no schema (for migration tests)."""
    with fresh_database(backend, tmp_path) as url:
        yield url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """The engine of the shared, migrated database."""
    engine = make_engine(database_url)
    upgrade_database(engine)
    yield engine
    engine.dispose()


def _empty_all_tables(engine: Engine) -> None:
    from meterhub.model import Base

    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture
def session_factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """A session factory on the shared database; every table is emptied after the test."""
    _empty_all_tables(engine)
    yield make_sessionmaker(engine)
    _empty_all_tables(engine)
