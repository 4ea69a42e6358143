"""Shared fixtures: the database switch (SQLite or PostgreSQL), clean databases per test, and
signed test licenses.

Select the backend with ``pytest --db=postgresql`` or ``METERHUB_TEST_DB=postgresql``; the
server is found through ``METERHUB_TEST_PG_URL`` (default: trust auth on 127.0.0.1:5432). Every
test that takes ``session_factory`` starts with empty tables in a migrated schema.

Without a license, MeterHub (and a session without one) is held to the development license's
limits (50 virtual meters, 5 named users). A test that needs more signs its own license with
``test_licenses``, exactly as a customer's deployment trusts the vendor: a key pair made for the
run, its public key configured as ``license_public_key``, the license signed with the private
key. There is no other way around the limits.
"""

from __future__ import annotations

import os
import sys
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from meterhub.db import make_engine, make_sessionmaker, upgrade_database
from meterhub.licensing import License, generate_keypair, load_license, sign_license

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


#: Fixtures that give a test a database of the selected backend (directly or through others).
DATABASE_FIXTURES = frozenset({"database_url", "empty_database_url", "backend"})


def touches_database(item: pytest.Item) -> bool:
    """Whether a test uses the selected backend: a database fixture, or the ``database`` mark."""
    names = set(getattr(item, "fixturenames", ()))
    return bool(names & DATABASE_FIXTURES) or item.get_closest_marker("database") is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On a backend other than SQLite, run only the tests that touch the database.

    The SQLite run is the whole suite; a test that never opens a database (a driver against its
    simulator, a parser) would only repeat itself on PostgreSQL, so it runs once.
    """
    if config.getoption("--db") == "sqlite":
        return
    kept, dropped = [], []
    for item in items:
        (kept if touches_database(item) else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


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


# -- signed test licenses ---------------------------------------------------------------------


@dataclass(frozen=True)
class TestLicenses:
    """Signs licenses with a key pair of this test run; the public key is what a test trusts.

    ``write()`` signs a license file, ``load()`` reads one back through :func:`load_license`
    (the signature verified with :attr:`public_key`), ``settings()`` and ``environment()`` give
    the ``license_file`` and ``license_public_key`` settings (or ``METERHUB_*`` variables) that
    make a runtime or a ``meterhub`` command use it. ``limits`` default to none (unlimited).
    """

    __test__ = False  # not a test class, whatever its name says

    directory: Path
    private_key: Path
    public_key: Path

    def write(
        self,
        *,
        limits: Mapping[str, int] | None = None,
        features: Iterable[str] = ("*",),
        customer: str = "MeterHub test suite",
        license_id: str = "TEST-1",
        expires: str | None = None,
        name: str | None = None,
    ) -> Path:
        """Sign a license issued 2026-01-01 (never expiring by default); return its file."""
        payload = {
            "customer": customer,
            "license_id": license_id,
            "issued": "2026-01-01",
            "expires": expires,
            "limits": dict(limits or {}),
            "features": list(features),
        }
        path = self.directory / (name or f"license-{uuid.uuid4().hex[:8]}.json")
        path.write_text(sign_license(payload, self.private_key), encoding="utf-8")
        return path

    def load(self, **terms: object) -> License:
        """Sign a license with ``terms`` (see :meth:`write`) and load it as MeterHub does."""
        return load_license(self.write(**terms), self.public_key)  # type: ignore[arg-type]

    def settings(self, **terms: object) -> dict[str, Path]:
        """``license_file`` and ``license_public_key`` for ``load_settings(**...)``."""
        return {"license_file": self.write(**terms), "license_public_key": self.public_key}  # type: ignore[arg-type]

    def environment(self, **terms: object) -> dict[str, str]:
        """``METERHUB_LICENSE_FILE`` and ``METERHUB_LICENSE_PUBLIC_KEY`` for a subprocess."""
        settings = self.settings(**terms)
        return {
            "METERHUB_LICENSE_FILE": str(settings["license_file"]),
            "METERHUB_LICENSE_PUBLIC_KEY": str(settings["license_public_key"]),
        }


@pytest.fixture(scope="session")
def test_licenses(tmp_path_factory: pytest.TempPathFactory) -> TestLicenses:
    """A key pair for this run that signs test licenses (see :class:`TestLicenses`)."""
    directory = tmp_path_factory.mktemp("test-licenses")
    private_key, public_key = directory / "test-vendor.pem", directory / "test-vendor.pub.pem"
    generate_keypair(private_key, public_key)
    return TestLicenses(directory, private_key, public_key)


@pytest.fixture
def licensed_session_factory(
    session_factory: sessionmaker[Session], test_licenses: TestLicenses
) -> sessionmaker[Session]:
    """``session_factory`` whose sessions carry a signed test license without limits.

    For tests that create more virtual meters or named users than the development license
    allows; a test of the limits themselves signs its own with ``test_licenses.load(limits=...)``.
    """
    return make_sessionmaker(session_factory.kw["bind"], license=test_licenses.load())
