"""The domain model: SQLAlchemy 2.x tables of the business tree, metering and devices.

Importing this package registers every table on :data:`Base.metadata`, which Alembic compares
against the migrations.
"""

from meterhub.model.base import Base

__all__ = ["Base"]
