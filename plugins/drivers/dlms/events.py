"""Event texts of DLMS event logs, from a table chosen per meter type.

The code an event log captures means what the meter's maker (or its companion specification)
says it means: the same number is a different event on another meter type. The tables are data,
one TOML file each in ``event_tables/`` of this package, named by the file (the setting
``event_table`` picks one per meter):

* ``standard`` — codes 1–18 of the standard event log as IDIS numbers them (the default);
* ``elvaco_cme3100`` — the Elvaco CMe3100 gateway's meter logical devices: 4000 + the M-Bus
  status byte.

A file has ``name`` (its file name), ``title``, a ``[codes]`` table (``code = "text"``) and
optionally ``[[ranges]]`` (``first``, ``last``, ``text`` with ``{code}`` and ``{offset}``
placeholders). A code the chosen table does not have gets an empty text: never one from another
table. Each file says where its codes come from; codes nobody published are left out.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType

from meterhub.errors import InvalidValue

__all__ = ["DEFAULT_TABLE", "EventTable", "event_table", "event_tables"]

#: The table of a meter without an ``event_table`` setting.
DEFAULT_TABLE = "standard"
_FOLDER = "event_tables"


@dataclass(frozen=True)
class EventTable:
    """The texts of one meter type's event codes."""

    name: str
    title: str
    codes: Mapping[int, str]
    #: ``(first, last, text template)``: codes numbered by a rule.
    ranges: tuple[tuple[int, int, str], ...] = ()

    def text(self, code: int) -> str:
        """The text of ``code``, or ``""`` when this table does not have it."""
        found = self.codes.get(code)
        if found is not None:
            return found
        for first, last, template in self.ranges:
            if first <= code <= last:
                return template.format(code=code, offset=code - first)
        return ""

    @classmethod
    def from_toml(cls, text: str, source: str) -> EventTable:
        """A table from the text of its TOML file; :class:`InvalidValue` names what is wrong."""
        field = f"event table {source}"
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InvalidValue(field, f"is not valid TOML: {exc}") from None
        name, title = data.get("name"), data.get("title", "")
        if not isinstance(name, str) or not name or not isinstance(title, str):
            raise InvalidValue(field, "needs a name (text) and a title (text)")
        codes: dict[int, str] = {}
        for key, value in dict(data.get("codes", {})).items():
            if not str(key).isdigit() or not isinstance(value, str):
                raise InvalidValue(field, f"code {key!r} must be a number with a text")
            codes[int(key)] = value
        ranges = []
        for item in data.get("ranges", []):
            first, last, template = item.get("first"), item.get("last"), item.get("text")
            if not isinstance(first, int) or not isinstance(last, int) or first > last:
                raise InvalidValue(field, "a range needs whole numbers first <= last")
            if not isinstance(template, str):
                raise InvalidValue(field, "a range needs a text")
            try:
                template.format(code=first, offset=0)
            except (KeyError, IndexError, ValueError) as exc:
                raise InvalidValue(field, f"range text {template!r}: {exc}") from None
            ranges.append((first, last, template))
        return cls(name, title, MappingProxyType(codes), tuple(ranges))


@cache
def event_tables() -> Mapping[str, EventTable]:
    """Every table shipped in the package, by name (loaded once)."""
    found: dict[str, EventTable] = {}
    folder = resources.files(__package__ or __name__.rpartition(".")[0]).joinpath(_FOLDER)
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if not entry.name.endswith(".toml"):
            continue
        table = EventTable.from_toml(entry.read_text(encoding="utf-8"), entry.name)
        if table.name != entry.name.removesuffix(".toml"):
            raise InvalidValue(f"event table {entry.name}", f"is named {table.name!r}")
        found[table.name] = table
    return MappingProxyType(found)


def event_table(name: str = DEFAULT_TABLE) -> EventTable:
    """The table ``name``; :class:`InvalidValue` (``settings.event_table``) if there is none."""
    tables = event_tables()
    if name not in tables:
        known = ", ".join(sorted(tables))
        raise InvalidValue("settings.event_table", f"unknown table {name!r}; known: {known}")
    return tables[name]
