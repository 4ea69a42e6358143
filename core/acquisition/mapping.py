"""From what a driver read to the channels of virtual meters, by OBIS code and assignment.

Values go to the channels of the **virtual meter the physical meter served at the time of the
value** (the meter exchange history, :class:`~meterhub.acquisition.plans.MeterPlan`): an
interval belongs to the virtual meter served at its start, a register reading or an event at
its timestamp. A profile column goes to the profile channel with its OBIS code and interval; a
register reading to the register channel with its OBIS code; an event to the event channel
named by its log's OBIS code. Raw values are rescaled from the meter's scaler to the channel's
(``value × 10^(meter scaler − channel scaler)``) and converted to the channel's unit when the
meter sends another unit of the same quantity (kWh into a Wh channel; the store's units table).

What cannot be stored is **reported**, never dropped silently: every function appends a line
to ``warnings`` (an OBIS code with no channel, values outside any assignment, a unit that is not
the channel's, values off the channel's grid, a value with a quality other than valid).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np

from meterhub.acquisition.plans import ChannelRef, MeterPlan
from meterhub.acquisition.results import ProfileRow, StoreData
from meterhub.errors import InvalidValue
from meterhub.extensions.driver import LoadProfile, MeterEvent, ProfileChannel, Quality, Reading
from meterhub.timeseries.normalization import UnitTable

__all__ = ["map_events", "map_profile", "map_readings"]

#: ``present`` of whole rows, one read-only array per length (every slot carries a value).
_ALL_PRESENT: dict[int, np.ndarray] = {}


def _all_present(count: int) -> np.ndarray:
    found = _ALL_PRESENT.get(count)
    if found is None:
        found = np.ones(count, dtype=bool)
        found.flags.writeable = False
        found = _ALL_PRESENT.setdefault(count, found)
    return found


def _factor(source_scaler: int, channel: ChannelRef) -> float:
    return 10.0 ** (source_scaler - channel.scaler)


_UNITS = UnitTable()


def _unit_factor(unit: str | None, channel: ChannelRef) -> float | None:
    """The factor from the meter's unit to the channel's; ``None`` when they do not convert."""
    if not unit or not channel.unit or unit == channel.unit:
        return 1.0
    try:
        return float(_UNITS.conversion(unit, channel.unit))
    except InvalidValue:
        return None


def map_profile(
    plan: MeterPlan, profile: LoadProfile, data: StoreData, warnings: list[str]
) -> tuple[int, int | None]:
    """Add the profile's columns to ``data``; return (values stored, last interval end)."""
    stored = 0
    last_end: int | None = None
    fallback = int(profile.interval.total_seconds())
    for column in profile.channels:
        if not len(column):
            continue
        ends = column.ends.view(np.int64)  # datetime64[s]: seconds since the epoch, no copy
        last_end = int(ends[-1]) if last_end is None else max(last_end, int(ends[-1]))
        candidates = plan.channels.get(("profile", column.obis), [])
        if not candidates:
            warnings.append(
                f"{column.obis}: {len(column)} interval values, but no virtual meter of meter "
                f"{plan.serial} has a profile channel with this OBIS code"
            )
            continue
        interval = fallback or candidates[0].interval_minutes * 60
        row = _whole_column(plan, column, ends, interval, candidates)
        if row is not None:  # the usual case, in a few array operations
            data.profiles.append(row)
            stored += len(row.values)
            continue
        starts = ends - interval
        covered = np.zeros(len(starts), dtype=bool)
        for virtual_meter, valid_from, valid_to in plan.assignments:
            mask = starts >= valid_from
            if valid_to is not None:
                mask &= starts < valid_to
            if not mask.any():
                continue
            covered |= mask
            channel = next(
                (
                    ref
                    for ref in candidates
                    if ref.virtual_meter_id == virtual_meter
                    and ref.interval_minutes * 60 == interval
                ),
                None,
            )
            if channel is None:
                warnings.append(
                    f"{column.obis}: {int(mask.sum())} values every {interval // 60} min, but "
                    f"virtual meter {virtual_meter} has no {column.obis} profile channel with "
                    "that interval"
                )
                continue
            unit_factor = _unit_factor(column.unit, channel)
            if unit_factor is None:
                warnings.append(
                    f"{column.obis}: the meter sends {column.unit}, channel {channel.channel_id} "
                    f"is in {channel.unit}; {int(mask.sum())} values not stored"
                )
                continue
            row = _profile_row(
                channel, starts, column.values, column.status, mask, column.scaler, unit_factor
            )
            if row is None:
                continue
            off_grid = int((mask & (starts % interval != 0)).sum())
            if off_grid:
                warnings.append(
                    f"{column.obis}: {off_grid} intervals not on the {interval // 60}-minute "
                    "grid were not stored"
                )
            data.profiles.append(row)
            stored += row.count
        outside = int((~covered).sum())
        if outside:
            warnings.append(
                f"{column.obis}: {outside} interval values lie outside every assignment of "
                f"meter {plan.serial} to a virtual meter and were not stored"
            )
    return stored, last_end


