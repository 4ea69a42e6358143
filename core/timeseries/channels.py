"""Channels, units and formulas: what the store knows about a channel, and how it normalizes.

:class:`ChannelCache` reads the facts of a call's channels (interval, kind, unit, scaler) and
their formula in one query for all that are not cached, and keeps them per store.
:class:`ChannelSettings` holds the store's public methods that change units and formulas.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from sqlalchemy import column as col
from sqlalchemy import delete, insert, select, table, update

from meterhub.db import id_in
from meterhub.errors import InvalidValue
from meterhub.timeseries import inputs
from meterhub.timeseries import tables as t
from meterhub.timeseries.normalization import (
    Formula,
    Unit,
    UnitTable,
    channel_factor,
    check_formula,
)
from meterhub.timeseries.sql import IDS_PER_STATEMENT, channel
from meterhub.timeseries.timegrid import INTERVALS

if TYPE_CHECKING:
    from meterhub.timeseries.transaction import Transaction

T = TypeVar("T")

_group_member = table("meter_group_member", col("group_id"), col("virtual_meter_id"))


@dataclass(frozen=True)
class ChannelInfo:
    """What the store needs to know about one channel, with its normalization resolved."""

    id: int
    kind: str
    interval_minutes: int
    unit: str | None
    scaler: int
    formula: str | None
    factor: Fraction
    normalized_unit: str | None


class ChannelCache:
    """Channel facts by id and the units table, loaded on first use and kept until invalidated."""

    def __init__(self) -> None:
        self.channels: dict[int, ChannelInfo] = {}
        self.units: UnitTable | None = None

    def invalidate(self, channel_ids: Iterable[int] | None = None) -> None:
        """Forget the facts of ``channel_ids`` (all of them, and the units table, for ``None``)."""
        if channel_ids is None:
            self.channels.clear()
            self.units = None
            return
        for channel_id in channel_ids:
            self.channels.pop(int(channel_id), None)

    def cached(self, ids: np.ndarray) -> list[ChannelInfo] | None:
        """Facts of ``ids`` in their order when every one is cached, else ``None``."""
        cached = self.channels
        try:
            return [cached[i] for i in ids.tolist()]
        except KeyError:
            return None

    def infos(self, tx: Transaction, ids: np.ndarray) -> list[ChannelInfo]:
        """Facts of ``ids`` in their order; unknown ids are refused."""
        found = self.cached(ids)
        if found is not None:
            return found
        cached = self.channels
        wanted = ids.tolist()
        missing = sorted(set(wanted) - cached.keys())
        self._load(tx.conn, missing)
        unknown = [i for i in wanted if i not in cached]
        if unknown:
            shown = ", ".join(str(i) for i in unknown[:10])
            more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
            raise InvalidValue("channel_ids", f"unknown channel ids: {shown}{more}")
        return [cached[i] for i in wanted]

    def unit_table(self, conn: Any) -> UnitTable:
        """The units table (built-in units and the rows of ``ts_unit``)."""
        if self.units is None:
            rows = conn.execute(select(t.unit)).all()
            self.units = UnitTable(
                Unit(r.symbol, r.quantity, Fraction(r.factor_num, r.factor_den), r.rate_of)
                for r in rows
            )
        return self.units

    def _load(self, conn: Any, ids: list[int]) -> None:
        units = self.unit_table(conn)
        rows: list[Any] = []
        assigned: dict[int, int] = {}
        for i in range(0, len(ids), IDS_PER_STATEMENT):
            chunk = ids[i : i + IDS_PER_STATEMENT]
            rows += conn.execute(select(channel).where(id_in(conn, channel.c.id, chunk))).all()
            assigned.update(
                conn.execute(
                    select(t.channel_formula.c.channel_id, t.channel_formula.c.formula_id).where(
                        id_in(conn, t.channel_formula.c.channel_id, chunk)
                    )
                ).all()
            )
        meters = sorted({r.virtual_meter_id for r in rows if r.id not in assigned})
        by_meter: dict[int, int] = {}
        for i in range(0, len(meters), IDS_PER_STATEMENT):
            chunk = meters[i : i + IDS_PER_STATEMENT]
            found = conn.execute(
                select(_group_member.c.virtual_meter_id, t.group_formula.c.formula_id)
                .join(t.group_formula, t.group_formula.c.group_id == _group_member.c.group_id)
                .where(id_in(conn, _group_member.c.virtual_meter_id, chunk))
                .order_by(_group_member.c.virtual_meter_id, t.group_formula.c.group_id)
            ).all()
            for meter, formula_id in found:
                by_meter.setdefault(meter, formula_id)
        wanted = set(assigned.values()) | set(by_meter.values())
        formulas: dict[int, Formula] = {}
        if wanted:
            for r in conn.execute(select(t.formula).where(t.formula.c.id.in_(sorted(wanted)))):
                formulas[r.id] = formula_from_row(r)
        # channels of a fleet share a few (formula, unit, scaler, interval): each worked out once
        factors: dict[tuple[int | None, str | None, int, int], tuple[Fraction, str | None]] = {}
        for r in rows:
            formula_id = assigned.get(r.id, by_meter.get(r.virtual_meter_id))
            formula = formulas.get(formula_id) if formula_id is not None else None
            interval = int(r.interval_minutes or 0)
            scaler = int(r.scaler or 0)
            key = (formula_id if formula is not None else None, r.unit, scaler, interval)
            found = factors.get(key)
            if found is None:
                try:
                    found = factors[key] = channel_factor(
                        formula, unit=r.unit, scaler=scaler, interval_minutes=interval, units=units
                    )
                except InvalidValue as error:
                    raise InvalidValue(
                        "formula",
                        f"formula {formula.name if formula else None!r} cannot normalize channel "
                        f"{r.id}: {error.reason}",
                    ) from None
            factor, normalized_unit = found
            self.channels[r.id] = ChannelInfo(
                id=r.id,
                kind=r.kind,
                interval_minutes=interval,
                unit=r.unit,
                scaler=scaler,
                formula=formula.name if formula else None,
                factor=factor,
                normalized_unit=normalized_unit,
            )


def of_kind(infos: list[ChannelInfo], kind: str, what: str) -> None:
    """Refuse channels that are not of ``kind`` (``what`` names it: "a profile", ...)."""
    for info in infos:
        if info.kind != kind:
            raise InvalidValue(
                "channel_ids", f"channel {info.id} is a {info.kind} channel, not {what}"
            )


def profile_only(infos: list[ChannelInfo]) -> None:
    """Refuse channels that are not profiles of a known interval."""
    for info in infos:
        if info.kind != "profile" or info.interval_minutes not in INTERVALS:
            raise InvalidValue(
                "channel_ids", f"channel {info.id} is a {info.kind} channel, not a profile"
            )


def by_interval(infos: list[ChannelInfo]) -> list[tuple[int, np.ndarray]]:
    """Positions of the channels of each interval, by interval."""
    first = infos[0].interval_minutes
    if all(info.interval_minutes == first for info in infos):
        return [(first, np.arange(len(infos)))]
    intervals = np.array([info.interval_minutes for info in infos])
    return [(int(m), np.flatnonzero(intervals == m)) for m in np.unique(intervals)]


class ChannelSettings:
    """The store's methods for channel facts, units and formulas (a part of the facade)."""

    _channels: ChannelCache

    def _run(self, work: Callable[[Transaction], T], write: bool = True) -> T:
        raise NotImplementedError

    def invalidate_channels(self, channel_ids: Iterable[int] | None = None) -> None:
        """Forget cached channel facts (all, or of ``channel_ids``) and the units table."""
        self._channels.invalidate(channel_ids)

    def channel_info(self, channel_ids: Sequence[int] | np.ndarray) -> list[ChannelInfo]:
        """Facts of the channels ``channel_ids`` (one query for all that are not cached; no
        transaction when all are, as for the acquisition engine's plans thread warming them)."""
        ids = inputs.channel_ids(channel_ids, allow_duplicates=True)
        found = self._channels.cached(ids)
        if found is not None:
            return found
        return self._run(lambda tx: tx.infos(ids), write=False)

    def add_unit(self, unit: Unit) -> None:
        """Add or change a site-specific unit of the units table."""
        if not unit.symbol or not unit.quantity or unit.factor <= 0:
            raise InvalidValue("unit", "a unit needs a symbol, a quantity and a positive size")
        factor = Fraction(unit.factor)

        def work(tx: Transaction) -> None:
            tx.conn.execute(delete(t.unit).where(t.unit.c.symbol == unit.symbol))
            tx.conn.execute(
                insert(t.unit).values(
                    symbol=unit.symbol,
                    quantity=unit.quantity,
                    factor_num=factor.numerator,
                    factor_den=factor.denominator,
                    rate_of=unit.rate_of,
                )
            )
            tx.after_end(self._channels.invalidate)

        self._run(work)

    def define_formula(self, formula: Formula) -> int:
        """Create the formula ``formula.name`` or replace its settings; its id.

        Channels normalized by it use the new settings from the next write on; rebuild stored
        values with :meth:`recalculate`.
        """

        def work(tx: Transaction) -> int:
            check_formula(formula, self._channels.unit_table(tx.conn))
            values = _formula_row(formula)
            found = tx.conn.execute(
                select(t.formula.c.id).where(t.formula.c.name == formula.name)
            ).scalar()
            if found is None:
                found = tx.conn.execute(
                    insert(t.formula).values(**values).returning(t.formula.c.id)
                ).scalar_one()
            else:
                tx.conn.execute(update(t.formula).where(t.formula.c.id == found).values(**values))
            tx.after_end(self._channels.invalidate)
            return int(found)

        return self._run(work)

    def formula(self, name: str) -> Formula:
        """The formula called ``name``."""

        def work(tx: Transaction) -> Any:
            return tx.conn.execute(select(t.formula).where(t.formula.c.name == name)).first()

        row = self._run(work, write=False)
        if row is None:
            raise InvalidValue("formula", f"no formula called {name!r}")
        return formula_from_row(row)

    def assign_formula(self, name: str | None, channel_ids: Sequence[int] | np.ndarray) -> None:
        """Normalize ``channel_ids`` with formula ``name`` (``None``: the group's or none)."""
        ids = inputs.channel_ids(channel_ids)
        id_list = ids.tolist()

        def work(tx: Transaction) -> None:
            tx.infos(ids)
            formula_id = _formula_id(tx.conn, name)
            tx.after_end(lambda: self._channels.invalidate(id_list))
            tx.conn.execute(
                delete(t.channel_formula).where(t.channel_formula.c.channel_id.in_(id_list))
            )
            if formula_id is not None:
                tx.conn.execute(
                    insert(t.channel_formula),
                    [{"channel_id": i, "formula_id": formula_id} for i in id_list],
                )
            self._channels.invalidate(id_list)
            tx.infos(ids)  # the formula must apply to every channel

        self._run(work)

    def assign_group_formula(self, name: str | None, group_id: int) -> None:
        """Normalize every channel of the virtual meters of meter group ``group_id`` with ``name``.

        A channel's own formula (:meth:`assign_formula`) wins over its groups'; of several
        groups, the one with the lowest id wins.
        """

        def work(tx: Transaction) -> None:
            formula_id = _formula_id(tx.conn, name)
            tx.conn.execute(delete(t.group_formula).where(t.group_formula.c.group_id == group_id))
            if formula_id is not None:
                tx.conn.execute(
                    insert(t.group_formula).values(group_id=group_id, formula_id=formula_id)
                )
            tx.after_end(self._channels.invalidate)

        self._run(work)


