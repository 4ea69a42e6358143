"""Calculations: functions that derive a channel from other channels.

Virtual meters (sums, differences, losses, conversions) are built from :class:`Calculation`
functions. The core aligns the input blocks (same start, interval and length) before calling.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from meterhub.extensions.series import IntervalBlock

__all__ = ["Calculation"]


class Calculation(ABC):
    """A calculation function over aligned interval blocks.

    The core creates an instance with no arguments and may reuse it: keep no state.
    """

    #: The contribution hook that collects subclasses (see :mod:`meterhub.hookspecs`).
    hook: ClassVar[str] = "register_calculations"
    #: The class attribute that names a contribution (:attr:`name`).
    key: ClassVar[str] = "name"
    #: The function's name as formulas refer to it (``sum``, ``difference``, ``loss``).
    name: ClassVar[str]
    #: One line for people writing formulas.
    description: ClassVar[str] = ""
    #: The names of the inputs the function expects; empty means any number of inputs.
    inputs: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def calculate(
        self, inputs: Mapping[str, IntervalBlock], parameters: Mapping[str, Any]
    ) -> IntervalBlock:
        """Compute the result from ``inputs`` (name → aligned block) and ``parameters``.

        The result has the inputs' start, interval and length and ``channel_id`` ``None``; the
        core decides where it is stored. A result value that cannot be computed is ``NaN``.
        """
