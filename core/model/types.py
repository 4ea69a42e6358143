"""Column types that behave the same on SQLite, PostgreSQL and Oracle."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, Double, String
from sqlalchemy.dialects import oracle
from sqlalchemy.types import TypeDecorator, TypeEngine

#: float64 everywhere; Oracle gets BINARY_DOUBLE (``Float(53)`` does not compile there).
Float64: TypeEngine[float] = Double[float]().with_variant(oracle.BINARY_DOUBLE(), "oracle")


def _naive_utc(value: datetime) -> datetime:
    """An aware instant as naive UTC; a naive one is refused (it is ambiguous)."""
    if value.tzinfo is None:
        raise ValueError(f"time {value.isoformat()} has no time zone; give an aware datetime")
    return value.astimezone(UTC).replace(tzinfo=None)


class UTCDateTime(TypeDecorator[datetime]):
    """An instant stored as naive UTC and returned as an aware UTC ``datetime``.

    ``DateTime(timezone=True)`` becomes ``DATE`` on Oracle (no fractional seconds, no zone), so
    the column is a plain ``TIMESTAMP`` holding UTC on every backend. Naive input is refused:
    a time without a zone is ambiguous.
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "oracle":
            return dialect.type_descriptor(oracle.TIMESTAMP())
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else _naive_utc(value)

    def bind_processor(self, dialect: Dialect) -> Any:
        """On SQLite one step to SQLAlchemy's text form of the instant (``YYYY-MM-DD
        HH:MM:SS.ffffff``, UTC) instead of a naive copy and a format with seven fields: the
        acquisition writer binds several instants per task."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def sqlite_text(value: datetime | None) -> str | None:
            return None if value is None else _naive_utc(value).isoformat(" ", "microseconds")

        return sqlite_text

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    """The current instant, aware, in UTC."""
    return datetime.now(UTC)


class ISODate(TypeDecorator[date]):
    """A calendar date stored as ISO 8601 text (``2026-12-24``): ordered, zone free, and the
    same on every backend (Oracle's ``DATE`` carries a time of day)."""

    impl = String(10)
    cache_ok = True

    def process_bind_param(self, value: date | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if isinstance(value, datetime) or not isinstance(value, date):
            raise ValueError(f"{value!r} is not a date")
        return value.isoformat()

    def process_result_value(self, value: str | None, dialect: Dialect) -> date | None:
        if value is None:
            return None
        return date.fromisoformat(value)
