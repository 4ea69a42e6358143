"""The calculation functions a formula calls: ``sum``, ``min``, ``max``, ``abs``, ``shift``,
``when`` and ``tan_phi_excess``. Arithmetic (+ − × ÷), comparisons and the aggregation to
hours, days and months are the formula language's own (``meterhub.calculations``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import Field

from meterhub import hookimpl
from meterhub.extensions.calculation import Calculation
from meterhub.extensions.series import IntervalBlock
from meterhub.extensions.veecontext import VeeParameters

__all__ = ["CalculationFunctionsPlugin"]


def _result(template: IntervalBlock, values: np.ndarray) -> IntervalBlock:
    return IntervalBlock(
        template.start,
        template.interval,
        np.asarray(values, dtype=np.float64),
        np.zeros(len(template), dtype=np.uint32),
        None,
        template.unit,
    )


def _ordered(inputs: Mapping[str, IntervalBlock]) -> list[IntervalBlock]:
    return [inputs[key] for key in sorted(inputs, key=lambda k: int(k) if k.isdigit() else 0)]


class Sum(Calculation):
    """The sum of any number of series (``NaN`` where one is missing)."""

    name = "sum"
    description = "Sum of the series"

    def calculate(self, inputs: Mapping[str, IntervalBlock], parameters: Any) -> IntervalBlock:
        """Add the series."""
        blocks = _ordered(inputs)
        return _result(blocks[0], np.sum([b.values for b in blocks], axis=0))


class Minimum(Calculation):
    """The smallest of the series at each interval."""

    name = "min"
    description = "Smallest value of the series"

    def calculate(self, inputs: Mapping[str, IntervalBlock], parameters: Any) -> IntervalBlock:
        """Take the minimum."""
        blocks = _ordered(inputs)
        return _result(blocks[0], np.min([b.values for b in blocks], axis=0))


class Maximum(Calculation):
    """The largest of the series at each interval."""

    name = "max"
    description = "Largest value of the series"

    def calculate(self, inputs: Mapping[str, IntervalBlock], parameters: Any) -> IntervalBlock:
        """Take the maximum."""
        blocks = _ordered(inputs)
        return _result(blocks[0], np.max([b.values for b in blocks], axis=0))


class Absolute(Calculation):
    """The absolute value."""

    name = "abs"
    description = "Absolute value"
    inputs = ("series",)

    def calculate(self, inputs: Mapping[str, IntervalBlock], parameters: Any) -> IntervalBlock:
        """Drop the sign."""
        series = inputs["series"]
        return _result(series, np.abs(series.values))


class ShiftParameters(VeeParameters):
    """Parameters of :class:`Shift`."""

    intervals: int = Field(ge=-100_000, le=100_000, description="intervals to shift by")


class Shift(Calculation):
    """The series shifted in time: ``shift(a, 4)`` is the value of ``a`` four intervals
    earlier (a delay), ``shift(a, -4)`` four intervals later."""

    name = "shift"
    description = "Time shift by a number of intervals"
    inputs = ("series",)
    parameters = ShiftParameters

    def lookback(self, parameters: Any) -> int:
        """A delay needs values before the result's start."""
        return max(0, int(parameters.intervals))

    def calculate(self, inputs: Mapping[str, IntervalBlock], parameters: Any) -> IntervalBlock:
        """Move the values; the ends that fall outside are ``NaN``."""
        series = inputs["series"]
        n = int(parameters.intervals)
        values = np.full(len(series), np.nan)
        if n >= 0:
            values[n:] = series.values[: len(series) - n] if n else series.values
        else:
            values[:n] = series.values[-n:]
        return _result(series, values)


class When(Calculation):
    """``when(condition, then, otherwise)``: ``then`` where the condition is non-zero, else
    ``otherwise`` (``NaN`` where the condition is missing)."""

    name = "when"
    description = "Conditional: when(condition, then, otherwise)"
    inputs = ("condition", "then", "otherwise")

    def calculate(self, inputs: Mapping[str, IntervalBlock], parameters: Any) -> IntervalBlock:
        """Choose per interval."""
        condition = inputs["condition"].values
        chosen = np.where(condition != 0, inputs["then"].values, inputs["otherwise"].values)
        return _result(inputs["condition"], np.where(np.isnan(condition), np.nan, chosen))


class TanPhiParameters(VeeParameters):
    """Parameters of :class:`TanPhiExcess`."""

    limit: float = Field(0.4, ge=0, le=10, description="the tan φ the tariff allows")


class TanPhiExcess(Calculation):
    """Reactive energy billed above a tan φ limit: ``max(q − limit × p, 0)`` per interval
    (``tan_phi_excess(p, q, 0.4)`` for kvarh above tan φ 0.4, i.e. cos φ ≈ 0.93)."""

    name = "tan_phi_excess"
    description = "Reactive energy above a tan φ limit: max(q - limit × p, 0)"
    inputs = ("active", "reactive")
    parameters = TanPhiParameters

    def calculate(self, inputs: Mapping[str, IntervalBlock], parameters: Any) -> IntervalBlock:
        """The excess reactive energy."""
        active, reactive = inputs["active"], inputs["reactive"]
        excess = np.maximum(reactive.values - parameters.limit * active.values, 0.0)
        return _result(active, excess)


class CalculationFunctionsPlugin:
    """Contributes the formula functions."""

    feature = "calculation"

    @hookimpl(trylast=True)
    def register_calculations(self) -> list[type[Calculation]]:
        """The formula functions."""
        return [Sum, Minimum, Maximum, Absolute, Shift, When, TanPhiExcess]
