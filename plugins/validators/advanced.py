"""The advanced checks (feature ``advanced-validation``): gaps and interval counts, meter status
bits, spikes, zero and flat-line runs, high/low against like days, register rollback, main/check
and hierarchical comparison, register comparison, meter clock deviation; and the register
construction calculation (registers computed from an initial reading and the load profile).

Each check is a :class:`~meterhub.extensions.validator.Validator` with a parameter model; the
array work is in :mod:`meterhub.extensions.veekit`. The checks that read register channels
and register construction live in :mod:`~meterhub.plugins.validators.registers`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from pydantic import Field, field_validator

from meterhub import hookimpl
from meterhub.extensions.calculation import Calculation
from meterhub.extensions.series import IntervalBlock
from meterhub.extensions.validator import Validator
from meterhub.extensions.veecontext import (
    EMPTY_CONTEXT,
    BlockRows,
    RowsVerdict,
    VeeContext,
    VeeParameters,
    Verdict,
)
from meterhub.extensions.veekit import (
    beyond_tolerance,
    like_day_outside,
    runs_at_least,
    spikes,
    status_hits,
    status_mask,
)
from meterhub.extensions.veekit.status import DEFAULT_SUSPECT_BITS
from meterhub.plugins.validators.registers import (
    ChannelRef,
    ClockDeviationCheck,
    RegisterComparison,
    RegisterConstruction,
    RegisterRollbackCheck,
)

__all__ = ["AdvancedChecksPlugin"]

#: Flags that keep a value from serving as a reference (suspect or estimated).
_NOT_A_REFERENCE = np.uint32((1 << 9) | (1 << 10))


def _messages(found: np.ndarray, message: str) -> list[str]:
    return [message if hit else "" for hit in found.any(axis=1).tolist()]


@lru_cache(maxsize=4096)
def _date_label(day: int) -> str:
    """The ISO date of a day number (days since 1970-01-01)."""
    return str(np.datetime64(day, "D"))


def _gap_message(missing: np.ndarray, days: np.ndarray | None, min_count: float) -> str:
    count = int(missing.sum())
    if not count:
        return ""
    message = f"{count} missing intervals"
    if days is not None:
        first = int(days[0])
        expected = np.bincount(days - first)
        present = np.bincount(days - first, weights=~missing)
        short = np.flatnonzero(present < expected * min_count)
        if short.size:
            shown = ", ".join(
                f"{np.datetime64(first + int(d), 'D')}: {int(present[d])} of {int(expected[d])}"
                for d in short[:3]
            )
            message += f"; interval count short on {short.size} days ({shown})"
    return message


class GapParameters(VeeParameters):
    """Parameters of :class:`GapsCheck`."""

    min_count: float = Field(
        1.0, gt=0, le=1, description="share of a local day's intervals that must be present"
    )


class GapsCheck(Validator):
    """Missing intervals, and local days with fewer intervals than they have (92/96/100
    quarter-hours on DST days: the calendar counts them)."""

    name = "gaps"
    description = "Missing intervals and interval count per local day (DST aware)"
    parameters = GapParameters
    needs = frozenset({"calendar"})

    def validate(
        self, block: IntervalBlock, parameters: Any, context: VeeContext = EMPTY_CONTEXT
    ) -> Verdict:
        """Report the missing slots (to estimate) and the days short of intervals."""
        missing = np.isnan(block.values)
        calendar = context.calendar
        days = None if calendar is None else calendar.day[-len(block) :]
        message = _gap_message(missing, days, parameters.min_count)
        return Verdict(np.zeros(len(block), dtype=bool), message, missing)

    def validate_rows(self, rows: BlockRows, parameters: Any) -> RowsVerdict:
        """The same over a batch (one message per row with gaps)."""
        missing = np.isnan(rows.values)
        slots = missing.shape[1]
        at = np.flatnonzero(missing)  # gaps are few: count them where they are
        row_of = at // slots
        counts = np.bincount(row_of, minlength=rows.rows)
        messages = [f"{c} missing intervals" if c else "" for c in counts.tolist()]
        if rows.calendar is not None and at.size:
            days = rows.calendar.day[-slots:]
            starts = np.concatenate([[0], np.flatnonzero(np.diff(days)) + 1])
            expected = np.diff(np.concatenate([starts, [days.size]]))
            day_of = np.repeat(np.arange(starts.size), expected)
            absent = np.bincount(
                row_of * starts.size + day_of[at - row_of * slots],
                minlength=rows.rows * starts.size,
            ).reshape(rows.rows, starts.size)
            present = expected - absent
            short = present < expected * parameters.min_count
            which_rows, which_days = np.nonzero(short)  # row by row
            if which_rows.size:
                firsts = np.flatnonzero(np.diff(which_rows, prepend=-1))
                counts = np.diff(np.append(firsts, which_rows.size))
                # the (at most three) days a row's message names, as text
                named = (np.arange(which_rows.size) - np.repeat(firsts, counts)) < 3
                short_rows, short_days = which_rows[named], which_days[named]
                shown = [
                    f"{_date_label(day)}: {have} of {want}"
                    for day, have, want in zip(
                        days[starts[short_days]].tolist(),
                        present[short_rows, short_days].tolist(),
                        expected[short_days].tolist(),
                        strict=True,
                    )
                ]
                at = 0
                for r, count in zip(which_rows[firsts].tolist(), counts.tolist(), strict=True):
                    listed = ", ".join(shown[at : at + min(count, 3)])
                    at += min(count, 3)
                    messages[r] += f"; interval count short on {count} days ({listed})"
        return RowsVerdict(np.zeros(missing.shape, dtype=bool), messages, missing)


class StatusParameters(VeeParameters):
    """Parameters of :class:`StatusBitsCheck`."""

    bits: tuple[str, ...] = Field(DEFAULT_SUSPECT_BITS, description="status bits that fail")

    @field_validator("bits", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("bits")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        status_mask(value)
        return value


class StatusBitsCheck(Validator):
    """Values whose meter status has a failing bit (power down, clock adjusted, ...)."""

    name = "status_bits"
    description = "Meter status bits: power failure, clock adjusted, data not valid, ..."
    parameters = StatusParameters

    def validate(
        self, block: IntervalBlock, parameters: Any, context: VeeContext = EMPTY_CONTEXT
    ) -> Verdict:
        """Mark the values whose status has one of the bits."""
        hits = status_hits(block.flags, status_mask(parameters.bits))
        return Verdict(hits, f"status bit set ({', '.join(parameters.bits)})")

    def validate_rows(self, rows: BlockRows, parameters: Any) -> RowsVerdict:
        """The same over a batch."""
        hits = status_hits(rows.flags, status_mask(parameters.bits))
        return RowsVerdict(hits, _messages(hits, f"status bit set ({', '.join(parameters.bits)})"))


class SpikeParameters(VeeParameters):
    """Parameters of :class:`SpikeCheck`."""

    factor: float = Field(3.0, ge=1, description="times the larger neighbour")
    min_delta: float = Field(0.0, ge=0, description="at least this much above it")


class SpikeCheck(Validator):
    """Values far above both neighbours."""

    name = "spike"
    description = "Spikes against the neighbouring values"
    parameters = SpikeParameters

    def validate(
        self, block: IntervalBlock, parameters: Any, context: VeeContext = EMPTY_CONTEXT
    ) -> Verdict:
        """Mark the spikes."""
        hits = spikes(block.values, parameters.factor, parameters.min_delta)
        return Verdict(hits, f"spike above {parameters.factor:g}× its neighbours")

    def validate_rows(self, rows: BlockRows, parameters: Any) -> RowsVerdict:
        """The same over a batch."""
        hits = spikes(rows.values, parameters.factor, parameters.min_delta)
        return RowsVerdict(
            hits, _messages(hits, f"spike above {parameters.factor:g}× its neighbours")
        )


class RunParameters(VeeParameters):
    """Parameters of the zero and flat-line runs."""

    intervals: int = Field(8, ge=2, le=100_000, description="shortest suspect run")
    outage_bits: tuple[str, ...] = Field(
        ("power_down",), description="status bits that explain a run (an outage)"
    )

    @field_validator("outage_bits", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("outage_bits")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        status_mask(value, "parameters.outage_bits")
        return value


class ZeroRunCheck(Validator):
    """Zero consumption over at least ``intervals`` intervals, unless the meter reported an
    outage (a status bit of ``outage_bits``) during the run."""

    name = "zero_run"
    description = "Zero consumption over N intervals (outage aware)"
    parameters = RunParameters

    def validate(
        self, block: IntervalBlock, parameters: Any, context: VeeContext = EMPTY_CONTEXT
    ) -> Verdict:
        """Mark the long runs of zeros."""
        outage = status_hits(block.flags, status_mask(parameters.outage_bits))
        hits = runs_at_least(block.values == 0.0, parameters.intervals, outage)
        return Verdict(hits, f"zero for at least {parameters.intervals} intervals")

    def validate_rows(self, rows: BlockRows, parameters: Any) -> RowsVerdict:
        """The same over a batch."""
        zero = rows.values == 0.0
        if not zero.any():  # nothing to look for (the usual case): no status words to read
            return RowsVerdict(zero, [""] * rows.rows)
        outage = status_hits(rows.flags, status_mask(parameters.outage_bits))
        hits = runs_at_least(zero, parameters.intervals, outage)
        return RowsVerdict(
            hits, _messages(hits, f"zero for at least {parameters.intervals} intervals")
        )


class FlatLineCheck(Validator):
    """The same non-zero value over at least ``intervals`` intervals (a stuck meter)."""

    name = "flat_line"
    description = "The same value over N intervals (outage aware)"
    parameters = RunParameters

    def validate(
        self, block: IntervalBlock, parameters: Any, context: VeeContext = EMPTY_CONTEXT
    ) -> Verdict:
        """Mark the long runs of one repeated value."""
        values = block.values
        same = np.zeros(values.size, dtype=bool)
        if values.size > 1:
            equal = (values[1:] == values[:-1]) & (values[1:] != 0.0)
            same[1:] = equal
            same[:-1] |= equal
        outage = status_hits(block.flags, status_mask(parameters.outage_bits))
        hits = runs_at_least(same, parameters.intervals, outage)
        return Verdict(hits, f"the same value for at least {parameters.intervals} intervals")


class LikeDayParameters(VeeParameters):
    """Parameters of :class:`LikeDayCheck`."""

    days: int = Field(3, ge=1, le=52, description="like days the reference averages")
    history_days: int = Field(28, ge=1, le=400, description="days of history to look in")
    high: float = Field(3.0, gt=1, description="suspect above high × reference")
    low: float = Field(0.0, ge=0, lt=1, description="suspect below low × reference (0: off)")
    min_reference: float = Field(0.0, ge=0, description="ignore references at or below this")


class LikeDayCheck(Validator):
    """Values high or low against the mean of the same time on earlier like days (day types
    from the profile's calendar: working days, Saturdays, Sundays/holidays, special days)."""

    name = "like_day"
    description = "High/low against the mean of like days (holidays and special days aware)"
    parameters = LikeDayParameters
    needs = frozenset({"history", "calendar"})

    def lookback_days(self, parameters: Any) -> int:
        """The days of history the reference needs."""
        return int(parameters.history_days)

    def validate(
        self, block: IntervalBlock, parameters: Any, context: VeeContext = EMPTY_CONTEXT
    ) -> Verdict:
        """Mark the values outside ``[low, high] × reference``."""
        calendar = context.calendar
        if calendar is None:
            return Verdict.passed(len(block))
        history = context.history
        values = block.values
        usable = np.where((block.flags & _NOT_A_REFERENCE) == 0, values, np.nan)
        if history is not None and len(history):
            past = np.where((history.flags & _NOT_A_REFERENCE) == 0, history.values, np.nan)
            usable = np.concatenate([past, usable])
        hits = like_day_outside(
            values,
            usable,
            calendar.day,
            calendar.day_type,
            calendar.minute,
            int(block.interval.total_seconds() // 60),
            parameters.days,
            parameters.high,
            parameters.low,
            parameters.min_reference,
        )
        return Verdict(hits, f"outside [{parameters.low:g}, {parameters.high:g}] × like days")

    def validate_rows(self, rows: BlockRows, parameters: Any) -> RowsVerdict | None:
        """The same over a batch sharing one calendar."""
        calendar = rows.calendar
        if calendar is None:
            return RowsVerdict(np.zeros(rows.values.shape, dtype=bool), [""] * rows.rows)
        values = rows.values
        excluded = status_hits(rows.flags, int(_NOT_A_REFERENCE))
        usable = np.where(excluded, np.nan, values) if excluded.any() else values
        if rows.history_values is not None and rows.history_values.shape[1]:
            assert rows.history_flags is not None
            past = np.where(
                (rows.history_flags & _NOT_A_REFERENCE) == 0, rows.history_values, np.nan
            )
            usable = np.concatenate([past, usable], axis=1)
        if usable.shape[1] != len(calendar):
            return None
        hits = like_day_outside(
            values,
            usable,
            calendar.day,
            calendar.day_type,
            calendar.minute,
            int(rows.interval.total_seconds() // 60),
            parameters.days,
            parameters.high,
            parameters.low,
            parameters.min_reference,
        )
        return RowsVerdict(
            hits, _messages(hits, f"outside [{parameters.low:g}, {parameters.high:g}] × like days")
        )


class CompareParameters(VeeParameters):
    """Parameters of :class:`MainCheckComparison`."""

    check_channel: ChannelRef = Field(description="the check meter's channel: id or OBIS")
    relative: float = Field(0.02, ge=0, description="allowed difference, share of the check value")
    absolute: float = Field(0.0, ge=0, description="allowed difference, absolute")


class MainCheckComparison(Validator):
    """Main meter against check meter, interval by interval, within a tolerance."""

    name = "main_check"
    description = "Main meter against check meter with tolerance"
    parameters = CompareParameters
    needs = frozenset({"related"})

    def related(self, parameters: Any) -> Mapping[str, int | str | Sequence[int]]:
        """The check meter's channel."""
        return {"check": parameters.check_channel}

    def validate(
        self, block: IntervalBlock, parameters: Any, context: VeeContext = EMPTY_CONTEXT
    ) -> Verdict:
        """Mark the intervals where main and check differ beyond the tolerance."""
        check = context.related.get("check")
        if check is None:
            return Verdict.passed(len(block))
        hits = beyond_tolerance(
            block.values, check.values, parameters.relative, parameters.absolute
        )
        return Verdict(hits, "main and check meter differ beyond the tolerance")


class HierarchyParameters(VeeParameters):
    """Parameters of :class:`HierarchyComparison`."""

    children: tuple[int, ...] = Field(min_length=1, description="ids of the child channels")
    relative: float = Field(0.02, ge=0, description="allowed difference, share of the parent")
    absolute: float = Field(0.0, ge=0, description="allowed difference, absolute")


class HierarchyComparison(Validator):
    """The parent's value against the sum of its children, within a tolerance (intervals
    where a child has no value are not judged)."""

    name = "hierarchy"
    description = "Sum of the children against the parent with tolerance"
    parameters = HierarchyParameters
    needs = frozenset({"children"})

    def related(self, parameters: Any) -> Mapping[str, int | str | Sequence[int]]:
        """The child channels."""
        return {"children": parameters.children}

    def validate(
        self, block: IntervalBlock, parameters: Any, context: VeeContext = EMPTY_CONTEXT
    ) -> Verdict:
        """Mark the intervals where the children do not add up to the parent."""
        if not context.children:
            return Verdict.passed(len(block))
        total = np.sum([child.values for child in context.children], axis=0)
        hits = beyond_tolerance(total, block.values, parameters.relative, parameters.absolute)
        return Verdict(hits, "the children do not add up to the parent")


class AdvancedChecksPlugin:
    """Contributes the advanced checks and register construction."""

    feature = "advanced-validation"

    @hookimpl(trylast=True)
    def register_validators(self) -> list[type[Validator]]:
        """The advanced checks."""
        return [
            GapsCheck,
            StatusBitsCheck,
            SpikeCheck,
            ZeroRunCheck,
            FlatLineCheck,
            LikeDayCheck,
            RegisterRollbackCheck,
            MainCheckComparison,
            HierarchyComparison,
            RegisterComparison,
            ClockDeviationCheck,
        ]

    @hookimpl(trylast=True)
    def register_calculations(self) -> list[type[Calculation]]:
        """Register construction."""
        return [RegisterConstruction]
