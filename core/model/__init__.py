"""The domain model: SQLAlchemy 2.x tables of the business tree, metering and devices.

Importing this package registers every table on :data:`Base.metadata` (the meter data store's
``ts_*`` tables of :mod:`meterhub.timeseries.tables` included), which Alembic compares against
the migrations, and the audit listener (:mod:`meterhub.model.audit`) on every session.
"""

from meterhub.model import (
    audit,
    calculations,
    calendars,
    devices,
    elements,
    errorgroups,
    firmware,
    groups,
    heard,
    jobs,
    lines,
    metering,
    meters,
    parameters,
    roles,
    scripts,
    segments,
    sessionstate,
    statistics,
    tasks,
    templates,
    tokens,
    users,
    vee,
)
from meterhub.model.base import Base
from meterhub.timeseries import tables as timeseries_tables

__all__ = [
    "Base",
    "audit",
    "calculations",
    "calendars",
    "devices",
    "elements",
    "errorgroups",
    "firmware",
    "groups",
    "heard",
    "jobs",
    "lines",
    "metering",
    "meters",
    "scripts",
    "parameters",
    "roles",
    "segments",
    "sessionstate",
    "statistics",
    "tasks",
    "templates",
    "timeseries_tables",
    "tokens",
    "users",
    "vee",
]
