"""The basic estimation methods: none, insert null, linear interpolation up to a maximum gap,
last plausible value."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import Field

from meterhub import hookimpl
from meterhub.extensions.estimator import Estimator
from meterhub.extensions.series import IntervalBlock
from meterhub.extensions.veecontext import EMPTY_CONTEXT, BlockRows, VeeContext, VeeParameters
from meterhub.extensions.veekit import last_plausible, linear_fill
from meterhub.timeseries.flags import EstimationMethod

__all__ = ["BasicEstimatorsPlugin"]


class NoEstimate(Estimator):
    """Estimate nothing: the positions stay as they are (missing or suspect)."""

    name = "none"
    description = "No estimation: values stay missing or suspect"
    method = EstimationMethod.NONE

    def estimate(
        self,
        block: IntervalBlock,
        missing: npt.NDArray[np.bool_],
        parameters: Any,
        context: VeeContext = EMPTY_CONTEXT,
    ) -> npt.NDArray[np.float64]:
        """``NaN`` at every position: nothing estimated."""
        return np.where(missing, np.nan, block.values)


class InsertNull(Estimator):
    """Replace the positions by "no value", flagged as estimated with the method ``null``, so
    an implausible value does not reach billing."""

    name = "null"
    description = "Insert null: remove the value, flagged"
    method = EstimationMethod.NULL
    clears = True

    def estimate(
        self,
        block: IntervalBlock,
        missing: npt.NDArray[np.bool_],
        parameters: Any,
        context: VeeContext = EMPTY_CONTEXT,
    ) -> npt.NDArray[np.float64]:
        """``NaN`` at the positions (the engine stores them empty and flagged)."""
        return np.where(missing, np.nan, block.values)

    def estimate_rows(
        self, rows: BlockRows, missing: npt.NDArray[np.bool_], parameters: Any
    ) -> npt.NDArray[np.float64]:
        """The same over a batch."""
        return np.where(missing, np.nan, rows.values)


class LinearParameters(VeeParameters):
    """Parameters of :class:`LinearInterpolation`."""

    max_gap: int = Field(8, ge=1, le=10_000, description="longest gap filled, in intervals")


class LinearInterpolation(Estimator):
    """Linear interpolation between the values around a gap of at most ``max_gap`` intervals
    (8 quarter-hours = 2 hours, the German and Austrian practice)."""

    name = "linear"
    description = "Linear interpolation up to max_gap intervals"
    method = EstimationMethod.LINEAR_INTERPOLATION
    parameters = LinearParameters

    def estimate(
        self,
        block: IntervalBlock,
        missing: npt.NDArray[np.bool_],
        parameters: Any,
        context: VeeContext = EMPTY_CONTEXT,
    ) -> npt.NDArray[np.float64]:
        """Interpolate the short gaps."""
        return linear_fill(block.values, missing, parameters.max_gap)

    def estimate_rows(
        self, rows: BlockRows, missing: npt.NDArray[np.bool_], parameters: Any
    ) -> npt.NDArray[np.float64]:
        """The same over a batch, each row on its own, in the engine's copy of the values."""
        values = rows.values
        if not values.flags.c_contiguous or not values.flags.writeable:
            values = values.copy()
        return linear_fill(values, missing, parameters.max_gap, out=values)


class LastParameters(VeeParameters):
    """Parameters of :class:`LastPlausible`."""

    max_gap: int = Field(96, ge=1, le=100_000, description="look back at most this many intervals")


class LastPlausible(Estimator):
    """The last plausible value before the position (at most ``max_gap`` intervals back)."""

    name = "last_plausible"
    description = "Last plausible value"
    method = EstimationMethod.LAST_PLAUSIBLE
    parameters = LastParameters

    def estimate(
        self,
        block: IntervalBlock,
        missing: npt.NDArray[np.bool_],
        parameters: Any,
        context: VeeContext = EMPTY_CONTEXT,
    ) -> npt.NDArray[np.float64]:
        """Carry the last plausible value forward."""
        return last_plausible(block.values, missing, parameters.max_gap)


class BasicEstimatorsPlugin:
    """Contributes ``none``, ``null``, ``linear`` and ``last_plausible``."""

    @hookimpl(trylast=True)
    def register_estimators(self) -> list[type[Estimator]]:
        """The basic estimation methods."""
        return [NoEstimate, InsertNull, LinearInterpolation, LastPlausible]
