"""The engine's tables as SQLAlchemy ``Table`` objects, for its bulk statements."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table

__all__ = ["table_of"]


def table_of(model: Any) -> Table:
    """The ``Table`` of a mapped class (``Task`` → ``acq_task``)."""
    return cast(Table, model.__table__)
