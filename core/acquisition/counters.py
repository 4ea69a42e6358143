"""Session state and session counters, kept apart from the meters' settings.

A driver's :attr:`~meterhub.extensions.driver.DriverConnection.state` (after a session) is
stored in ``acq_session_state``, not in the meter's driver settings: a setting is changed by
people and audited, session state changes every session. The values are passed to the driver
as settings of the next session.

A setting the driver declares as a **session counter**
(:func:`meterhub.extensions.settings.session_counter`, the DLMS invocation counter) is never
used twice. Before a session the engine makes sure a block of counters is **reserved**: the row's
``reserved_to`` is raised and committed *before* the session starts, and the session starts at
the first counter not known to be used. After the session the counter the driver reports is
stored as the value. A task delivered again after a crash (the engine, the worker or the database
gone mid-session) reloads the row and starts at ``reserved_to``: every counter the lost session
may have sent lies below it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import Connection, Engine, and_, bindparam, insert, select, update

from meterhub.acquisition.plans import MeterPlan
from meterhub.acquisition.tables import table_of as _table
from meterhub.model.sessionstate import SessionState

__all__ = ["counter_start", "ensure_counters", "reserve_counters"]

_TABLE = _table(SessionState)


def counter_start(plan: MeterPlan, name: str, default: int) -> int:
    """Where a counter without a reservation starts: the stored value, the meter's setting or
    the driver's default."""
    for source in (plan.state, plan.settings):
        text = source.get(name)
        if text is not None:
            try:
                return int(str(text).strip(), 0)
            except ValueError:
                continue
    return default


def reserve_counters(
    connection: Connection,
    plans: Iterable[MeterPlan],
    counters: Mapping[str, Mapping[str, int]],
    block: int,
    now: datetime,
) -> None:
    """Reserve a block of every declared counter for ``plans`` (one transaction: the caller's).

    ``counters`` maps a driver name to its counters and their defaults. Each plan's
    :attr:`~MeterPlan.counters` becomes ``name -> [next, reserved_to]``.
    """
    wanted = [
        (plan, name, default)
        for plan in plans
        for name, default in counters.get(plan.driver, {}).items()
    ]
    if not wanted:
        return
    ids = sorted({plan.meter_id for plan, _, _ in wanted})
    rows = {
        (row.meter_id, row.name): row
        for row in connection.execute(
            select(_TABLE)
            .where(_TABLE.c.meter_id.in_(ids), _TABLE.c.name.in_({n for _, n, _ in wanted}))
            .with_for_update()
        )
    }
    updates, inserts = [], []
    for plan, name, default in wanted:
        row = rows.get((plan.meter_id, name))
        if row is not None:
            start = max(int(row.value), int(row.reserved_to or 0))
            updates.append({"m": plan.meter_id, "n": name, "r": start + block, "t": now})
        else:
            start = counter_start(plan, name, default)
            inserts.append(
                {
                    "meter_id": plan.meter_id,
                    "name": name,
                    "value": str(start),
                    "reserved_to": start + block,
                    "updated_at": now,
                }
            )
        plan.counters[name] = [start, start + block]
        plan.state[name] = str(start)
    if updates:
        connection.execute(
            update(_TABLE)
            .where(and_(_TABLE.c.meter_id == bindparam("m"), _TABLE.c.name == bindparam("n")))
            .values(reserved_to=bindparam("r"), updated_at=bindparam("t")),
            updates,
        )
    if inserts:
        connection.execute(insert(_TABLE), inserts)


def ensure_counters(engine: Engine, plan: MeterPlan, block: int, now: datetime) -> None:
    """Before a session: extend a reservation that has less than half a block left.

    The extension is committed before the function returns, so the session that follows stays
    inside what is reserved.
    """
    short = [
        name for name, (next_value, reserved_to) in plan.counters.items()
        if reserved_to - next_value < block // 2
    ]  # fmt: skip
    if not short:
        return
    with engine.begin() as connection:
        for name in short:
            row = connection.execute(
                select(_TABLE.c.value, _TABLE.c.reserved_to)
                .where(_TABLE.c.meter_id == plan.meter_id, _TABLE.c.name == name)
                .with_for_update()
            ).first()
            stored = int(row.reserved_to or 0) if row is not None else 0
            reserved_to = max(stored, plan.counters[name][1], plan.counters[name][0]) + block
            connection.execute(
                update(_TABLE)
                .where(_TABLE.c.meter_id == plan.meter_id, _TABLE.c.name == name)
                .values(reserved_to=reserved_to, updated_at=now)
            )
            plan.counters[name][1] = reserved_to
