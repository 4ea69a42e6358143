"""Helpers for the tests of the business tree: row counts, refused operations, a sample tree."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from meterhub.db import transaction
from meterhub.inventory.elements import create_element
from meterhub.inventory.templates import add_attribute, create_template
from meterhub.model import Base
from meterhub.model.audit import AuditLog

Factory = sessionmaker[Session]

Y2020 = datetime(2020, 1, 1, tzinfo=UTC)
Y2021 = datetime(2021, 1, 1, tzinfo=UTC)
Y2022 = datetime(2022, 1, 1, tzinfo=UTC)
Y2023 = datetime(2023, 1, 1, tzinfo=UTC)
Y2030 = datetime(2030, 1, 1, tzinfo=UTC)


def table_rows(factory: Factory) -> dict[str, int]:
    """The number of rows of every table, the audit log included."""
    with factory() as session:
        return {
            table.name: session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


def refuse(
    factory: Factory,
    error: type[Exception],
    action: Callable[[Session], Any],
    *,
    field: str | None = None,
    match: str | None = None,
    user: str = "tester",
) -> Exception:
    """Run ``action`` in a transaction that must fail with ``error`` and write nothing.

    Checks the row counts of every table (audit log included) before and after, and that the
    session held no unflushed change when the error came (validated before writing).
    """
    before = table_rows(factory)
    pending: list[int] = []
    with pytest.raises(error, match=match) as info:
        with transaction(factory, user=user) as session:
            try:
                action(session)
            finally:
                pending = [len(session.new), len(session.dirty), len(session.deleted)]
    assert pending == [0, 0, 0], "the operation changed objects before it failed"
    if field is not None:
        assert getattr(info.value, "field", None) == field, info.value
        assert getattr(info.value, "reason", "")
    assert table_rows(factory) == before
    return info.value


def refused(
    factory: Factory, error: type[Exception], field: str | None, action: Callable[[Session], Any]
) -> Exception:
    """:func:`refuse` with the field given positionally (the metering tests' form)."""
    return refuse(factory, error, action, field=field)


def audit_rows(session: Session, **where: Any) -> list[AuditLog]:
    """Audit rows matching ``where`` (column=value), oldest first."""
    statement = select(AuditLog).order_by(AuditLog.id)
    for key, value in where.items():
        statement = statement.where(getattr(AuditLog, key) == value)
    return list(session.scalars(statement))


@dataclass
class Tree:
    """Ids of a sample tree: Top / North (C1, C2) / South (C3)."""

    top: int
    north: int
    south: int
    c1: int
    c2: int
    c3: int


def make_templates(session: Session) -> None:
    """Templates ``top``, ``region`` (code required integer) and ``consumer``."""
    create_template(session, "top", kind="top")
    region = create_template(session, "region", kind="region")
    add_attribute(session, region, "code", "integer", required=True)
    consumer = create_template(session, "consumer", kind="consumer")
    add_attribute(session, consumer, "tariff", "choice", choices=["D01", "D02"], default="D01")
    add_attribute(session, consumer, "power", "decimal", unit="kW")


def make_tree(factory: Factory) -> Tree:
    """Build the sample tree (valid from 2020, open end) and return its ids."""
    with transaction(factory, user="builder") as session:
        make_templates(session)
        top = create_element(session, template="top", name="Top", valid_from=Y2020)
        north = create_element(
            session, template="region", name="North", parent=top, attributes={"code": 1}
        )
        south = create_element(
            session, template="region", name="South", parent=top, attributes={"code": 2}
        )
        c1 = create_element(session, template="consumer", name="C1", parent=north)
        c2 = create_element(
            session,
            template="consumer",
            name="C2",
            parent=north,
            attributes={"tariff": "D02", "power": "12.5"},
        )
        c3 = create_element(session, template="consumer", name="C3", parent=south)
        return Tree(top.id, north.id, south.id, c1.id, c2.id, c3.id)
