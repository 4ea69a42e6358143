"""The basic checks: value limits, negative values and the largest energy per interval.

All three are vectorized over many rows (:meth:`Validator.check_rows`), so the store runs them
inside the ingest transaction and flags what fails without a second version. The plugin's
feature is ``validator:basic`` (the default for the entry point ``basic``), which every license
that validates at all should list.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import Field, model_validator

from meterhub import hookimpl
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
from meterhub.extensions.veekit import outside_limits

__all__ = ["BasicChecksPlugin", "LimitsCheck", "MaxEnergyCheck", "NegativeCheck"]


def _rows_verdict(found: npt.NDArray[np.bool_], message: str) -> RowsVerdict:
    """A verdict over rows with ``message`` on the rows that found something."""
    return RowsVerdict(found, [message if hit else "" for hit in found.any(axis=1).tolist()])


class _RowsCheck(Validator):
    """A check whose :meth:`check_rows` also serves whole batches."""

    def message(self, parameters: Any, interval_minutes: int) -> str:
        """What the check says of the values it found."""
        raise NotImplementedError

    def validate(
        self, block: IntervalBlock, parameters: Any, context: VeeContext = EMPTY_CONTEXT
    ) -> Verdict:
        """Mark the values :meth:`check_rows` finds in the block."""
        minutes = int(block.interval.total_seconds() // 60)
        return Verdict(
            self.check_rows(block.values, minutes, parameters), self.message(parameters, minutes)
        )

    def validate_rows(self, rows: BlockRows, parameters: Any) -> RowsVerdict:
        """:meth:`check_rows` over the batch."""
        minutes = int(rows.interval.total_seconds() // 60)
        found = self.check_rows(rows.values, minutes, parameters)
        return _rows_verdict(found, self.message(parameters, minutes))


class LimitParameters(VeeParameters):
    """Parameters of :class:`LimitsCheck`."""

    min: float | None = Field(None, description="smallest plausible value (unit of the channel)")
    max: float | None = Field(None, description="largest plausible value (unit of the channel)")

    @model_validator(mode="after")
    def _ordered(self) -> LimitParameters:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"max ({self.max}) must not be below min ({self.min})")
        return self


class LimitsCheck(_RowsCheck):
    """Values outside ``[min, max]``."""

    name = "limits"
    description = "Values below min or above max"
    parameters = LimitParameters
    at_ingest = True

    def message(self, parameters: Any, interval_minutes: int) -> str:
        """The limits."""
        return f"outside [{parameters.min}, {parameters.max}]"

    def check_rows(
        self, values: npt.NDArray[np.float64], interval_minutes: int, parameters: Any
    ) -> npt.NDArray[np.bool_]:
        """The same test over ``values[rows, slots]``."""
        return outside_limits(values, parameters.min, parameters.max)


class NegativeParameters(VeeParameters):
    """Parameters of :class:`NegativeCheck`."""

    tolerance: float = Field(0.0, ge=0, description="negative values down to -tolerance pass")


class NegativeCheck(_RowsCheck):
    """Negative consumption (a value below ``-tolerance``)."""

    name = "negative"
    description = "Negative values (consumption below zero)"
    parameters = NegativeParameters
    at_ingest = True

    def message(self, parameters: Any, interval_minutes: int) -> str:
        """A negative value."""
        return "negative value"

    def check_rows(
        self, values: npt.NDArray[np.float64], interval_minutes: int, parameters: Any
    ) -> npt.NDArray[np.bool_]:
        """The same test over ``values[rows, slots]``."""
        return np.less(values, -parameters.tolerance)


class MaxEnergyParameters(VeeParameters):
    """Parameters of :class:`MaxEnergyCheck`."""

    max_power: float = Field(
        gt=0, description="largest plausible average power, in the channel's unit per hour"
    )


class MaxEnergyCheck(_RowsCheck):
    """More energy in one interval than ``max_power`` can deliver in it.

    For a channel in kWh with ``max_power`` 10 (kW), a quarter-hour above 2.5 kWh fails.
    """

    name = "max_energy"
    description = "Energy per interval above what max_power delivers in it"
    parameters = MaxEnergyParameters
    at_ingest = True

    def message(self, parameters: Any, interval_minutes: int) -> str:
        """The energy limit of one interval."""
        limit = parameters.max_power * interval_minutes / 60
        return f"above {limit:g} per {interval_minutes}-minute interval"

    def check_rows(
        self, values: npt.NDArray[np.float64], interval_minutes: int, parameters: Any
    ) -> npt.NDArray[np.bool_]:
        """The same test over ``values[rows, slots]``."""
        return np.greater(values, parameters.max_power * interval_minutes / 60)


class BasicChecksPlugin:
    """Contributes the basic checks (``limits``, ``negative``, ``max_energy``)."""

    @hookimpl(trylast=True)
    def register_validators(self) -> list[type[Validator]]:
        """The basic checks."""
        return [LimitsCheck, NegativeCheck, MaxEnergyCheck]
