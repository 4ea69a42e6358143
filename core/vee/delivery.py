"""Checks on what a driver or an import delivered, before it is stored: duplicate timestamps
and timestamps off the interval grid, which the store's slot grid cannot hold.

:func:`check_delivery` turns a delivered series (interval ends or starts as ``datetime64``,
values, status words) into the dense arrays :meth:`MeterDataStore.write_intervals` takes, and
lists what it had to leave out:

- a timestamp that is not on the channel's grid (``misaligned``) is left out;
- a timestamp delivered twice with the same value and status is kept once (``duplicate``,
  informational); twice with different values (``conflicting duplicate``), both are left out,
  since neither can be trusted over the other.

Every finding names the time and what was wrong; the acquisition engine and the importers call
it on each delivered channel and record the findings with the session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from meterhub.errors import InvalidValue

__all__ = ["Delivery", "DeliveryFinding", "check_delivery"]


@dataclass(frozen=True)
class DeliveryFinding:
    """One problem of a delivered series: when, what kind, in words."""

    time: datetime
    kind: str
    message: str


@dataclass(frozen=True, eq=False)
class Delivery:
    """A delivered series on the slot grid, ready for ``write_intervals(..., label="start")``.

    ``start`` is the start of the first slot; ``values``, ``status`` and ``present`` are as
    long as the span from the first to the last slot delivered.
    """

    start: datetime | None
    values: npt.NDArray[np.float64]
    status: npt.NDArray[np.uint32]
    present: npt.NDArray[np.bool_]
    findings: list[DeliveryFinding] = field(default_factory=list)

    @property
    def slots(self) -> int:
        """Slots from the first to the last delivered."""
        return int(self.values.size)


def _time(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1_000_000, UTC)


def check_delivery(
    times: npt.NDArray[np.datetime64] | list[datetime],
    values: npt.ArrayLike,
    status: npt.ArrayLike | None = None,
    *,
    interval_minutes: int,
    label: str = "end",
) -> Delivery:
    """Check and grid a delivered series (see the module docstring). ``times`` label each
    value by its interval's end (``label="end"``, how meters report profiles) or start; naive
    values are UTC."""
    if interval_minutes not in (1, 5, 10, 15, 30, 60):
        raise InvalidValue("interval_minutes", "deliveries are checked for sub-daily intervals")
    if label not in ("start", "end"):
        raise InvalidValue("label", "must be 'start' or 'end'")
    stamps = np.asarray(
        [
            t.astimezone(UTC).replace(tzinfo=None) if isinstance(t, datetime) and t.tzinfo else t
            for t in times
        ]
        if isinstance(times, list)
        else times
    ).astype("datetime64[us]")
    vals = np.asarray(values, dtype=np.float64)
    stat = (
        np.zeros(vals.shape, np.uint32) if status is None else np.asarray(status).astype(np.uint32)
    )
    if stamps.shape != vals.shape or stat.shape != vals.shape:
        raise InvalidValue("values", "times, values and status must have the same length")
    findings: list[DeliveryFinding] = []
    step = interval_minutes * 60_000_000
    ticks = stamps.astype(np.int64)
    if label == "end":
        ticks = ticks - step
    keep = np.isfinite(vals)
    for i in np.flatnonzero(~keep).tolist():
        findings.append(
            DeliveryFinding(_time(int(ticks[i])), "not a number", "value is NaN or infinite")
        )
    off = (ticks % step) != 0
    for i in np.flatnonzero(off & keep).tolist():
        findings.append(
            DeliveryFinding(
                _time(int(stamps.astype(np.int64)[i])),
                "misaligned",
                f"not on the {interval_minutes}-minute grid; left out",
            )
        )
    keep &= ~off
    order = np.argsort(ticks, kind="stable")
    ticks, vals, stat, keep = ticks[order], vals[order], stat[order], keep[order]
    ticks, vals, stat = ticks[keep], vals[keep], stat[keep]
    if ticks.size:
        same_time = np.flatnonzero(np.diff(ticks) == 0)
        drop = np.zeros(ticks.size, dtype=bool)
        for i in same_time.tolist():
            if vals[i] == vals[i + 1] and stat[i] == stat[i + 1]:
                drop[i + 1] = True
                findings.append(
                    DeliveryFinding(_time(int(ticks[i])), "duplicate", "delivered twice; kept once")
                )
            else:
                drop[i] = drop[i + 1] = True
                findings.append(
                    DeliveryFinding(
                        _time(int(ticks[i])),
                        "conflicting duplicate",
                        f"delivered twice with different values ({vals[i]:g}, "
                        f"{vals[i + 1]:g}); left out",
                    )
                )
        ticks, vals, stat = ticks[~drop], vals[~drop], stat[~drop]
    if ticks.size == 0:
        empty = np.empty(0)
        return Delivery(None, empty, empty.astype(np.uint32), empty.astype(bool), findings)
    first = int(ticks[0])
    slots = (ticks - first) // step
    length = int(slots[-1]) + 1
    out_values = np.zeros(length)
    out_status = np.zeros(length, dtype=np.uint32)
    present = np.zeros(length, dtype=bool)
    out_values[slots] = vals
    out_status[slots] = stat
    present[slots] = True
    return Delivery(_time(first), out_values, out_status, present, findings)
