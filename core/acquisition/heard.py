"""Meters heard on air: what the telegram stream heard, recorded, and the list of it.

**Written** by the telegram stream (:mod:`meterhub.acquisition.telegrams`): per batch of
telegrams one :class:`HeardTelegrams` per sender (its address, how many telegrams, the first
and latest time, what came of the latest), carried to the engine's writer on a
:class:`~meterhub.acquisition.results.SessionResult` (``heard``) and added by
:func:`record_heard` to the rows of ``acq_heard_meter``
(:class:`meterhub.model.heard.HeardMeter`) in the same transaction as the batch's values:
``INSERT … ON CONFLICT DO UPDATE`` on SQLite and PostgreSQL (the telegrams added up, the
earliest first time kept, the latest telegram's time, status, receiver and signal strength
taken), a read-modify-write elsewhere. Rows go in key order, so writers of several processes
lock them in the same order.

**Read** with :func:`list_heard`: every sender heard, most recent first, each with the meter
of the inventory it names (a meter of the same driver whose serial number is
``"<manufacturer> <identification>"`` or the identification alone, as the stream finds it), or
only those the inventory lacks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, case, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from meterhub.acquisition.tables import table_of
from meterhub.extensions.push import PushMessage
from meterhub.model.heard import HEARD_STATUSES, HeardMeter
from meterhub.model.meters import Meter

__all__ = ["HeardRow", "HeardTelegrams", "heard_from", "list_heard", "record_heard"]

HEARD = table_of(HeardMeter)

_KEY = ("driver", "address")
#: Taken from the latest telegram.
_LATEST = ("manufacturer", "identification", "version", "device_type", "medium",
           "last_heard", "last_status", "source", "rssi")  # fmt: skip
_COLUMNS = (*_KEY, *_LATEST, "first_heard", "telegrams")


@dataclass
class HeardTelegrams:
    """One sender's telegrams of a batch (columns of :class:`~meterhub.model.heard.HeardMeter`)."""

    driver: str
    address: str
    identification: str
    first_heard: datetime
    last_heard: datetime
    last_status: str
    telegrams: int = 1
    manufacturer: str | None = None
    version: int | None = None
    device_type: int | None = None
    medium: str | None = None
    source: str | None = None
    rssi: float | None = None

    def add(self, other: HeardTelegrams) -> None:
        """Count ``other``'s telegrams in; the later one's status, receiver and signal win."""
        self.telegrams += other.telegrams
        self.first_heard = min(self.first_heard, other.first_heard)
        if other.last_heard >= self.last_heard:
            for name in _LATEST:
                setattr(self, name, getattr(other, name))

    def row(self) -> dict[str, Any]:
        """The values of the table's columns."""
        return {name: getattr(self, name) for name in _COLUMNS}


