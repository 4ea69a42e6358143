"""IEC 61968-9 adapters: one per CIM noun (MeterReadings, EndDeviceControls, ...).

The core's CIM endpoint parses the message envelope (header, verb, noun) with a hardened XML
parser and hands a :class:`CimMessage` to the adapter registered for its noun. The adapter
returns the reply message. Payloads stay bytes so the adapter picks its own XML handling; it
must use a parser hardened against XXE and entity expansion (as the core's is).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

__all__ = ["CimAdapter", "CimMessage"]


@dataclass(frozen=True, slots=True)
class CimMessage:
    """A message of IEC 61968-100: verb, noun, payload (XML bytes) and header fields.

    ``headers`` holds the other header fields as text (``MessageID``, ``Source``,
    ``Timestamp``).
    """

    verb: str
    noun: str
    payload: bytes
    correlation_id: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


class CimAdapter(ABC):
    """Handles the messages of one CIM noun.

    The core creates an instance with no arguments and may reuse it from several threads.
    """

    #: The contribution hook that collects subclasses (see :mod:`meterhub.hookspecs`).
    hook: ClassVar[str] = "register_cim_adapters"
    #: The class attribute that names a contribution (:attr:`noun`).
    key: ClassVar[str] = "noun"
    #: The noun handled, exactly as in the message header (``MeterReadings``).
    noun: ClassVar[str]
    #: The verbs handled (``get``, ``create``); a message with another verb is refused by the
    #: core before :meth:`handle` is called.
    verbs: ClassVar[frozenset[str]] = frozenset()
    #: One line for the API documentation.
    description: ClassVar[str] = ""

    @abstractmethod
    def handle(self, message: CimMessage) -> CimMessage:
        """Process ``message`` and return the reply (verb ``reply`` or ``created``, ...)."""
