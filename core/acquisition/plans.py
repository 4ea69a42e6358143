"""What a session needs to know about a meter, loaded in bulk: a :class:`MeterPlan`.

A plan holds the meter's driver and settings, its communication paths in order (each with the
medium, address, settings and line pool), its assignment history (which virtual meter it served
when), the channels of those virtual meters by kind and OBIS code, its session state and its
last successful reads. :func:`load_plans` reads them for many meters with a handful of queries
(never one per meter), so a run of thousands of meters starts at once.

**Line pools** (:mod:`meterhub.model.lines`): a path's pool is ``pool:<name>`` when its device
is in a named pool, ``device:<id>`` for a modem or serial device in no pool (one call at a
time), else ``default``; :func:`pool_capacity` knows each key's capacity.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from meterhub.acquisition.tables import table_of as _table
from meterhub.db import id_in
from meterhub.inventory.common import chunks
from meterhub.model.devices import CommunicationDevice, CommunicationPath
from meterhub.model.lines import LinePool, PoolDevice
from meterhub.model.metering import Channel
from meterhub.model.meters import Meter, MeterAssignment
from meterhub.model.sessionstate import LastRead, SessionState

__all__ = [
    "DEFAULT_POOL",
    "ChannelRef",
    "MeterPlan",
    "PathPlan",
    "PoolTable",
    "load_plans",
    "load_pools",
    "main_pools",
]

#: The pool of IP devices and of meters reached without a device.
DEFAULT_POOL = "default"

#: Media by device kind.
_MEDIUM = {"ip": "tcp", "serial": "serial", "modem": "modem"}


@dataclass(frozen=True, slots=True)
class PathPlan:
    """One way to reach the meter: priority 1 is the main path."""

    path_id: int | None
    priority: int
    device_id: int | None
    medium: str | None
    address: str | None
    settings: Mapping[str, Any]
    pool: str


@dataclass(frozen=True, slots=True)
class ChannelRef:
    """A channel a value may go to."""

    channel_id: int
    virtual_meter_id: int
    kind: str
    obis: str
    interval_minutes: int
    unit: str | None
    scaler: int


@dataclass(slots=True)
class MeterPlan:
    """Everything a session with one meter needs (see the module docstring).

    ``assignments`` are ``(virtual meter id, from, to)`` in Unix seconds (``to`` ``None``
    while it lasts); ``channels`` maps ``(kind, OBIS)`` to the channels of every virtual meter
    the meter served. ``state`` holds session state values; ``counters`` the reserved session
    counters as ``name -> [next, reserved_to]``.
    """

    meter_id: int
    manufacturer: str
    serial: str
    driver: str
    enabled: bool
    settings: dict[str, str]
    credentials: bytes | None
    paths: list[PathPlan]
    assignments: list[tuple[int, int, int | None]] = field(default_factory=list)
    channels: dict[tuple[str, str], list[ChannelRef]] = field(default_factory=dict)
    state: dict[str, str] = field(default_factory=dict)
    counters: dict[str, list[int]] = field(default_factory=dict)
    last_reads: dict[str, datetime] = field(default_factory=dict)

    def channel(
        self, kind: str, obis: str, at: int, interval: int | None = None
    ) -> ChannelRef | None:
        """The channel of ``kind``/``obis`` of the virtual meter served at Unix second ``at``."""
        virtual_meter = self.virtual_meter_at(at)
        if virtual_meter is None:
            return None
        for ref in self.channels.get((kind, obis), ()):
            if ref.virtual_meter_id == virtual_meter and (
                interval is None or ref.interval_minutes == interval
            ):
                return ref
        return None

    def virtual_meter_at(self, at: int) -> int | None:
        """The virtual meter the meter served at Unix second ``at``."""
        for virtual_meter, start, end in self.assignments:
            if start <= at and (end is None or at < end):
                return virtual_meter
        return None

    def virtual_meters(self) -> list[int]:
        """Every virtual meter the meter served, oldest assignment first."""
        return [virtual_meter for virtual_meter, _, _ in self.assignments]


@dataclass
class PoolTable:
    """Line pool capacities: named pools, device membership, the default pool's capacity."""

    default_capacity: int
    named: dict[str, int] = field(default_factory=dict)
    devices: dict[int, str] = field(default_factory=dict)

    def capacity(self, key: str) -> int:
        """The capacity of pool ``key`` (1 for a single device; unknown names 1)."""
        if key == DEFAULT_POOL:
            return self.default_capacity
        if key == "inbound":  # lines the meters opened: counted, never refused
            return 1_000_000
        if key.startswith("pool:"):
            return self.named.get(key[5:], 1)
        return 1

    def key_for(self, device_id: int | None, kind: str | None) -> str:
        """The pool key of a path over device ``device_id`` of ``kind``."""
        if device_id is None:
            return DEFAULT_POOL
        name = self.devices.get(device_id)
        if name is not None:
            return f"pool:{name}"
        if kind in ("modem", "serial"):
            return f"device:{device_id}"
        return DEFAULT_POOL


def load_pools(connection: Connection, default_capacity: int) -> PoolTable:
    """The line pools and device memberships in the database."""
    pools = _table(LinePool)
    members = _table(PoolDevice)
    table = PoolTable(default_capacity)
    names = {}
    for pool_id, name, capacity in connection.execute(
        select(pools.c.id, pools.c.name, pools.c.capacity)
    ):
        names[pool_id] = name
        table.named[name] = int(capacity)
    for device_id, pool_id in connection.execute(select(members.c.device_id, members.c.pool_id)):
        table.devices[int(device_id)] = names[pool_id]
    return table


def _seconds(value: datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())


