"""Engines keep SQL parameters out of messages; database errors name the database, no password."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from meterhub.db import (
    SQLITE_BUSY_TIMEOUT,
    describe_database,
    explain_database_error,
    make_engine,
    require_current_schema,
    upgrade_database,
)
from meterhub.errors import ConfigurationError


def test_sql_parameters_never_reach_an_error_message(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (name TEXT UNIQUE)"))
            connection.execute(text("INSERT INTO t VALUES (:name)"), {"name": "$argon2id$hash"})
        with pytest.raises(IntegrityError) as error, engine.begin() as connection:
            connection.execute(text("INSERT INTO t VALUES (:name)"), {"name": "$argon2id$hash"})
    finally:
        engine.dispose()
    assert "$argon2id$hash" not in str(error.value)
    assert "parameters hidden" in str(error.value)


def test_every_engine_hides_parameters(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        assert engine.hide_parameters
    finally:
        engine.dispose()


def test_sqlite_waits_for_a_lock_as_long_as_the_url_says(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    default = make_engine(f"sqlite:///{path}")
    quick = make_engine(f"sqlite:///{path}?timeout=0.1")
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        with default.begin() as connection:
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(OperationalError) as error, quick.begin() as connection:
            connection.execute(text("INSERT INTO t VALUES (1)"))
    finally:
        holder.close()
        default.dispose()
        quick.dispose()
    line = explain_database_error(error.value, f"sqlite:///{path}?timeout=0.1")
    assert line == (
        f"the SQLite database {path} is locked by another process (waited 0.1 s); "
        "try again when that process has finished"
    )
    assert SQLITE_BUSY_TIMEOUT == 10


def test_a_sqlite_timeout_that_is_no_number_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="timeout must be a number of seconds"):
        make_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}?timeout=soon")


@pytest.mark.parametrize(
    ("url", "described"),
    [
        ("sqlite:////srv/mh/meterhub.sqlite3", "SQLite database /srv/mh/meterhub.sqlite3"),
        (
            "postgresql+psycopg://mh:pw@db.example/meterhub",
            "postgresql database 'meterhub' at db.example:5432 as user mh",
        ),
        (
            "oracle+oracledb://mh:pw@ora.example:1522/?service_name=MH",
            "oracle database at ora.example:1522 as user mh",
        ),
    ],
)
def test_databases_are_described_without_their_password(url: str, described: str) -> None:
    assert describe_database(url) == described


def test_a_connection_failure_names_host_and_port() -> None:
    url = "postgresql+psycopg://mh:s3cret@127.0.0.1:1/meterhub"
    engine = make_engine(url)
    try:
        with pytest.raises(DBAPIError) as error:
            engine.connect()
    finally:
        engine.dispose()
    line = explain_database_error(error.value, url)
    assert line.startswith("cannot connect to the postgresql database 'meterhub' at 127.0.0.1:1")
    assert "s3cret" not in line
    assert "\n" not in line


def test_a_database_without_schema_is_refused(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    try:
        with pytest.raises(ConfigurationError, match="run 'meterhub init' first"):
            require_current_schema(engine)
        upgrade_database(engine)
        require_current_schema(engine)
    finally:
        engine.dispose()
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    try:
        upgrade_database(engine, "0001")
        with pytest.raises(ConfigurationError, match="at revision 0001 .* run 'meterhub init'"):
            require_current_schema(engine)
    finally:
        engine.dispose()
