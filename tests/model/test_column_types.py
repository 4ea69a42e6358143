"""The portable column types bind what SQLAlchemy's own chain would, and read it back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.types import TypeDecorator

from meterhub.model.templates import JSONText
from meterhub.model.types import UTCDateTime

INSTANTS = [
    datetime(2026, 3, 29, 1, 0, tzinfo=UTC),  # no microseconds: still six digits
    datetime(2026, 10, 25, 0, 59, 59, 999_999, tzinfo=UTC),
    datetime(2026, 10, 25, 2, 30, 0, 5, tzinfo=timezone(timedelta(hours=2))),  # not UTC
    datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC),  # a year of three digits
    datetime(1, 1, 1, tzinfo=UTC),
]


def _chained(kind: TypeDecorator[Any]) -> Any:
    """SQLAlchemy's own bind processing: the decorator's step, then its implementation's."""
    dialect = sqlite.dialect()
    impl = kind.load_dialect_impl(dialect).bind_processor(dialect)

    def process(value: Any) -> Any:
        bound = kind.process_bind_param(value, dialect)
        return impl(bound) if impl is not None and bound is not None else bound

    return process


@pytest.mark.parametrize("instant", INSTANTS, ids=str)
def test_an_instant_is_bound_on_sqlite_as_the_chain_of_sqlalchemy_binds_it(
    instant: datetime,
) -> None:
    fused = UTCDateTime().bind_processor(sqlite.dialect())
    assert fused(instant) == _chained(UTCDateTime())(instant)
    assert fused(None) is None


def test_a_naive_instant_is_refused_on_sqlite_too() -> None:
    fused = UTCDateTime().bind_processor(sqlite.dialect())
    with pytest.raises(ValueError, match="has no time zone"):
        fused(datetime(2026, 1, 1))


def test_instants_and_documents_come_back_as_they_went_in() -> None:
    table = Table(
        "kinds", MetaData(), Column("id", Integer, primary_key=True),
        Column("at", UTCDateTime), Column("doc", JSONText),
    )  # fmt: skip
    engine = create_engine("sqlite://")
    table.metadata.create_all(engine)
    documents = [{"b": [1, 2], "a": "ä"}, [3, {"z": None}], None]
    with engine.begin() as connection:
        connection.execute(
            insert(table),
            [{"id": i, "at": at, "doc": documents[i % 3]} for i, at in enumerate(INSTANTS)],
        )
        rows = connection.execute(select(table).order_by(table.c.id)).all()
        raw = connection.exec_driver_sql("SELECT doc FROM kinds WHERE id = 0").scalar()
    assert [row.at for row in rows] == [at.astimezone(UTC) for at in INSTANTS]
    assert [row.doc for row in rows] == [documents[i % 3] for i in range(len(INSTANTS))]
    assert raw == '{"a": "ä", "b": [1, 2]}'  # keys sorted, not escaped to ASCII
