"""Running calculations: read the inputs, compute the formula, store the target channel.

:class:`CalculationEngine` computes a calculated channel over a period and writes it like
measured values: a profile target as a new normalized version (``kind="calculated"``, which
fires ``readings_stored`` so calculations that depend on it run next), a monthly target as
register readings at each local month's start. The change's reason names the calculation and
its version, the comment its inputs. :meth:`CalculationEngine.after_change` is what the hooks
call when inputs were stored or edited: it finds the calculations that depend on those
channels and runs them over the changed period, widened to their aggregation periods.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from meterhub.calculations.evaluate import evaluate
from meterhub.calculations.graph import dependents_in_order
from meterhub.calculations.parser import CompiledFormula, Functions, compile_formula
from meterhub.errors import InvalidValue, NotFound
from meterhub.model.calculations import CalculationDefinition
from meterhub.timeseries import MeterDataStore, WriteReport
from meterhub.timeseries.timegrid import US_PER_MINUTE, resolve_tz, to_tick

__all__ = ["CalculationEngine", "CalculationRun"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CalculationRun:
    """What one calculation run wrote."""

    name: str
    target_channel_id: int
    start: datetime
    end: datetime
    values: int
    versions: int


@dataclass(frozen=True)
class _Definition:
    id: int
    name: str
    version: int
    target: int
    formula: str
    tz: str
    inputs: dict[str, int]


def _floor_level(moment: datetime, level: str, interval: int, zone: tzinfo) -> datetime:
    if level == "base" or level == "hour":
        minutes = interval if level == "base" else 60
        tick = to_tick(moment, UTC, "start")
        step = minutes * US_PER_MINUTE
        return datetime.fromtimestamp((tick - tick % step) / 1_000_000, UTC)
    local = moment.astimezone(zone)
    if level == "day":
        return datetime(local.year, local.month, local.day, tzinfo=zone)
    return datetime(local.year, local.month, 1, tzinfo=zone)


def _ceil_level(moment: datetime, level: str, interval: int, zone: tzinfo) -> datetime:
    floor = _floor_level(moment, level, interval, zone)
    if floor == moment:
        return moment
    if level == "base":
        return floor + timedelta(minutes=interval)
    if level == "hour":
        return floor + timedelta(hours=1)
    if level == "day":
        local = (floor + timedelta(days=1, hours=2)).astimezone(zone)
        return datetime(local.year, local.month, local.day, tzinfo=zone)
    year, month = (floor.year + 1, 1) if floor.month == 12 else (floor.year, floor.month + 1)
    return datetime(year, month, 1, tzinfo=zone)


class CalculationEngine:
    """Runs calculated channels on one store (see the module docstring)."""

    def __init__(
        self,
        store: MeterDataStore,
        sessions: sessionmaker[Session],
        functions: Functions,
        *,
        user: str = "calculation",
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.sessions = sessions
        self.functions = functions
        self.user = user
        self.clock = clock or (lambda: datetime.now(UTC))

    def _definitions(self, session: Session, *, name: str | int | None = None) -> list[_Definition]:
        query = select(CalculationDefinition).options(selectinload(CalculationDefinition.inputs))
        if name is not None:
            query = query.where(
                CalculationDefinition.id == name
                if isinstance(name, int)
                else CalculationDefinition.name == name
            )
        else:
            query = query.where(CalculationDefinition.enabled.is_(True))
        return [
            _Definition(
                row.id,
                row.name,
                row.version,
                row.target_channel_id,
                row.formula,
                row.tz,
                {item.alias: item.channel_id for item in row.inputs},
            )
            for row in session.scalars(query)
        ]

    def compile(self, definition: _Definition) -> CompiledFormula:
        """The definition's formula, compiled."""
        return compile_formula(definition.formula, set(definition.inputs), self.functions)

    def run(
        self, name: str | int, start: datetime, end: datetime, *, user: str | None = None
    ) -> CalculationRun:
        """Compute calculation ``name`` over ``[start, end)`` (widened to whole periods of its
        result) and store it."""
        with self.sessions() as session:
            found = self._definitions(session, name=name)
        if not found:
            raise NotFound(f"no calculation {name!r}")
        return self._run(found[0], start, end, user or self.user)

    def after_change(
        self, channel_ids: Iterable[int], start: datetime, end: datetime
    ) -> list[CalculationRun]:
        """Run every calculation that depends on ``channel_ids`` over the changed period, in
        dependency order (a target computed here is input to the ones after it)."""
        with self.sessions() as session:
            definitions = self._definitions(session)
        if not definitions:
            return []
        by_target = {d.target: d for d in definitions}
        edges = {d.target: list(d.inputs.values()) for d in definitions}
        order = dependents_in_order(edges, set(channel_ids))
        done = []
        for target in order:
            definition = by_target[target]
            try:
                done.append(self._run(definition, start, end, self.user))
            except Exception:
                log.exception("calculation %s failed after a change of its inputs", definition.name)
        return done

    def _run(
        self, definition: _Definition, start: datetime, end: datetime, user: str
    ) -> CalculationRun:
        formula = self.compile(definition)
        zone = resolve_tz(definition.tz)
        ids = [definition.inputs[alias] for alias in sorted(formula.inputs)]
        infos = self.store.channel_info(ids)
        interval = infos[0].interval_minutes
        level = formula.level
        first = _floor_level(start, level, interval, zone)
        last = _ceil_level(end, level, interval, zone)
        if last <= first:
            raise InvalidValue("end", "the period must end after it starts")
        begin = first - timedelta(minutes=interval * formula.lookback)
        data = self.store.read_intervals(ids, begin, last, tz=zone)
        inputs = {
            alias: (data.values[i], data.flags[i]) for i, alias in enumerate(sorted(formula.inputs))
        }
        begin_tick = to_tick(begin, UTC, "start")
        result = evaluate(
            formula, inputs, start_tick=begin_tick, interval_minutes=interval, zone=zone
        )
        values, flags = result.values, result.flags
        if level == "base" and formula.lookback:
            values, flags = values[formula.lookback :], flags[formula.lookback :]
        reason = f"calculation {definition.name} v{definition.version}"[:100]
        comment = "inputs: " + ", ".join(f"{a}={c}" for a, c in sorted(definition.inputs.items()))
        target = definition.target
        if level == "month":
            report = self._write_months(target, result.keys, values, user, reason, comment, zone)
        else:
            present = ~np.isnan(values)
            if not present.any():
                return CalculationRun(definition.name, target, first, last, 0, 0)
            report = self.store.write_normalized(
                [target],
                first,
                values.reshape(1, -1),
                flags.reshape(1, -1),
                tz=zone,
                user=user,
                reason=reason,
                comment=comment,
                kind="calculated",
                empty_ok=True,
            )
        return CalculationRun(
            definition.name,
            target,
            first,
            last,
            int((~np.isnan(values)).sum()),
            report.normalized_versions,
        )

    def _write_months(
        self,
        target: int,
        months: np.ndarray,
        values: np.ndarray,
        user: str,
        reason: str,
        comment: str,
        zone: tzinfo,
    ) -> WriteReport:
        """Monthly totals as register readings at each local month's start."""
        present = ~np.isnan(values)
        if not present.any():
            return WriteReport()
        stamps = []
        for number in months[present].tolist():
            year, month = divmod(int(number), 12)
            stamps.append(datetime(1970 + year, month + 1, 1, tzinfo=zone))
        numbers = values[present]
        stored = self.store.read_registers([target], stamps[0], stamps[-1] + timedelta(days=1))
        known = {int(t) for t in stored.times.astype("datetime64[us]").astype(np.int64).tolist()}
        ticks = [to_tick(s, UTC, "times") for s in stamps]
        new = [i for i, t in enumerate(ticks) if t not in known]
        old = [i for i, t in enumerate(ticks) if t in known]
        report = WriteReport()
        if new:
            report = self.store.write_registers(
                [target] * len(new),
                [stamps[i] for i in new],
                numbers[new],
                user=user,
                reason=reason,
                comment=comment,
            )
        if old:
            report = self.store.write_register_normalized(
                [target] * len(old),
                [stamps[i] for i in old],
                numbers[old],
                user=user,
                reason=reason,
                comment=comment,
            )
        return report
