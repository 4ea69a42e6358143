"""VEE — validation, estimation and editing of interval data.

- :mod:`~.ingest`: on-the-fly checks inside the store's ingest transaction
  (:class:`IngestValidation`);
- :mod:`~.delivery`: duplicate and misaligned timestamps of what a driver delivered
  (:func:`check_delivery`), before it is stored;
- :mod:`~.engine`: profile runs after commit, on a schedule or on demand (:class:`VeeEngine`),
  with the array work in :mod:`~.apply` and the run records in :mod:`~.runs`;
- :mod:`~.profiles` and :mod:`~.assignments`: profiles checked against the plugins, and which
  profile applies to which channel;
- :mod:`~.daytypes`: day types from public holidays and special days (:class:`DayTypes`);
- :mod:`~.editing`: manual substitutes, locks, rebuild from raw, billing releases
  (:class:`Editing`);
- :mod:`~.service`: the listener that chains validation and calculations to the store's events.

See ``docs/vee.md``.
"""

from meterhub.vee.daytypes import DayTypes
from meterhub.vee.delivery import Delivery, DeliveryFinding, check_delivery
from meterhub.vee.editing import Editing, ReleaseInfo
from meterhub.vee.engine import RunReport, VeeEngine
from meterhub.vee.ingest import IngestValidation
from meterhub.vee.profiles import StepSpec

__all__ = [
    "DayTypes",
    "Delivery",
    "DeliveryFinding",
    "Editing",
    "IngestValidation",
    "ReleaseInfo",
    "RunReport",
    "StepSpec",
    "VeeEngine",
    "check_delivery",
]