def _number(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def heard_from(
    message: PushMessage, driver: str, source: str | None, status: str
) -> HeardTelegrams:
    """The record of one telegram (its :attr:`~PushMessage.sender`, else its identities)."""
    if status not in HEARD_STATUSES:
        raise ValueError(f"not a heard status: {status!r}")
    sender: Mapping[str, Any] = message.sender
    identities = message.identities
    identification = str(sender.get("identification") or (identities[-1] if identities else "?"))
    rssi = sender.get("rssi")
    return HeardTelegrams(
        driver=driver,
        address=str(sender.get("address") or (identities[0] if identities else identification))[
            :64
        ],
        identification=identification[:32],
        first_heard=message.received,
        last_heard=message.received,
        last_status=status,
        manufacturer=(str(sender["manufacturer"])[:16] if sender.get("manufacturer") else None),
        version=_number(sender.get("version")),
        device_type=_number(sender.get("device_type")),
        medium=str(sender["medium"])[:32] if sender.get("medium") else None,
        source=source[:200] if source else None,
        rssi=float(rssi) if isinstance(rssi, int | float) else None,
    )


def _upsert(insert_of: Any) -> Any:
    statement = insert_of(HEARD).values({name: bindparam(name) for name in _COLUMNS})
    excluded = statement.excluded
    newer = excluded.last_heard >= HEARD.c.last_heard
    values: dict[str, Any] = {
        "telegrams": HEARD.c.telegrams + excluded.telegrams,
        "first_heard": case(
            (excluded.first_heard < HEARD.c.first_heard, excluded.first_heard),
            else_=HEARD.c.first_heard,
        ),
    }
    # the latest time last: the comparisons above read the row as it was
    for name in _LATEST:
        values[name] = case((newer, excluded[name]), else_=HEARD.c[name])
    return statement.on_conflict_do_update(
        index_elements=[HEARD.c[name] for name in _KEY], set_=values
    )


_UPSERT: dict[str, Any] = {
    "sqlite": _upsert(sqlite_insert),
    "postgresql": _upsert(postgresql_insert),
}


def record_heard(connection: Connection, heard: Iterable[HeardTelegrams]) -> int:
    """Add ``heard`` to the table (inside the caller's transaction); the rows written."""
    merged: dict[tuple[str, str], HeardTelegrams] = {}
    for item in heard:
        key = (item.driver, item.address)
        known = merged.get(key)
        if known is None:
            merged[key] = HeardTelegrams(**item.row())
        else:
            known.add(item)
    if not merged:
        return 0
    rows = [merged[key].row() for key in sorted(merged)]
    upsert = _UPSERT.get(connection.dialect.name)
    if upsert is not None:
        connection.execute(upsert, rows)
    else:
        _read_modify_write(connection, rows)
    return len(rows)


def _read_modify_write(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """The upsert where the dialect has none: lock the row, add to it, or insert it."""
    for row in rows:
        found = connection.execute(
            select(HEARD)
            .where(HEARD.c.driver == row["driver"], HEARD.c.address == row["address"])
            .with_for_update()
        ).first()
        if found is None:
            connection.execute(insert(HEARD).values(row))
            continue
        was = HeardTelegrams(**{name: getattr(found, name) for name in _COLUMNS})
        was.add(HeardTelegrams(**row))
        connection.execute(
            update(HEARD)
            .where(HEARD.c.driver == row["driver"], HEARD.c.address == row["address"])
            .values(was.row())
        )


@dataclass(frozen=True)
class HeardRow:
    """A sender heard (:class:`~meterhub.model.heard.HeardMeter`) and the meter it names."""

    driver: str
    address: str
    manufacturer: str | None
    identification: str
    version: int | None
    device_type: int | None
    medium: str | None
    first_heard: datetime
    last_heard: datetime
    telegrams: int
    last_status: str
    source: str | None
    rssi: float | None
    #: The inventory's meter (its id) the sender names, ``None`` when the inventory lacks it.
    meter_id: int | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (times as ISO 8601)."""
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        values["first_heard"] = self.first_heard.isoformat()
        values["last_heard"] = self.last_heard.isoformat()
        values["in_inventory"] = self.meter_id is not None
        return values


def list_heard(
    session: Session,
    *,
    driver: str | None = None,
    unknown_only: bool = False,
    address: str | None = None,
) -> list[HeardRow]:
    """The senders heard, most recent first, each with the meter it names (see the module
    docstring); ``unknown_only``: those the inventory lacks; ``address``: that one only
    (its address, or its identification)."""
    query = select(HeardMeter).order_by(HeardMeter.last_heard.desc(), HeardMeter.address)
    if driver is not None:
        query = query.where(HeardMeter.driver == driver)
    if address is not None:
        query = query.where(
            (HeardMeter.address == address) | (HeardMeter.identification == address)
        )
    heard = list(session.scalars(query))
    serials: dict[tuple[str, str], int] = {}
    drivers = {h.driver for h in heard}
    if drivers:
        for number, meter_driver, serial in session.execute(
            select(Meter.id, Meter.driver, Meter.serial_number).where(Meter.driver.in_(drivers))
        ):
            serials[(str(meter_driver), str(serial))] = int(number)
    rows: list[HeardRow] = []
    for h in heard:
        names = [h.identification]
        if h.manufacturer:
            names.insert(0, f"{h.manufacturer} {h.identification}")
        meter_id: int | None = next(
            (serials[(h.driver, n)] for n in names if (h.driver, n) in serials), None
        )
        if unknown_only and meter_id is not None:
            continue
        rows.append(
            HeardRow(
                h.driver, h.address, h.manufacturer, h.identification, h.version, h.device_type,
                h.medium, h.first_heard, h.last_heard, h.telegrams, h.last_status, h.source,
                h.rssi, meter_id,
            )
        )  # fmt: skip
    return rows