def _whole_column(
    plan: MeterPlan,
    column: ProfileChannel,
    ends: np.ndarray,
    interval: int,
    candidates: list[ChannelRef],
) -> ProfileRow | None:
    """The row of a column that goes whole to one channel: contiguous, on the channel's grid,
    within one assignment, no value missing, the channel's unit. ``None`` for anything else
    (the general path then sorts it out and says what it could not store)."""
    count = len(ends)
    first_start = int(ends[0]) - interval
    last_start = int(ends[-1]) - interval
    if last_start - first_start != (count - 1) * interval or first_start % interval:
        return None
    virtual_meter = None
    for candidate_vm, valid_from, valid_to in plan.assignments:
        if valid_from <= first_start and (valid_to is None or last_start < valid_to):
            virtual_meter = candidate_vm
            break
    if virtual_meter is None:
        return None
    channel = next(
        (
            ref
            for ref in candidates
            if ref.virtual_meter_id == virtual_meter and ref.interval_minutes * 60 == interval
        ),
        None,
    )
    if channel is None:
        return None
    unit_factor = _unit_factor(column.unit, channel)
    values = column.values
    if unit_factor is None or np.isnan(values).any():
        return None
    factor = _factor(column.scaler, channel) * unit_factor
    return ProfileRow(
        channel.channel_id,
        first_start,
        interval,
        values * factor if factor != 1.0 else values,
        column.status,
        _all_present(count),
        whole=True,
    )


def _profile_row(
    channel: ChannelRef,
    starts: np.ndarray,
    values: np.ndarray,
    status: np.ndarray,
    mask: np.ndarray,
    scaler: int,
    unit_factor: float = 1.0,
) -> ProfileRow | None:
    interval = channel.interval_minutes * 60
    keep = mask & (starts % interval == 0) & ~np.isnan(values)
    if not keep.any():
        return None
    kept = starts[keep]
    first = int(kept[0])
    slots = (kept - first) // interval
    width = int(slots[-1]) + 1
    row_values = np.zeros(width, dtype=np.float64)
    row_status = np.zeros(width, dtype=np.uint32)
    present = np.zeros(width, dtype=bool)
    factor = _factor(scaler, channel) * unit_factor
    row_values[slots] = values[keep] * factor if factor != 1.0 else values[keep]
    row_status[slots] = status[keep]
    present[slots] = True
    return ProfileRow(channel.channel_id, first, interval, row_values, row_status, present)


def map_readings(
    plan: MeterPlan, readings: Sequence[Reading], data: StoreData, warnings: list[str]
) -> int:
    """Add register readings (registers, billing values, instantaneous values) to ``data``."""
    stored = 0
    seen: set[tuple[int, int]] = set()
    for reading in readings:
        if reading.quality is not Quality.VALID:
            warnings.append(f"{reading.obis}: {reading.quality.value}")
            continue
        value = reading.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue  # text and clock values are not register values
        at = int(reading.timestamp.timestamp())
        channel = plan.channel("register", reading.obis, at)
        if channel is None:
            warnings.append(
                f"{reading.obis} = {value}: no register channel with this OBIS code on the "
                f"virtual meter that meter {plan.serial} served at {reading.timestamp.isoformat()}"
            )
            continue
        unit_factor = _unit_factor(reading.unit, channel)
        if unit_factor is None:
            warnings.append(
                f"{reading.obis}: the meter sends {reading.unit}, the channel is in "
                f"{channel.unit}; not stored"
            )
            continue
        if (channel.channel_id, at) in seen:
            continue
        seen.add((channel.channel_id, at))
        data.register_ids.append(channel.channel_id)
        data.register_times.append(at)
        data.register_values.append(float(value) * _factor(reading.scaler, channel) * unit_factor)
        data.register_status.append(0)
        stored += 1
    return stored


def map_events(
    plan: MeterPlan, events: Sequence[MeterEvent], data: StoreData, warnings: list[str]
) -> int:
    """Add events to ``data`` (channel of kind ``event`` named by the log's OBIS code)."""
    stored = 0
    missing: dict[str, int] = {}
    for event in events:
        at = int(event.timestamp.timestamp())
        channel = plan.channel("event", event.log, at)
        if channel is None:
            missing[event.log] = missing.get(event.log, 0) + 1
            continue
        data.event_ids.append(channel.channel_id)
        data.event_times.append(at)
        data.event_codes.append(int(event.code))
        stored += 1
    for log, count in missing.items():
        warnings.append(
            f"event log {log}: {count} events, but no event channel with this OBIS code on "
            f"the virtual meter that meter {plan.serial} served"
        )
    return stored


def latest(times: Sequence[datetime]) -> datetime | None:
    """The latest of ``times``, or ``None``."""
    return max(times) if times else None
