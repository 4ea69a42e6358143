"""What each job action does in a session, and what it brings back to store.

:func:`perform` runs one action on an open driver connection and fills a
:class:`~meterhub.acquisition.results.TaskOutcome`: the values to store (mapped to channels by
:mod:`meterhub.acquisition.mapping`), warnings for what could not be stored, details for the
monitoring (values stored, clock deviation, ...), the end of a successful read. A failure of the
action alone (the meter refused it, the driver does not offer it) is raised as a
:class:`~meterhub.extensions.driver.DriverError` and ends only this task; a lost link ends the
session.

**Clock synchronisation** (``set_clock``): the clock is read; a deviation within ``tolerance``
is left alone; beyond it the clock is set, unless the deviation exceeds ``maximum`` (a meter that
far off is not corrected automatically: someone should look). A meter not corrected, or whose
set command failed, joins the time-sync error group; a meter synchronised (or within tolerance)
leaves it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from meterhub.acquisition.actions import (
    BillingParameters,
    ClockParameters,
    FirmwareParameters,
    LoadLimitParameters,
    RangeParameters,
    RegisterParameters,
    RelayParameters,
    TariffParameters,
    read_range,
)
from meterhub.acquisition.mapping import map_events, map_profile, map_readings
from meterhub.acquisition.plans import MeterPlan
from meterhub.acquisition.results import TaskOutcome
from meterhub.extensions.driver import (
    Action,
    BillingPeriod,
    DeviceError,
    DriverConnection,
    Quality,
)

__all__ = ["ActionContext", "ClockError", "FirmwareSource", "perform"]

#: Loads a firmware image by id: ``(content, version, sha256)``.
FirmwareSource = Callable[[int], tuple[bytes, str, str]]


class ClockError(DeviceError):
    """The clock deviation is beyond the maximum that is corrected automatically."""


@dataclass
class ActionContext:
    """What an action needs besides the connection: the plan, the run's time and zone."""

    plan: MeterPlan
    reference: datetime
    zone: ZoneInfo
    clock: Callable[[], datetime]
    firmware: FirmwareSource


def _quality_error(action: str, quality: Quality) -> DeviceError:
    return DeviceError(f"{action}: the meter answered {quality.value}")


