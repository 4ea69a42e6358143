"""Validators: the checks of VEE (validation, estimation, editing).

A :class:`Validator` checks one :class:`~meterhub.extensions.series.IntervalBlock` with its
parsed parameters and a :class:`~meterhub.extensions.veecontext.VeeContext`, and answers with a
:class:`~meterhub.extensions.veecontext.Verdict` (boolean arrays) or, in the simple form, a list
of :class:`Finding`. Which validators run, in which order and with which parameters is
configuration (a validation profile), not plugin registration order.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from meterhub.extensions.series import IntervalBlock
from meterhub.extensions.veecontext import (
    EMPTY_CONTEXT,
    BlockRows,
    Finding,
    NoParameters,
    RowsVerdict,
    VeeContext,
    VeeParameters,
    Verdict,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["Finding", "Validator", "Verdict"]


class Validator(ABC):
    """One validation check (missing intervals, spikes, zero consumption, ...).

    The core creates an instance with no arguments and may reuse it for many blocks and from
    several threads: keep no state between calls.
    """

    #: The contribution hook that collects subclasses (see :mod:`meterhub.hookspecs`).
    hook: ClassVar[str] = "register_validators"
    #: The class attribute that names a contribution (:attr:`name`).
    key: ClassVar[str] = "name"
    #: The check's name as profiles refer to it (``gaps``, ``spike``, ``zero_run``).
    name: ClassVar[str]
    #: One line for people composing profiles.
    description: ClassVar[str] = ""
    #: The parameter model (a :class:`VeeParameters` subclass); checked when a profile is saved.
    parameters: ClassVar[type[VeeParameters]] = NoParameters
    #: What the check reads besides the block (see :data:`~meterhub.extensions.veecontext.NEEDS`).
    needs: ClassVar[frozenset[str]] = frozenset()
    #: Whether the check can run inside the ingest transaction (:meth:`check_rows`).
    at_ingest: ClassVar[bool] = False

    @classmethod
    def parse_parameters(
        cls, given: Mapping[str, Any] | None, prefix: str = "parameters"
    ) -> VeeParameters:
        """The parameters of ``given`` checked against :attr:`parameters`, or
        :class:`~meterhub.errors.InvalidValue` naming ``<prefix>.<name>``."""
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

    @abstractmethod
    def validate(
        self, block: IntervalBlock, parameters: Any, context: VeeContext = EMPTY_CONTEXT
    ) -> Verdict | list[Finding]:
        """Check ``block`` with its parsed ``parameters``; return the suspect values.

        Missing values (``NaN``) are not suspect unless the check is about them. Must not
        change ``block``'s arrays.
        """

    def validate_rows(self, rows: BlockRows, parameters: Any) -> RowsVerdict | None:
        """Optional: the same check over many channels of one period at once (``rows``), for
        checks whose ``needs`` are at most ``calendar`` and ``history``; ``None`` (the default)
        makes the engine call :meth:`validate` per channel. Must give what :meth:`validate`
        gives row by row."""
        return None

    def check_rows(
        self,
        values: npt.NDArray[np.float64],
        interval_minutes: int,
        parameters: Any,
    ) -> npt.NDArray[np.bool_]:
        """Check many rows at once, inside the ingest transaction (checks with
        :attr:`at_ingest`): ``values[rows, slots]`` (``NaN`` = not written) → suspect mask."""
        raise NotImplementedError(f"check {self.name!r} does not run at ingest")
