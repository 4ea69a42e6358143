"""Estimators: how VEE fills values that are missing or failed validation.

An :class:`Estimator` receives a block, a mask of the positions to estimate, its parsed
parameters and a :class:`~meterhub.extensions.veecontext.VeeContext`, and returns new values for
the whole block: estimated where the mask is set (``NaN`` where it cannot), unchanged elsewhere.
The core stores the result as a new version whose flags carry :attr:`Estimator.method`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from meterhub.extensions.series import IntervalBlock
from meterhub.extensions.veecontext import (
    EMPTY_CONTEXT,
    BlockRows,
    NoParameters,
    VeeContext,
    VeeParameters,
)

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
    #: The method's name as profiles refer to it (``linear``, ``like_day``).
    name: ClassVar[str]
    #: One line for people composing profiles.
    description: ClassVar[str] = ""
    #: The code stored in bits 16-23 of an estimated value's flags
    #: (:class:`meterhub.timeseries.EstimationMethod`; 255 = another method).
    method: ClassVar[int] = 255
    #: The parameter model (a :class:`VeeParameters` subclass); checked when a profile is saved.
    parameters: ClassVar[type[VeeParameters]] = NoParameters
    #: What the method reads besides the block (see :data:`~meterhub.extensions.veecontext.NEEDS`).
    needs: ClassVar[frozenset[str]] = frozenset()
    #: Whether the method leaves the positions empty on purpose ("insert null").
    clears: ClassVar[bool] = False

    @classmethod
    def parse_parameters(
        cls, given: Mapping[str, Any] | None, prefix: str = "parameters"
    ) -> VeeParameters:
        """The parameters of ``given`` checked against :attr:`parameters`."""
        return cls.parameters.parse(given or {}, prefix=prefix)

    def lookback_days(self, parameters: Any) -> int:
        """How many days of the channel's earlier values the engine loads into
        ``context.history`` (for :attr:`needs` ``history``)."""
        return 0

    def related(self, parameters: Any) -> Mapping[str, int | str | Sequence[int]]:
        """The channels the engine must load for :attr:`needs` ``related``, ``children`` and
        ``registers``, by role: ``"check"``, ``"parent"`` (a channel id, or an OBIS code looked
        up among the channels of the same virtual meter), ``"children"`` (channel ids, in order)
        and ``"registers"`` (the register channel of the profile: an id or an OBIS code)."""
        return {}

    def estimate_rows(
        self, rows: BlockRows, missing: npt.NDArray[np.bool_], parameters: Any
    ) -> npt.NDArray[np.float64] | None:
        """Optional: the same method over many channels at once (``missing`` ``[rows, slots]``),
        for methods whose ``needs`` are at most ``calendar`` and ``history``; ``None`` (the
        default) makes the engine call :meth:`estimate` per channel. ``rows.values`` is the
        engine's own copy for this call: the method may fill it in place and return it."""
        return None

    @abstractmethod
    def estimate(
        self,
        block: IntervalBlock,
        missing: npt.NDArray[np.bool_],
        parameters: Any,
        context: VeeContext = EMPTY_CONTEXT,
    ) -> npt.NDArray[np.float64]:
        """Return the block's values with the positions in ``missing`` estimated.

        :param block: the values as they are now (``NaN`` where missing).
        :param missing: a boolean array as long as ``block``: the positions to estimate.
        :param parameters: the parsed parameters (an instance of :attr:`parameters`).
        :param context: what the method asked for in :attr:`needs` (history, related
            channels, the slot calendar).

        A position the method cannot estimate stays ``NaN``. Must not change ``block``.
        """
