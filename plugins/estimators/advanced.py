"""The advanced estimation methods (feature ``advanced-validation``): mean of like days,
hierarchical (first plausible value up the hierarchy) and check-meter substitution."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import Field

from meterhub import hookimpl
from meterhub.extensions.estimator import Estimator
from meterhub.extensions.series import IntervalBlock
from meterhub.extensions.veecontext import EMPTY_CONTEXT, VeeContext, VeeParameters
from meterhub.extensions.veekit import first_plausible, like_day_reference
from meterhub.timeseries.flags import EstimationMethod

__all__ = ["AdvancedEstimatorsPlugin"]

#: Flags that keep a value from serving as a source (suspect or estimated).
_NOT_A_SOURCE = np.uint32((1 << 9) | (1 << 10))


class LikeDayParameters(VeeParameters):
    """Parameters of :class:`LikeDayMean`."""

    days: int = Field(3, ge=1, le=52, description="like days averaged (Itron: 3)")
    history_days: int = Field(28, ge=1, le=400, description="days of history to look in")


class LikeDayMean(Estimator):
    """The mean of the same local time on the ``days`` most recent like days (same day type
    of the profile's calendar), skipping missing, suspect and estimated values."""

    name = "like_day"
    description = "Mean of like days (day types with holidays and special days)"
    method = EstimationMethod.LIKE_DAY
    parameters = LikeDayParameters
    needs = frozenset({"history", "calendar"})

    def lookback_days(self, parameters: Any) -> int:
        """The days of history the mean needs."""
        return int(parameters.history_days)

    def estimate(
        self,
        block: IntervalBlock,
        missing: npt.NDArray[np.bool_],
        parameters: Any,
        context: VeeContext = EMPTY_CONTEXT,
    ) -> npt.NDArray[np.float64]:
        """Fill the positions with the like-day mean."""
        out = block.values.copy()
        out[missing] = np.nan
        calendar = context.calendar
        if calendar is None or not missing.any():
            return out
        usable = np.where(((block.flags & _NOT_A_SOURCE) == 0) & ~missing, block.values, np.nan)
        history = context.history
        if history is not None and len(history):
            past = np.where((history.flags & _NOT_A_SOURCE) == 0, history.values, np.nan)
            usable = np.concatenate([past, usable])
        minutes = int(block.interval.total_seconds() // 60)
        reference = like_day_reference(
            usable, calendar.day, calendar.day_type, calendar.minute, minutes, parameters.days
        )[-len(block) :]
        out[missing] = reference[missing]
        return out


class HierarchyParameters(VeeParameters):
    """Parameters of :class:`HierarchySubstitute`."""

    sources: tuple[int, ...] = Field(
        min_length=1, description="channel ids up the hierarchy, nearest first"
    )
    factor: float = Field(1.0, gt=0, description="scale of the sources' values")


class HierarchySubstitute(Estimator):
    """The first plausible value among the ``sources`` channels (nearest first), scaled."""

    name = "hierarchy"
    description = "First plausible value in the hierarchy"
    method = EstimationMethod.HIERARCHY
    parameters = HierarchyParameters
    needs = frozenset({"children"})

    def related(self, parameters: Any) -> Mapping[str, int | str | Sequence[int]]:
        """The source channels, in order."""
        return {"children": parameters.sources}

    def estimate(
        self,
        block: IntervalBlock,
        missing: npt.NDArray[np.bool_],
        parameters: Any,
        context: VeeContext = EMPTY_CONTEXT,
    ) -> npt.NDArray[np.float64]:
        """Take each position from the first source with a plausible value."""
        sources = [child.values * parameters.factor for child in context.children]
        usable = [(child.flags & _NOT_A_SOURCE) == 0 for child in context.children]
        return first_plausible(block.values, missing, sources, usable)


class CheckMeterParameters(VeeParameters):
    """Parameters of :class:`CheckMeterSubstitute`."""

    check_channel: int | str = Field(description="the check meter's channel: id or OBIS")
    factor: float = Field(1.0, gt=0, description="scale of the check meter's values")


class CheckMeterSubstitute(Estimator):
    """The check meter's value (scaled) where it is plausible."""

    name = "check_meter"
    description = "Check-meter substitution"
    method = EstimationMethod.CHECK_METER
    parameters = CheckMeterParameters
    needs = frozenset({"related"})

    def related(self, parameters: Any) -> Mapping[str, int | str | Sequence[int]]:
        """The check meter's channel."""
        return {"check": parameters.check_channel}

    def estimate(
        self,
        block: IntervalBlock,
        missing: npt.NDArray[np.bool_],
        parameters: Any,
        context: VeeContext = EMPTY_CONTEXT,
    ) -> npt.NDArray[np.float64]:
        """Substitute the check meter's values."""
        check = context.related.get("check")
        if check is None:
            out = block.values.copy()
            out[missing] = np.nan
            return out
        usable = (check.flags & _NOT_A_SOURCE) == 0
        return first_plausible(block.values, missing, [check.values * parameters.factor], [usable])


class AdvancedEstimatorsPlugin:
    """Contributes ``like_day``, ``hierarchy`` and ``check_meter``."""

    feature = "advanced-validation"

    @hookimpl(trylast=True)
    def register_estimators(self) -> list[type[Estimator]]:
        """The advanced estimation methods."""
        return [LikeDayMean, HierarchySubstitute, CheckMeterSubstitute]
