"""Tables on the terminal, drawn by rich: plain aligned columns, no markup, no colours.

Cell text is never read as rich markup (a reason such as ``[Errno 2]`` stays as it is). Lines
are never wrapped or cut, so the output can be searched and piped.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

import click

__all__ = ["echo_table", "table_lines"]

#: Wide enough for any line: the table is never wrapped or cut, whatever the terminal.
_UNLIMITED_WIDTH = 100_000


def table_lines(
    rows: Iterable[Sequence[str]],
    *,
    headers: Sequence[str] | None = None,
    indent: int = 0,
) -> list[str]:
    """The rows as aligned text lines, columns two spaces apart, trailing blanks removed."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    rows = list(rows)
    columns = len(headers) if headers is not None else max((len(row) for row in rows), default=0)
    table = Table(
        box=None,
        show_header=headers is not None,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1),
        header_style="",
    )
    for position in range(columns):
        header = headers[position] if headers is not None else ""
        table.add_column(Text(header), no_wrap=True, overflow="ignore")
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    console = Console(
        file=io.StringIO(),
        width=_UNLIMITED_WIDTH,
        color_system=None,
        highlight=False,
        emoji=False,
        legacy_windows=False,
    )
    console.print(table)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    margin = " " * indent
    return [f"{margin}{line}".rstrip() for line in text.splitlines()]


def echo_table(
    rows: Iterable[Sequence[str]],
    *,
    headers: Sequence[str] | None = None,
    indent: int = 0,
) -> None:
    """Print :func:`table_lines` on standard output."""
    for line in table_lines(rows, headers=headers, indent=indent):
        click.echo(line)
