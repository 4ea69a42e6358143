"""Import formats: parsers that turn files from outside into meter values.

An :class:`ImportFormat` reads a binary stream and yields :class:`ImportRecord` values one by
one, so a large file is never held in memory. The core maps identifiers to channels and stores
the values; the parser only parses.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, ClassVar

from meterhub.errors import MeterHubError
from meterhub.extensions.driver import Quality

__all__ = ["ImportFormat", "ImportRecord", "ParseError"]


@dataclass(frozen=True, slots=True)
class ImportRecord:
    """One value from an import file.

    ``identifier`` names where the value belongs as the file says it (a metering point's EIC or
    EAN, a meter serial); ``obis`` is canonical ``A-B:C.D.E*F``; ``timestamp`` an aware UTC
    datetime (the end of the interval for interval values); ``value`` the physical value in
    ``unit``.
    """

    identifier: str
    obis: str
    timestamp: datetime
    value: float | None
    unit: str | None = None
    quality: Quality = Quality.VALID

    def __post_init__(self) -> None:
        if self.timestamp.tzinfo is None or self.timestamp.utcoffset() is None:
            raise ValueError("ImportRecord.timestamp must be an aware datetime (UTC)")


class ParseError(MeterHubError):
    """The input is not in the format; ``position`` says where (``"line 12"``)."""

    def __init__(self, position: str, reason: str) -> None:
        super().__init__(f"{position}: {reason}")
        self.position = position
        self.reason = reason


class ImportFormat(ABC):
    """A file format MeterHub can import.

    The core creates an instance with no arguments per import run.
    """

    #: The contribution hook that collects subclasses (see :mod:`meterhub.hookspecs`).
    hook: ClassVar[str] = "register_imports"
    #: The class attribute that names a contribution (:attr:`name`).
    key: ClassVar[str] = "name"
    #: The format's name as import commands and jobs refer to it (``csv``, ``mscons``).
    name: ClassVar[str]
    #: One line for people choosing a format.
    description: ClassVar[str] = ""
    #: The media types the format reads (``text/csv``); used to suggest a format for a file.
    media_types: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def parse(
        self, stream: BinaryIO, options: Mapping[str, str] | None = None
    ) -> Iterator[ImportRecord]:
        """Yield the records of ``stream``; raise :class:`ParseError` at the first bad part."""