def _formula_id(conn: Any, name: str | None) -> int | None:
    if name is None:
        return None
    found = conn.execute(select(t.formula.c.id).where(t.formula.c.name == name)).scalar()
    if found is None:
        raise InvalidValue("formula", f"no formula called {name!r}")
    return int(found)


def _formula_row(formula: Formula) -> dict[str, Any]:
    return {
        "name": formula.name,
        "target_unit": formula.target_unit,
        "source_unit": formula.source_unit,
        "apply_scaler": formula.apply_scaler,
        "ct_primary": None if formula.ct is None else float(formula.ct[0]),
        "ct_secondary": None if formula.ct is None else float(formula.ct[1]),
        "vt_primary": None if formula.vt is None else float(formula.vt[0]),
        "vt_secondary": None if formula.vt is None else float(formula.vt[1]),
        "pulse_constant": None if formula.pulse_constant is None else float(formula.pulse_constant),
        "pulse_unit": formula.pulse_unit,
        "demand_to_energy": formula.demand_to_energy,
    }


def formula_from_row(r: Any) -> Formula:
    """The :class:`Formula` of a ``ts_formula`` row."""
    return Formula(
        name=r.name,
        target_unit=r.target_unit,
        source_unit=r.source_unit,
        apply_scaler=bool(r.apply_scaler),
        ct=None if r.ct_primary is None else (r.ct_primary, r.ct_secondary),
        vt=None if r.vt_primary is None else (r.vt_primary, r.vt_secondary),
        pulse_constant=r.pulse_constant,
        pulse_unit=r.pulse_unit,
        demand_to_energy=bool(r.demand_to_energy),
    )