def perform(
    connection: DriverConnection,
    action: str,
    parameters: Any,
    context: ActionContext,
    outcome: TaskOutcome,
) -> None:
    """Run ``action`` on ``connection``; fill ``outcome`` (raises for a failed action)."""
    plan = context.plan
    details = outcome.details
    warnings = outcome.warnings
    data = outcome.data
    if action in (Action.READ_LOAD_PROFILE, Action.READ_EVENTS, Action.READ_BILLING):
        assert isinstance(parameters, RangeParameters)
        start, end = read_range(
            parameters,
            reference=context.reference,
            now=context.clock(),
            last_read=plan.last_reads.get(action),
            zone=context.zone,
        )
        details["from"], details["to"] = start.isoformat(), end.isoformat()
        if start >= end:
            details["values"] = 0
            return
        if action == Action.READ_LOAD_PROFILE:
            if not interval_due(plan, start, end):
                # Read a moment ago: no interval of the meter's profile ended since. Meters
                # answer such a range with an error (no rows), which is no failure.
                details["values"] = 0
                details["nothing_due"] = True
                return
            profile = connection.read_load_profile(start, end)
            if profile.quality is not Quality.VALID:
                raise _quality_error(action, profile.quality)
            stored, last_end = map_profile(plan, profile, data, warnings)
            details["values"] = stored
            if last_end is not None:
                outcome.last_read = datetime.fromtimestamp(last_end, UTC)
                details["read_to"] = outcome.last_read.isoformat()
        elif action == Action.READ_EVENTS:
            log = connection.read_events(start, end)
            if log.quality is not Quality.VALID:
                raise _quality_error(action, log.quality)
            details["events"] = len(log.events)
            details["values"] = map_events(plan, log.events, data, warnings)
            outcome.last_read = end
        else:
            assert isinstance(parameters, BillingParameters)
            billing = connection.read_billing(start, end, BillingPeriod(parameters.period))
            if billing.quality is not Quality.VALID:
                raise _quality_error(action, billing.quality)
            details["values"] = map_readings(plan, billing.readings, data, warnings)
            outcome.last_read = end
        return
    if action == Action.READ_REGISTERS:
        assert isinstance(parameters, RegisterParameters)
        codes = list(parameters.obis) or sorted(
            {obis for (kind, obis) in plan.channels if kind == "register"}
        )
        if not codes:
            details["values"] = 0
            warnings.append("no OBIS codes given and the virtual meter has no register channels")
            return
        readings = connection.read_registers(codes)
        details["values"] = map_readings(plan, readings, data, warnings)
        return
    if action == Action.READ_INSTANTANEOUS:
        readings = connection.read_instantaneous()
        details["values"] = map_readings(plan, readings, data, warnings)
        details["readings"] = {r.obis: r.scaled for r in readings if r.scaled is not None}
        return
    if action in (Action.READ_CLOCK, Action.SET_CLOCK):
        reading = connection.read_clock()
        if not isinstance(reading.value, datetime):
            raise _quality_error(action, reading.quality)
        deviation = (reading.value - reading.timestamp).total_seconds()
        details["deviation_s"] = round(deviation, 3)
        if action == Action.READ_CLOCK:
            return
        assert isinstance(parameters, ClockParameters)
        if abs(deviation) <= parameters.tolerance:
            details["corrected"] = False
            outcome.time_sync = "remove"
            return
        if abs(deviation) > parameters.maximum:
            outcome.time_sync = "add"
            raise ClockError(
                f"clock deviation {deviation:+.0f} s is beyond the maximum of "
                f"{parameters.maximum:g} s corrected automatically; not corrected"
            )
        quality = connection.set_clock(context.clock())
        if quality is not Quality.VALID:
            outcome.time_sync = "add"
            raise _quality_error("set_clock", quality)
        details["corrected"] = True
        outcome.time_sync = "remove"
        return
    if action == Action.DISCONNECT_SUPPLY:
        _require(connection.disconnect_supply(), action)
    elif action == Action.RECONNECT_SUPPLY:
        _require(connection.reconnect_supply(), action)
    elif action == Action.SET_RELAY:
        assert isinstance(parameters, RelayParameters)
        _require(connection.set_relay(parameters.relay, parameters.closed), action)
    elif action == Action.READ_LOAD_LIMIT:
        limit = connection.read_load_limit()
        if limit.quality is not Quality.VALID:
            raise _quality_error(action, limit.quality)
        details.update(
            normal=limit.normal, emergency=limit.emergency, active=limit.active, unit=limit.unit
        )
    elif action == Action.SET_LOAD_LIMIT:
        assert isinstance(parameters, LoadLimitParameters)
        _require(connection.set_load_limit(parameters.normal, parameters.emergency), action)
    elif action == Action.UPLOAD_TARIFF:
        assert isinstance(parameters, TariffParameters)
        _require(connection.upload_tariff(parameters.calendar), action)
    elif action == Action.UPGRADE_FIRMWARE:
        assert isinstance(parameters, FirmwareParameters)
        if parameters.image_id is None:
            raise DeviceError("upgrade_firmware: the job names no image of the firmware store")
        content, version, digest = context.firmware(parameters.image_id)
        if hashlib.sha256(content).hexdigest() != digest:
            raise DeviceError(
                f"firmware image {parameters.image} {version}: the stored image does not match "
                "its SHA-256 hash; nothing was sent"
            )
        details["version"] = version
        _require(connection.upgrade_firmware(content, version), action)
    else:  # pragma: no cover - ACTIONS and this function list the same actions
        raise DeviceError(f"no way to perform action {action!r}")


def _require(quality: Quality, action: str) -> None:
    if quality is not Quality.VALID:
        raise _quality_error(action, quality)


def interval_due(plan: MeterPlan, start: datetime, end: datetime) -> bool:
    """Whether an interval of the meter's shortest profile channel ends in ``(start, end]``.

    Sub-daily intervals end on multiples of their length in UTC; a meter without profile
    channels (or with daily ones, whose ends are local midnights) is always read.
    """
    minutes = [
        ref.interval_minutes
        for (kind, _obis), refs in plan.channels.items()
        if kind == "profile"
        for ref in refs
        if 0 < ref.interval_minutes < 24 * 60
    ]
    if not minutes:
        return True
    step = 60 * min(minutes)
    return int(end.timestamp()) // step > int(start.timestamp()) // step
