"""List arguments built from a model's columns: filters, sort, quick search, pagination."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import marshmallow as ma
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    Numeric,
    Select,
    String,
    or_,
)
from sqlalchemy.types import TypeDecorator

from meterhub.errors import InvalidValue
from meterhub.webapi.crud.fields import NoNul
from meterhub.webapi.extensions import Schema

#: Largest page.
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 50

#: Filter operators per kind of column.
ORDERED_OPS = ("ne", "lt", "le", "gt", "ge")
TEXT_OPS = ("ne", "lt", "le", "gt", "ge", "contains", "startswith")


class ListArguments(Schema):
    """Pagination, sort and quick search, common to every list."""

    page = ma.fields.Integer(
        load_default=1,
        validate=ma.validate.Range(min=1, max=1_000_000),
        metadata={"description": "page number, from 1"},
    )
    page_size = ma.fields.Integer(
        load_default=DEFAULT_PAGE_SIZE,
        validate=ma.validate.Range(min=1, max=MAX_PAGE_SIZE),
        metadata={"description": f"objects per page (at most {MAX_PAGE_SIZE})"},
    )
    sort = ma.fields.String(
        validate=[ma.validate.Length(max=500), NoNul],
        metadata={
            "description": (
                "columns to sort by, comma separated; '-' before a column sorts descending: "
                "'name,-id'"
            )
        },
    )
    q = ma.fields.String(
        validate=[ma.validate.Length(min=1, max=200), NoNul],
        metadata={"description": "quick search: text contained in any of the searchable columns"},
    )


class PageSchema(Schema):
    """One page of a list."""

    total = ma.fields.Integer(
        required=True, metadata={"description": "objects matching, all pages"}
    )
    page = ma.fields.Integer(required=True)
    page_size = ma.fields.Integer(required=True)


def _base_type(column: Column[Any]) -> Any:
    column_type = column.type
    while isinstance(column_type, TypeDecorator):
        column_type = (
            column_type.impl_instance if hasattr(column_type, "impl_instance") else column_type.impl
        )
    return column_type


def _field_for(column: Column[Any]) -> tuple[type[ma.fields.Field], tuple[str, ...]] | None:
    base = _base_type(column)
    if isinstance(base, Boolean):
        return ma.fields.Boolean, ()
    if isinstance(base, Integer):
        return ma.fields.Integer, ORDERED_OPS
    if isinstance(base, Float | Numeric):
        return ma.fields.Float, ORDERED_OPS
    if isinstance(base, DateTime):
        return ma.fields.AwareDateTime, ORDERED_OPS
    if isinstance(base, String) and not column.info.get("secret"):
        return ma.fields.String, TEXT_OPS
    return None


def filter_columns(model: type, exclude: Iterable[str] = ()) -> dict[str, Column[Any]]:
    """The columns of ``model`` a list can filter and sort on (not secrets, JSON or bytes)."""
    skipped = set(exclude)
    columns: dict[str, Column[Any]] = {}
    for column in model.__table__.columns:  # type: ignore[attr-defined]
        if column.key in skipped or column.info.get("secret"):
            continue
        if _field_for(column) is not None:
            columns[column.key] = column
    return columns


def arguments_schema(name: str, columns: Mapping[str, Column[Any]]) -> type[Schema]:
    """A query-arguments schema: :class:`ListArguments` plus a filter per column and operator."""
    fields: dict[str, ma.fields.Field] = {}
    for key, column in columns.items():
        spec = _field_for(column)
        assert spec is not None
        field_class, ops = spec
        kwargs: dict[str, Any] = {}
        if field_class is ma.fields.String:
            kwargs["validate"] = [ma.validate.Length(max=200), NoNul]
        if field_class is ma.fields.Integer:
            bits = 63 if isinstance(_base_type(column), BigInteger) else 31
            kwargs["validate"] = ma.validate.Range(min=-(2**bits), max=2**bits - 1)
        if field_class is ma.fields.Float:
            kwargs["allow_nan"] = False
        fields[key] = field_class(metadata={"description": f"{key} equals"}, **kwargs)
        for op in ops:
            fields[f"{key}__{op}"] = field_class(metadata={"description": f"{key} {op}"}, **kwargs)
        if column.nullable:
            fields[f"{key}__null"] = ma.fields.Boolean(
                metadata={"description": f"true: {key} has no value; false: it has one"}
            )
    return ListArguments.from_dict(fields, name=f"{name}ListArguments")  # type: ignore[return-value]


def apply_filters(
    statement: Select[Any], columns: Mapping[str, Column[Any]], args: Mapping[str, Any]
) -> Select[Any]:
    """``statement`` with the filters of ``args`` (names as made by :func:`arguments_schema`)."""
    for name, value in args.items():
        key, _, op = name.partition("__")
        column = columns.get(key)
        if column is None:
            continue
        if op == "":
            condition = column == value
        elif op == "ne":
            condition = column != value
        elif op == "lt":
            condition = column < value
        elif op == "le":
            condition = column <= value
        elif op == "gt":
            condition = column > value
        elif op == "ge":
            condition = column >= value
        elif op == "contains":
            condition = column.contains(value, autoescape=True)
        elif op == "startswith":
            condition = column.startswith(value, autoescape=True)
        elif op == "null":
            condition = column.is_(None) if value else column.is_not(None)
        else:  # pragma: no cover - the schema admits no other operator
            continue
        statement = statement.where(condition)
    return statement


def apply_search(statement: Select[Any], columns: Sequence[Any], text: str | None) -> Select[Any]:
    """``statement`` limited to rows where any of ``columns`` contains ``text`` (any case)."""
    if not text:
        return statement
    if not columns:
        raise InvalidValue("q", "this list has no searchable columns")
    pattern = text.strip().lower()
    from sqlalchemy import func

    return statement.where(
        or_(*(func.lower(column).contains(pattern, autoescape=True) for column in columns))
    )


def apply_sort(
    statement: Select[Any], columns: Mapping[str, Column[Any]], sort: str | None, default: str
) -> Select[Any]:
    """``statement`` ordered by ``sort`` (``name,-id``); the primary key breaks ties."""
    order = []
    names: list[str] = []
    for part in (sort or default).split(","):
        part = part.strip()
        if not part:
            continue
        descending = part.startswith("-")
        key = part.lstrip("-+")
        column = columns.get(key)
        if column is None:
            known = ", ".join(sorted(columns))
            raise InvalidValue("sort", f"cannot sort by {key!r}; sortable columns: {known}")
        names.append(key)
        order.append(column.desc() if descending else column.asc())
    table = next(iter(columns.values())).table if columns else None
    if table is not None:
        for key_column in table.primary_key.columns:
            if key_column.key not in names:
                order.append(key_column.asc())
    return statement.order_by(*order)
