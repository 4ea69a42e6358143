"""The advanced checks that read register channels (part of the ``advanced-validation``
plugin, :class:`~meterhub.plugins.validators.advanced.AdvancedChecksPlugin`): register
rollback, the load profile against register differences, the meter clock's deviation; and the
register construction calculation (registers computed from an initial reading and the load
profile).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import Field

from meterhub.extensions.calculation import Calculation
from meterhub.extensions.series import IntervalBlock
from meterhub.extensions.validator import Validator
from meterhub.extensions.veecontext import EMPTY_CONTEXT, VeeContext, VeeParameters, Verdict
from meterhub.extensions.veekit import beyond_tolerance, register_spans

__all__ = [
    "ChannelRef",
    "ClockDeviationCheck",
    "RegisterComparison",
    "RegisterConstruction",
    "RegisterRollbackCheck",
]

#: A related channel in a parameter: its id, or an OBIS code on the same virtual meter.
ChannelRef = int | str


def _span_marks(length: int, first: np.ndarray, stop: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """Mark the slot ranges ``[first, stop)`` whose ``bad`` is set."""
    marks = np.zeros(length + 1, dtype=np.int64)
    if bad.any():
        np.add.at(marks, first[bad], 1)
        np.add.at(marks, stop[bad], -1)
    result: np.ndarray = np.cumsum(marks[:-1]) > 0
    return result


def _slot_starts(block: IntervalBlock) -> np.ndarray:
    origin = int(block.start.timestamp() * 1_000_000)
    step = int(block.interval.total_seconds() * 1_000_000)
    return origin + step * np.arange(len(block), dtype=np.int64)


def _register_ticks(context: VeeContext) -> tuple[np.ndarray, np.ndarray]:
    registers = context.registers
    if registers is None or registers.times.size == 0:
        return np.empty(0, dtype=np.int64), np.empty(0)
    ticks = registers.times.astype("datetime64[us]").astype(np.int64)
    return ticks, registers.values


class RollbackParameters(VeeParameters):
    """Parameters of :class:`RegisterRollbackCheck`."""

    register_channel: ChannelRef = Field(
        "1-0:1.8.0*255", description="register channel: id or OBIS"
    )
    rollover: float | None = Field(None, gt=0, description="the counter's wrap value, if any")


class RegisterRollbackCheck(Validator):
    """A register reading below the one before (a rollback); a wrap past ``rollover`` is not
    one. The intervals between the two readings are marked."""

    name = "register_rollback"
    description = "Register readings going backwards (rollback), counter wrap aware"
    parameters = RollbackParameters
    needs = frozenset({"registers"})

    def related(self, parameters: Any) -> Mapping[str, int | str | Sequence[int]]:
        """The register channel."""
        return {"registers": parameters.register_channel}

    def validate(
        self, block: IntervalBlock, parameters: Any, context: VeeContext = EMPTY_CONTEXT
    ) -> Verdict:
        """Mark the spans of decreasing readings."""
        ticks, values = _register_ticks(context)
        if values.size < 2:
            return Verdict.passed(len(block))
        step = np.diff(values)
        bad = step < 0
        if parameters.rollover is not None:
            bad &= ~(values[:-1] > parameters.rollover * 0.9)
        first, stop = register_spans(
            _slot_starts(block), int(block.interval.total_seconds() * 1e6), ticks
        )
        return Verdict(_span_marks(len(block), first, stop, bad), "register reading went backwards")


class RegisterCompareParameters(VeeParameters):
    """Parameters of :class:`RegisterComparison`."""

    register_channel: ChannelRef = Field(
        "1-0:1.8.0*255", description="register channel: id or OBIS"
    )
    factor: float = Field(1.0, gt=0, description="register units per profile unit")
    relative: float = Field(0.01, ge=0, description="allowed difference, share of the register")
    absolute: float = Field(0.0, ge=0, description="allowed difference, register units")


class RegisterComparison(Validator):
    """The sum of the load profile between two register readings against their difference."""

    name = "register_comparison"
    description = "Load profile sum between two register readings against their difference"
    parameters = RegisterCompareParameters
    needs = frozenset({"registers"})

    def related(self, parameters: Any) -> Mapping[str, int | str | Sequence[int]]:
        """The register channel."""
        return {"registers": parameters.register_channel}

    def validate(
        self, block: IntervalBlock, parameters: Any, context: VeeContext = EMPTY_CONTEXT
    ) -> Verdict:
        """Mark the spans whose profile sum misses the register difference."""
        ticks, values = _register_ticks(context)
        if values.size < 2:
            return Verdict.passed(len(block))
        first, stop = register_spans(
            _slot_starts(block), int(block.interval.total_seconds() * 1e6), ticks
        )
        sums = np.concatenate([[0.0], np.cumsum(np.nan_to_num(block.values))])
        missing = np.concatenate([[0], np.cumsum(np.isnan(block.values))])
        whole = (stop > first) & (missing[stop] - missing[first] == 0)
        profile = (sums[stop] - sums[first]) * parameters.factor
        bad = whole & beyond_tolerance(
            profile, np.diff(values), parameters.relative, parameters.absolute
        )
        return Verdict(
            _span_marks(len(block), first, stop, bad),
            "load profile sum differs from the register difference",
        )


class ClockParameters(VeeParameters):
    """Parameters of :class:`ClockDeviationCheck`."""

    clock_channel: ChannelRef = Field(
        "0-0:1.0.0*255", description="register channel of the clock deviation (seconds)"
    )
    max_seconds: float = Field(20.0, gt=0, description="largest tolerated deviation")


class ClockDeviationCheck(Validator):
    """The meter clock's deviation, as read with each acquisition (a register channel of the
    clock, in seconds, meter minus system time): the intervals before a reading that deviated
    more than ``max_seconds`` are marked."""

    name = "clock_deviation"
    description = "Meter clock deviation beyond a tolerance"
    parameters = ClockParameters
    needs = frozenset({"registers"})

    def related(self, parameters: Any) -> Mapping[str, int | str | Sequence[int]]:
        """The clock channel."""
        return {"registers": parameters.clock_channel}

    def validate(
        self, block: IntervalBlock, parameters: Any, context: VeeContext = EMPTY_CONTEXT
    ) -> Verdict:
        """Mark the intervals measured with a deviating clock."""
        ticks, values = _register_ticks(context)
        if values.size == 0:
            return Verdict.passed(len(block))
        start = int(block.start.timestamp() * 1_000_000)
        ticks = np.concatenate([[start], ticks])
        first, stop = register_spans(
            _slot_starts(block), int(block.interval.total_seconds() * 1e6), ticks
        )
        bad = np.abs(values) > parameters.max_seconds
        return Verdict(
            _span_marks(len(block), first, stop, bad),
            f"meter clock off by more than {parameters.max_seconds:g} s",
        )


class RegisterConstructionParameters(VeeParameters):
    """Parameters of :class:`RegisterConstruction`."""

    initial: float = Field(0.0, description="the register reading at the start")


class RegisterConstruction(Calculation):
    """Register readings constructed from an initial reading and the load profile: the value
    of each interval is the reading at its end (``register_construction(a, 1234.5)``)."""

    name = "register_construction"
    description = "Registers from an initial reading and the load profile"
    inputs = ("profile",)
    parameters = RegisterConstructionParameters

    def calculate(self, inputs: Mapping[str, IntervalBlock], parameters: Any) -> IntervalBlock:
        """The running total from ``initial`` (``NaN`` from the first missing interval on)."""
        profile = inputs["profile"]
        total = parameters.initial + np.cumsum(profile.values)
        return IntervalBlock(
            profile.start,
            profile.interval,
            total,
            np.zeros(len(profile), np.uint32),
            None,
            profile.unit,
        )
