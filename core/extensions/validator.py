"""Validators: the checks of VEE (validation, estimation, editing).

A :class:`Validator` checks one :class:`~meterhub.extensions.series.IntervalBlock` and returns
a :class:`Finding` for each suspect value; an empty list means the block passed. Which
validators run, in which order and with which parameters is configuration (a rule set), not
plugin registration order.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from meterhub.extensions.series import IntervalBlock

__all__ = ["Finding", "Validator"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One suspect value: its position in the block, the check's name and why."""

    position: int
    check: str
    message: str


class Validator(ABC):
    """One validation check (missing intervals, spikes, zero consumption, ...).

    The core creates an instance with no arguments and may reuse it for many blocks and from
    several threads: keep no state between calls.
    """

    #: The contribution hook that collects subclasses (see :mod:`meterhub.hookspecs`).
    hook: ClassVar[str] = "register_validators"
    #: The class attribute that names a contribution (:attr:`name`).
    key: ClassVar[str] = "name"
    #: The check's name as rule sets refer to it (``gap``, ``spike``, ``zero``).
    name: ClassVar[str]
    #: One line for people composing rule sets.
    description: ClassVar[str] = ""

    @abstractmethod
    def validate(self, block: IntervalBlock, parameters: Mapping[str, Any]) -> list[Finding]:
        """Check ``block`` with the rule set's ``parameters``; return the suspect values.

        Must not change ``block``'s arrays.
        """
