"""Report renderers: turn a report's table into a file (xlsx, csv, pdf, ...).

The core runs the report query and hands the renderer a :class:`ReportData` of plain values;
the renderer writes the file to a binary stream.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO, ClassVar

__all__ = ["Column", "ReportData", "ReportRenderer"]


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a report: its key, the heading shown and the unit of its values."""

    key: str
    title: str
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class ReportData:
    """A report's content: a title, columns and rows of plain values.

    Each row has one value per column, in column order: ``str``, ``int``, ``float``, aware
    ``datetime`` or ``None``. ``parameters`` are the values the report was run with, for the
    heading. ``generated`` is an aware UTC datetime.
    """

    title: str
    columns: tuple[Column, ...]
    rows: Sequence[Sequence[Any]]
    generated: datetime
    parameters: Mapping[str, str] = field(default_factory=dict)


class ReportRenderer(ABC):
    """A file format reports can be rendered to.

    The core creates an instance with no arguments per rendering.
    """

    #: The contribution hook that collects subclasses (see :mod:`meterhub.hookspecs`).
    hook: ClassVar[str] = "register_reports"
    #: The class attribute that names a contribution (:attr:`name`).
    key: ClassVar[str] = "name"
    #: The format's name as report definitions refer to it (``xlsx``, ``csv``).
    name: ClassVar[str]
    #: One line for people choosing a format.
    description: ClassVar[str] = ""
    #: The media type of the file written (``text/csv``).
    media_type: ClassVar[str] = "application/octet-stream"
    #: The file name extension, without the dot (``csv``).
    file_extension: ClassVar[str] = ""

    @abstractmethod
    def render(self, report: ReportData, stream: BinaryIO) -> None:
        """Write ``report`` to ``stream`` in this format."""
