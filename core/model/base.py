"""Declarative base with a constraint naming convention shared by all backends."""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

#: Deterministic constraint names, so migrations can drop them on SQLite, PostgreSQL and Oracle
#: (Oracle limits identifiers to 128 bytes; these stay far below).
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base class of every MeterHub table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
