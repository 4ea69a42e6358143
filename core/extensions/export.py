"""Export destinations: where exported files go (a directory, SFTP, e-mail, a message queue).

An export job shapes data into a payload (bytes in some format) and hands it to an
:class:`ExportDestination` with :class:`ExportMetadata`. A destination is picked by name, like
ceilometer's publishers are picked by URL scheme: ``memory:demo`` names the ``memory``
destination with the target ``demo``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import ClassVar

from meterhub.errors import MeterHubError

__all__ = ["DeliveryFailed", "ExportDestination", "ExportMetadata"]


@dataclass(frozen=True, slots=True)
class ExportMetadata:
    """What a destination knows about a payload besides its bytes.

    ``created`` is an aware UTC datetime; ``extra`` holds the export's own labels (plain
    strings) that a destination may put in headers or file names.
    """

    filename: str
    content_type: str
    export_name: str
    created: datetime
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.created.tzinfo is None or self.created.utcoffset() is None:
            raise ValueError("ExportMetadata.created must be an aware datetime (UTC)")


class DeliveryFailed(MeterHubError):
    """The destination could not take the payload; ``retryable`` says whether to try again."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class ExportDestination(ABC):
    """A place exported payloads are delivered to.

    The core creates an instance per configured export with the target and options; the
    constructor does no I/O. :meth:`deliver` may be called many times, then :meth:`close`.
    """

    #: The contribution hook that collects subclasses (see :mod:`meterhub.hookspecs`).
    hook: ClassVar[str] = "register_exports"
    #: The class attribute that names a contribution (:attr:`name`).
    key: ClassVar[str] = "name"
    #: The destination's name, the scheme part of an export target (``memory``, ``sftp``).
    name: ClassVar[str]
    #: One line for people configuring exports.
    description: ClassVar[str] = ""

    def __init__(self, target: str, options: Mapping[str, str] | None = None) -> None:
        """Remember the target (what follows ``name:``) and the options; do no I/O."""
        self.target = target
        self.options: Mapping[str, str] = MappingProxyType(dict(options or {}))

    @abstractmethod
    def deliver(self, payload: bytes, metadata: ExportMetadata) -> str | None:
        """Deliver ``payload``; return a reference to it (a path, a message id) or ``None``.

        :raises DeliveryFailed: the payload was not delivered.
        """

    def close(self) -> None:
        """Release connections; the default does nothing."""
        return None
