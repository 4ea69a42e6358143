"""Meter data store: raw and normalized interval data, registers and events, versioned.

Use :class:`MeterDataStore` (and its :meth:`~MeterDataStore.unit_of_work` for many writes in one
transaction); see ``docs/datastore.md`` for the layout and conventions.
"""

from meterhub.timeseries.flags import EstimationMethod, Flag
from meterhub.timeseries.normalization import Formula, Unit
from meterhub.timeseries.results import (
    ConflictRecords,
    EventData,
    IntervalData,
    RegisterData,
    ValueChange,
    VersionInfo,
    WriteReport,
)
from meterhub.timeseries.store import ChannelInfo, MeterDataStore
from meterhub.timeseries.timegrid import LocalDay, local_day_range, resolve_tz
from meterhub.timeseries.unitofwork import UnitOfWork, UnitOfWorkFailed

__all__ = [
    "ChannelInfo",
    "ConflictRecords",
    "EstimationMethod",
    "EventData",
    "Flag",
    "Formula",
    "IntervalData",
    "LocalDay",
    "MeterDataStore",
    "RegisterData",
    "Unit",
    "UnitOfWork",
    "UnitOfWorkFailed",
    "ValueChange",
    "VersionInfo",
    "WriteReport",
    "local_day_range",
    "resolve_tz",
]