def _text_settings(settings: Mapping[str, Any] | None) -> dict[str, str]:
    found = {}
    for key, value in (settings or {}).items():
        if isinstance(value, bool):
            found[key] = "true" if value else "false"
        else:
            found[key] = str(value)
    return found


def _device_address(kind: str, row: Any) -> tuple[str | None, dict[str, str]]:
    extra: dict[str, str] = {}
    if kind == "ip":
        host = row.host
        address = f"[{host}]:{row.port}" if ":" in host else f"{host}:{row.port}"
    elif kind == "serial":
        address = row.serial_port
        if row.baud_rate:
            extra["baudrate"] = str(row.baud_rate)
    else:
        address = row.phone_number
    return address, extra


def main_pools(
    connection: Connection, meter_ids: Iterable[int], pools: PoolTable
) -> dict[int, str]:
    """The pool of each meter's main path (``default`` for a meter without paths)."""
    paths = _table(CommunicationPath)
    devices = _table(CommunicationDevice)
    found: dict[int, tuple[int, str]] = {}
    wanted = list(meter_ids)
    for batch in chunks(wanted):
        rows = connection.execute(
            select(paths.c.meter_id, paths.c.priority, devices.c.id, devices.c.kind)
            .join(devices, devices.c.id == paths.c.device_id)
            .where(id_in(connection, paths.c.meter_id, batch))
        )
        for meter_id, priority, device_id, kind in rows:
            if meter_id not in found or priority < found[meter_id][0]:
                found[meter_id] = (priority, pools.key_for(device_id, kind))
    return {meter_id: found.get(meter_id, (0, DEFAULT_POOL))[1] for meter_id in wanted}


def load_plans(
    connection: Connection, meter_ids: Iterable[int], pools: PoolTable
) -> dict[int, MeterPlan]:
    """Plans of the meters ``meter_ids`` that exist (missing ids are left out)."""
    wanted = sorted(set(meter_ids))
    plans: dict[int, MeterPlan] = {}
    meters = _table(Meter)
    paths = _table(CommunicationPath)
    devices = _table(CommunicationDevice)
    assignments = _table(MeterAssignment)
    channels = _table(Channel)
    states = _table(SessionState)
    reads = _table(LastRead)
    for batch in chunks(wanted):
        for row in connection.execute(select(meters).where(id_in(connection, meters.c.id, batch))):
            plans[row.id] = MeterPlan(
                meter_id=row.id,
                manufacturer=row.manufacturer,
                serial=row.serial_number,
                driver=row.driver,
                enabled=bool(row.enabled),
                settings=_text_settings(row.driver_settings),
                credentials=row.credentials_encrypted,
                paths=[],
            )
        rows = connection.execute(
            select(
                paths,
                devices.c.kind,
                devices.c.host,
                devices.c.port,
                devices.c.serial_port,
                devices.c.baud_rate,
                devices.c.phone_number,
                devices.c.enabled.label("device_enabled"),
                devices.c.settings.label("device_settings"),
            )
            .join(devices, devices.c.id == paths.c.device_id)
            .where(id_in(connection, paths.c.meter_id, batch))
            .order_by(paths.c.meter_id, paths.c.priority)
        )
        for row in rows:
            plan = plans.get(row.meter_id)
            if plan is None or not row.device_enabled:
                continue
            address, extra = _device_address(row.kind, row)
            settings = {
                **_text_settings(row.device_settings),
                **extra,
                **_text_settings(row.settings),
            }
            plan.paths.append(
                PathPlan(
                    path_id=row.id,
                    priority=row.priority,
                    device_id=row.device_id,
                    medium=_MEDIUM[row.kind],
                    address=row.address or address,
                    settings=settings,
                    pool=pools.key_for(row.device_id, row.kind),
                )
            )
        vm_of_meter: dict[int, list[int]] = {}
        rows = connection.execute(
            select(assignments)
            .where(id_in(connection, assignments.c.meter_id, batch))
            .order_by(assignments.c.valid_from)
        )
        for row in rows:
            plan = plans.get(row.meter_id)
            if plan is None:
                continue
            plan.assignments.append(
                (row.virtual_meter_id, _seconds(row.valid_from) or 0, _seconds(row.valid_to))
            )
            vm_of_meter.setdefault(row.virtual_meter_id, []).append(row.meter_id)
        for vm_batch in chunks(sorted(vm_of_meter)):
            rows = connection.execute(
                select(channels).where(
                    id_in(connection, channels.c.virtual_meter_id, vm_batch),
                    channels.c.enabled.is_(True),
                )
            )
            for row in rows:
                ref = ChannelRef(
                    channel_id=row.id,
                    virtual_meter_id=row.virtual_meter_id,
                    kind=row.kind,
                    obis=row.obis,
                    interval_minutes=row.interval_minutes,
                    unit=row.unit,
                    scaler=row.scaler,
                )
                for meter_id in vm_of_meter[row.virtual_meter_id]:
                    plans[meter_id].channels.setdefault((row.kind, row.obis), []).append(ref)
        for row in connection.execute(
            select(states).where(id_in(connection, states.c.meter_id, batch))
        ):
            plan = plans.get(row.meter_id)
            if plan is not None:
                plan.state[row.name] = row.value
                if row.reserved_to is not None:
                    plan.counters[row.name] = [int(row.value), int(row.reserved_to)]
        for row in connection.execute(
            select(reads).where(id_in(connection, reads.c.meter_id, batch))
        ):
            plan = plans.get(row.meter_id)
            if plan is not None:
                read_to = row.read_to
                plan.last_reads[row.action] = (
                    read_to if read_to.tzinfo is not None else read_to.replace(tzinfo=UTC)
                )
    return plans
