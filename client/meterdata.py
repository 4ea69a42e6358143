"""Meter data as numpy arrays: interval series from the API's columnar JSON."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np


@dataclass(frozen=True, eq=False)
class IntervalSeries:
    """Interval data of several channels: ``values[channel, slot]``, ``flags`` likewise.

    Slot ``i`` is labelled ``start + i * interval_minutes`` (for daily data: the local date
    ``start`` + ``i`` days); ``NaN`` marks a slot without a value.
    """

    channel_ids: np.ndarray
    start: datetime | None
    interval_minutes: int
    values: np.ndarray
    flags: np.ndarray
    units: tuple[str | None, ...]
    tz: str
    layer: str
    label: str
    conflict: np.ndarray | None = None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> IntervalSeries:
        """Build from the columnar JSON of ``GET /api/v1/meter-data/intervals``."""
        channels = body["channels"]
        slots = int(body["slots"])
        values = np.array([c["values"] for c in channels], dtype=np.float64).reshape(-1, slots)
        flags = np.array([c["flags"] for c in channels], dtype=np.uint32).reshape(-1, slots)
        conflict = None
        if channels and "conflict" in channels[0]:
            conflict = np.array([c["conflict"] for c in channels], dtype=bool).reshape(-1, slots)
        start = datetime.fromisoformat(body["start"]) if body.get("start") else None
        return cls(
            channel_ids=np.array([c["id"] for c in channels], dtype=np.int64),
            start=start,
            interval_minutes=int(body["interval_minutes"]),
            values=values,
            flags=flags,
            units=tuple(c.get("unit") for c in channels),
            tz=body["tz"],
            layer=body["layer"],
            label=body["label"],
            conflict=conflict,
        )

    @property
    def slots(self) -> int:
        """Number of slots."""
        return int(self.values.shape[1])

    def times(self) -> np.ndarray:
        """Each slot's label as UTC ``datetime64[us]``."""
        if self.start is None:
            return np.array([], dtype="datetime64[us]")
        if self.interval_minutes == 1440:
            zone = ZoneInfo(self.tz)
            first = self.start.astimezone(zone)
            labels = [
                datetime.combine(
                    first.date() + timedelta(days=i), first.timetz().replace(tzinfo=None), zone
                )
                for i in range(self.slots)
            ]
            return np.array(
                [t.astimezone(ZoneInfo("UTC")).replace(tzinfo=None) for t in labels],
                dtype="datetime64[us]",
            )
        begin = np.datetime64(self.start.astimezone(ZoneInfo("UTC")).replace(tzinfo=None), "us")
        step = np.timedelta64(self.interval_minutes * 60_000_000, "us")
        return begin + np.arange(self.slots, dtype=np.int64) * step
