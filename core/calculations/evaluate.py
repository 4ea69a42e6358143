"""Computing a compiled formula with numpy: whole arrays, aggregations by local calendar.

Every node yields a :class:`Column`: values, the flags it carries and, per value, the key of
its period (slot number at the base level; UTC hour, local date or local month number above).
An aggregation sums the values of each period; a period with a missing value is missing
(``NaN``), so an incomplete day never passes for a low one. Flags follow the values: a result
is ``SUSPECT`` or ``ESTIMATED`` when an input value it was computed from is, and ``VALIDATED``
only when all of them are; every result carries the method code ``CALCULATED``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

import numpy as np
import numpy.typing as npt

from meterhub.calculations.parser import CompiledFormula, Node
from meterhub.extensions.series import IntervalBlock
from meterhub.timeseries.flags import METHOD_SHIFT, EstimationMethod, Flag
from meterhub.timeseries.timegrid import US_PER_DAY, US_PER_HOUR, US_PER_MINUTE, local_offsets

__all__ = ["Column", "evaluate", "period_keys"]

_CARRIED = np.uint32(Flag.SUSPECT | Flag.ESTIMATED)
_VALIDATED = np.uint32(Flag.VALIDATED)
_CALCULATED = np.uint32(int(EstimationMethod.CALCULATED) << METHOD_SHIFT)


@dataclass(frozen=True, eq=False)
class Column:
    """Values of one node with their flags and period keys."""

    values: npt.NDArray[np.float64]
    flags: npt.NDArray[np.uint32]
    keys: npt.NDArray[np.int64]


def period_keys(ticks: npt.NDArray[np.int64], level: str, zone: tzinfo) -> npt.NDArray[np.int64]:
    """The period of each UTC tick: ``hour`` (UTC hours), ``day`` (local date number) or
    ``month`` (local year × 12 + month − 1)."""
    if level == "hour":
        return np.asarray(ticks // US_PER_HOUR, dtype=np.int64)
    local = ticks + local_offsets(ticks, zone)
    days = local // US_PER_DAY
    if level == "day":
        return np.asarray(days, dtype=np.int64)
    dates = days.astype("datetime64[D]")
    return np.asarray(dates.astype("datetime64[M]").astype(np.int64), dtype=np.int64)


def _combine_flags(a: Column, b: Column) -> npt.NDArray[np.uint32]:
    carried = (a.flags | b.flags) & _CARRIED
    validated = a.flags & b.flags & _VALIDATED
    return (carried | validated).astype(np.uint32)


def _const(node: Node, like: Column) -> Column:
    return Column(np.full(like.values.size, node.value), like.flags | _VALIDATED, like.keys)


def evaluate(
    formula: CompiledFormula,
    inputs: dict[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.uint32]]],
    *,
    start_tick: int,
    interval_minutes: int,
    zone: tzinfo = UTC,
) -> Column:
    """The formula's result over the base slots of ``inputs`` (alias → values, flags), which
    start at UTC tick ``start_tick``. The result's flags carry ``CALCULATED``."""
    first = next(iter(inputs.values()))[0]
    slots = first.size
    base_keys = np.arange(slots, dtype=np.int64)
    ticks = start_tick + interval_minutes * US_PER_MINUTE * base_keys

    def start_of(column: Column, level: str) -> datetime:
        if level == "base":
            tick = start_tick + interval_minutes * US_PER_MINUTE * int(column.keys[0])
        elif level == "hour":
            tick = int(column.keys[0]) * US_PER_HOUR
        else:
            tick = start_tick
        return datetime.fromtimestamp(tick / 1_000_000, UTC)

    def step_of(level: str) -> timedelta:
        return {
            "base": timedelta(minutes=interval_minutes),
            "hour": timedelta(hours=1),
            "day": timedelta(days=1),
            "month": timedelta(days=31),
        }[level]

    def run(node: Node) -> Column:
        if node.op == "input":
            values, flags = inputs[node.name]
            return Column(values, (flags & (_CARRIED | _VALIDATED)).astype(np.uint32), base_keys)
        if node.op == "const":
            return Column(
                np.full(slots, node.value), np.full(slots, _VALIDATED, np.uint32), base_keys
            )
        if node.op == "neg":
            child = run(node.children[0])
            return Column(-child.values, child.flags, child.keys)
        if node.op == "agg":
            child = run(node.children[0])
            below = node.children[0].level
            if below == "base":
                keys = period_keys(ticks, node.name, zone)
            elif below == "hour":
                keys = period_keys(child.keys * US_PER_HOUR, node.name, zone)
            else:  # local dates to local months
                keys = child.keys.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
            unique, index = np.unique(keys, return_index=True)
            sums = np.add.reduceat(child.values, index)
            carried = np.bitwise_or.reduceat(child.flags & _CARRIED, index)
            validated = np.bitwise_and.reduceat(child.flags & _VALIDATED, index)
            return Column(sums, (carried | validated).astype(np.uint32), unique.astype(np.int64))
        if node.op == "call":
            children = [run(child) for child in node.children]
            assert node.function is not None
            reference = children[0]
            names = node.function.inputs or tuple(str(i) for i in range(len(children)))
            blocks = {
                name: IntervalBlock(
                    start_of(child, node.level), step_of(node.level), child.values, child.flags
                )
                for name, child in zip(names, children, strict=True)
            }
            result = node.function.calculate(blocks, node.parameters)
            values = np.asarray(result.values, dtype=np.float64)
            if values.shape != reference.values.shape:
                raise ValueError(
                    f"function {node.name} returned {values.size} values, "
                    f"not {reference.values.size}"
                )
            flags = reference.flags
            for child in children[1:]:
                flags = _combine_flags(Column(values, flags, reference.keys), child)
            return Column(values, flags, reference.keys)
        a, b = (run(child) for child in node.children)
        if node.children[0].op == "const":
            a = _const(node.children[0], b)
        if node.children[1].op == "const":
            b = _const(node.children[1], a)
        with np.errstate(all="ignore"):
            if node.op == "+":
                values = a.values + b.values
            elif node.op == "-":
                values = a.values - b.values
            elif node.op == "*":
                values = a.values * b.values
            elif node.op == "/":
                values = np.where(b.values == 0, np.nan, a.values / b.values)
            else:
                compare = {
                    "<": np.less,
                    "<=": np.less_equal,
                    ">": np.greater,
                    ">=": np.greater_equal,
                    "==": np.equal,
                    "!=": np.not_equal,
                }[node.op]
                values = compare(a.values, b.values).astype(np.float64)
                values[np.isnan(a.values) | np.isnan(b.values)] = np.nan
        return Column(values, _combine_flags(a, b), a.keys)

    out = run(formula.root)
    values = np.where(np.isfinite(out.values), out.values, np.nan)
    flags = np.where(np.isnan(values), np.uint32(0), out.flags | _CALCULATED).astype(np.uint32)
    return Column(values, flags, out.keys)
