"""Estimators: how VEE fills values that are missing or failed validation.

An :class:`Estimator` receives a block, a mask of the positions to estimate and parameters, and
returns new values for the whole block: estimated where the mask is set, unchanged elsewhere.
The core stores the result as a new version marked as estimated by :attr:`Estimator.name`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from meterhub.extensions.series import IntervalBlock

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["Estimator"]


class Estimator(ABC):
    """One estimation method (linear interpolation, like-day history, profile, ...).

    The core creates an instance with no arguments and may reuse it: keep no state.
    """

    #: The contribution hook that collects subclasses (see :mod:`meterhub.hookspecs`).
    hook: ClassVar[str] = "register_estimators"
    #: The class attribute that names a contribution (:attr:`name`).
    key: ClassVar[str] = "name"
    #: The method's name as rule sets and value flags refer to it (``linear``, ``like_day``).
    name: ClassVar[str]
    #: One line for people composing rule sets.
    description: ClassVar[str] = ""

    @abstractmethod
    def estimate(
        self,
        block: IntervalBlock,
        missing: npt.NDArray[np.bool_],
        parameters: Mapping[str, Any],
        history: tuple[IntervalBlock, ...] = (),
    ) -> npt.NDArray[np.float64]:
        """Return the block's values with the positions in ``missing`` estimated.

        :param block: the values as they are now (``NaN`` where missing).
        :param missing: a boolean array as long as ``block``: the positions to estimate.
        :param parameters: the rule set's parameters for this method.
        :param history: earlier blocks of the same channel the core supplies when the method
            asks for them (like-day methods); may be empty.

        A position the method cannot estimate stays ``NaN``. Must not change ``block``.
        """
