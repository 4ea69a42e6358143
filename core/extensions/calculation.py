"""Calculations: functions that derive a channel from other channels.

Calculated channels are defined by formulas (``meterhub.calculations``) whose function calls
(``sum(a, b)``, ``shift(a, -4)``, ``day(a)``) are :class:`Calculation` plugins. The core aligns
the input blocks (same start, interval and length) before calling.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from meterhub.extensions.series import IntervalBlock
from meterhub.extensions.veecontext import NoParameters, VeeParameters

__all__ = ["Calculation"]


class Calculation(ABC):
    """A calculation function over aligned interval blocks.

    The core creates an instance with no arguments and may reuse it: keep no state.
    """

    #: The contribution hook that collects subclasses (see :mod:`meterhub.hookspecs`).
    hook: ClassVar[str] = "register_calculations"
    #: The class attribute that names a contribution (:attr:`name`).
    key: ClassVar[str] = "name"
    #: The function's name as formulas refer to it (``sum``, ``shift``, ``day``).
    name: ClassVar[str]
    #: One line for people writing formulas.
    description: ClassVar[str] = ""
    #: The names of the inputs the function expects; empty means any number of inputs (a
    #: formula's positional series arguments are then named ``"0"``, ``"1"``, ...).
    inputs: ClassVar[tuple[str, ...]] = ()
    #: The parameter model; a formula gives parameters as trailing number arguments (in the
    #: model's field order) or as keywords: ``shift(a, -4)`` or ``shift(a, intervals=-4)``.
    parameters: ClassVar[type[VeeParameters]] = NoParameters
    #: ``hour``, ``day`` or ``month`` for a function whose result has that coarser interval.
    aggregates_to: ClassVar[str | None] = None

    @classmethod
    def parse_parameters(
        cls, given: Mapping[str, Any] | None, prefix: str = "parameters"
    ) -> VeeParameters:
        """The parameters of ``given`` checked against :attr:`parameters`."""
        return cls.parameters.parse(given or {}, prefix=prefix)

    def lookback(self, parameters: Any) -> int:
        """How many intervals before the result's start the inputs must reach (``shift``)."""
        return 0

    @abstractmethod
    def calculate(self, inputs: Mapping[str, IntervalBlock], parameters: Any) -> IntervalBlock:
        """Compute the result from ``inputs`` (name → aligned block) and ``parameters``.

        The result has the inputs' start, interval and length (an aggregating function: its
        coarser interval) and ``channel_id`` ``None``; the core decides where it is stored. A
        result value that cannot be computed is ``NaN``.
        """
