"""What a simulated DLMS meter must answer, from its model (shared by the DLMS test modules)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from meterhub.extensions.driverkit import SimulatedMeter

QUARTER = 900


def past_day() -> tuple[datetime, datetime]:
    """A day of whole quarter-hours ending an hour ago (nothing of it is still open)."""
    now = int(time.time())
    end = now - now % QUARTER - 3600
    return datetime.fromtimestamp(end - 86_400, UTC), datetime.fromtimestamp(end, UTC)


def expected_profile(meter: SimulatedMeter, start: datetime, end: datetime) -> list[tuple]:
    """The load profile rows of ``(start, end]`` as ``(OBIS, value, unit, scaler, end)``."""
    rows = []
    edge = int(start.timestamp()) + QUARTER
    while edge <= int(end.timestamp()):
        active = meter.active_energy(edge) - meter.active_energy(edge - QUARTER)
        reactive = meter.reactive_energy(edge) - meter.reactive_energy(edge - QUARTER)
        stamp = datetime.fromtimestamp(edge, UTC)
        rows.append(("1-0:1.29.0*255", active, "Wh", 0, stamp))
        rows.append(("1-0:3.29.0*255", reactive, "varh", 0, stamp))
        edge += QUARTER
    return rows


def as_rows(readings) -> list[tuple]:
    """Readings as ``(OBIS, value, unit, scaler, timestamp)``."""
    return [(r.obis, r.value, r.unit, r.scaler, r.timestamp) for r in readings]
