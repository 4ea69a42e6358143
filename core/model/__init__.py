"""The domain model: SQLAlchemy 2.x tables of the business tree, metering and devices.

Importing this package registers every table on :data:`Base.metadata` (the meter data store's
``ts_*`` tables of :mod:`meterhub.timeseries.tables` included), which Alembic compares against
the migrations, and the audit listener (:mod:`meterhub.model.audit`) on every session.
"""

from meterhub.model import (
    audit,
    devices,
    elements,
    groups,
    metering,
    meters,
    parameters,
    roles,
    segments,
    templates,
    tokens,
    users,
)
from meterhub.model.base import Base
from meterhub.timeseries import tables as timeseries_tables

__all__ = [
    "Base",
    "audit",
    "devices",
    "elements",
    "groups",
    "metering",
    "meters",
    "parameters",
    "roles",
    "segments",
    "templates",
    "timeseries_tables",
    "tokens",
    "users",
]
