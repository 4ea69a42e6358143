"""The initial migration: complete, reversible, in step with the models, sound on Oracle."""

from __future__ import annotations

import io
import re

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import DateTime, Double, Engine, inspect
from sqlalchemy.dialects.oracle.base import RESERVED_WORDS

from meterhub.db import (
    alembic_config,
    current_revision,
    downgrade_database,
    make_engine,
    upgrade_database,
)
from meterhub.model import Base

#: Oracle words MeterHub never uses as a table or column name (reserved, or trouble in practice).
AVOIDED_WORDS = {word.upper() for word in RESERVED_WORDS} | {
    "ACCESS", "AUDIT", "COMMENT", "CURRENT", "DATE", "DEFAULT", "FILE", "GROUP", "INITIAL",
    "LEVEL", "MODE", "NUMBER", "OPTION", "ORDER", "RAW", "RESOURCE", "ROW", "ROWS", "SESSION",
    "SIZE", "START", "UID", "USER", "VALIDATE", "VALUES",
}  # fmt: skip

#: Oracle's longest identifier (12.2 and later), in bytes.
ORACLE_MAX_IDENTIFIER = 128


def head_revision() -> str | None:
    config = alembic_config("sqlite://")
    return ScriptDirectory.from_config(config).get_current_head()


def table_names(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


@pytest.fixture(scope="module")
def oracle_ddl() -> str:
    """The whole migration rendered offline as Oracle SQL."""
    config = alembic_config("oracle+oracledb://user:secret@dbhost/meterhub")
    buffer = io.StringIO()
    config.output_buffer = buffer
    command.upgrade(config, "head", sql=True)
    return buffer.getvalue()


def _table_ddl(ddl: str, table: str) -> str:
    """The column lines of ``table``: its CREATE TABLE and the columns later migrations add."""
    match = re.search(rf"CREATE TABLE {table} \((.*?)\n\)", ddl, re.DOTALL)
    assert match, f"no CREATE TABLE {table} in the Oracle DDL"
    added = re.findall(rf"^ALTER TABLE {table} ADD (.*)$", ddl, re.MULTILINE)
    return "\n".join([match.group(1), *(f"    {line}" for line in added)])


def test_upgrade_and_downgrade_leave_no_tables(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    try:
        upgrade_database(engine)
        assert current_revision(engine) == head_revision()
        assert table_names(engine) == set(Base.metadata.tables) | {"alembic_version"}
        downgrade_database(engine)
        assert current_revision(engine) is None
        assert table_names(engine) - {"alembic_version"} == set()
        upgrade_database(engine)  # and back again
        assert table_names(engine) >= set(Base.metadata.tables)
    finally:
        engine.dispose()


def test_models_and_migration_agree(engine: Engine) -> None:
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_oracle_ddl_has_every_table(oracle_ddl: str) -> None:
    for table in Base.metadata.tables:
        _table_ddl(oracle_ddl, table)


def test_oracle_ddl_stores_times_as_timestamp_and_floats_as_binary_double(
    oracle_ddl: str,
) -> None:
    checked = 0
    for table in Base.metadata.sorted_tables:
        body = _table_ddl(oracle_ddl, table.name)
        assert not re.search(r"^\s*\w+ DATE\b", body, re.MULTILINE), f"{table.name} uses DATE"
        for column in table.columns:
            column_type = getattr(column.type, "impl_instance", column.type)
            if isinstance(column_type, DateTime):
                expected = "TIMESTAMP"
            elif isinstance(column_type, Double):
                expected = "BINARY_DOUBLE"
            else:
                continue
            assert re.search(rf"^\s*{column.name} {expected}\b", body, re.MULTILINE), (
                f"{table.name}.{column.name} is not {expected} on Oracle"
            )
            checked += 1
    assert checked >= 5  # element validity, created/changed, audit time, ...


def test_identifiers_fit_oracle(oracle_ddl: str) -> None:
    names = set(Base.metadata.tables)
    for table in Base.metadata.tables.values():
        names.update(column.name for column in table.columns)
        names.update(str(c.name) for c in table.constraints if c.name)
        names.update(str(i.name) for i in table.indexes if i.name)
    names.update(re.findall(r"[A-Za-z_][A-Za-z0-9_$#]*", oracle_ddl))
    too_long = sorted(n for n in names if len(n.encode()) > ORACLE_MAX_IDENTIFIER)
    assert too_long == []


def test_no_oracle_reserved_words_as_names() -> None:
    offending = sorted(
        f"{table.name}.{column.name}" if column is not None else table.name
        for table in Base.metadata.tables.values()
        for column in [None, *table.columns]
        if (column.name if column is not None else table.name).upper() in AVOIDED_WORDS
    )
    assert offending == []
