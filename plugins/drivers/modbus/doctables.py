"""The tables of ``docs/drivers/modbus.md`` that come from data: shipped maps, signs, OBIS catalog.

The documentation must not drift from the maps, so its tables are written by this module
between markers (``<!-- BEGIN GENERATED: map sdm630 -->`` ... ``<!-- END GENERATED: map sdm630
-->``) and a test fails when the file differs from what the maps give. After changing a map::

    python -m meterhub.plugins.drivers.modbus.doctables docs/drivers/modbus.md

``--check`` only reports whether the file is current (exit status 1 when it is not).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from meterhub.plugins.drivers.modbus.obiscatalog import MANUFACTURER_CODES
from meterhub.plugins.drivers.modbus.registermap import (
    SIGNS,
    RegisterMap,
    shipped_map,
    shipped_map_names,
)

__all__ = ["generated_sections", "main", "render_catalog", "render_map", "render_signs", "update"]

_BLOCK = re.compile(
    r"(<!-- BEGIN GENERATED: (?P<name>[\w .-]+) -->\n)(?P<body>.*?)(<!-- END GENERATED: "
    r"(?P=name) -->)",
    re.DOTALL,
)


def _short_obis(obis: str) -> str:
    return obis.removesuffix("*255")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _scale(value: float) -> str:
    return f"{value:g}"


def render_map(register_map: RegisterMap) -> str:
    """A Markdown table of every register of a map, in map order."""
    functions = sorted({r.function for r in register_map.registers})
    lines = [
        f"{register_map.description}.",
        "",
        f"Source: {register_map.reference or 'see the map file'}. "
        f"Function {', '.join(str(f) for f in functions)}; at most {register_map.max_read} "
        f"registers per request, block reads span up to {register_map.max_gap} unmapped "
        f"registers; {len(register_map.registers)} registers.",
        "",
        "| Address | Name | Manual | Type | Words | Scale | Unit | OBIS | Sign |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for register in register_map.registers:
        order = "high word first" if register.word_order == "big" else "low word first"
        words = "-" if register.count == 1 else order
        if register.byte_order == "little":
            words += ", bytes swapped"
        lines.append(
            f"| {register.address} (0x{register.address:04X}) | `{register.name}` "
            f"| {_cell(register.description)} | {register.data_type} | {words} "
            f"| {_scale(register.scale)} | {register.unit or ''} "
            f"| `{_short_obis(register.obis)}` "
            f"| {'' if register.sign == 'none' else register.sign} |"
        )
    return "\n".join(lines) + "\n"


def render_signs() -> str:
    """The sign conventions a register can declare."""
    lines = ["| `sign` | Meaning |", "|---|---|"]
    lines += [f"| `{name}` | {_cell(meaning)} |" for name, meaning in SIGNS.items()]
    return "\n".join(lines) + "\n"


def render_catalog() -> str:
    """The manufacturer-specific OBIS codes and the shipped maps that use each."""
    users: dict[str, list[str]] = {code: [] for code in MANUFACTURER_CODES}
    for name in shipped_map_names():
        for register in shipped_map(name).registers:
            if register.obis in users:
                users[register.obis].append(name)
    lines = ["| OBIS | Quantity | Maps |", "|---|---|---|"]
    for code, text in MANUFACTURER_CODES.items():
        lines.append(f"| `{_short_obis(code)}` | {_cell(text)} | {', '.join(users[code])} |")
    return "\n".join(lines) + "\n"


def generated_sections() -> dict[str, str]:
    """Marker name → generated Markdown, for every generated block the document has."""
    sections = {"signs": render_signs(), "obis catalog": render_catalog()}
    for name in shipped_map_names():
        sections[f"map {name}"] = render_map(shipped_map(name))
    return sections


def update(text: str) -> str:
    """``text`` with every generated block rewritten.

    :raises ValueError: a block is missing from ``text`` or the text has a block no data makes.
    """
    sections = generated_sections()
    found = {match.group("name") for match in _BLOCK.finditer(text)}
    missing = sorted(set(sections) - found)
    if missing:
        raise ValueError(
            f"no block <!-- BEGIN GENERATED: {missing[0]} --> ... <!-- END GENERATED: "
            f"{missing[0]} --> in the document"
        )
    unknown = sorted(found - set(sections))
    if unknown:
        raise ValueError(f"the document has a generated block {unknown[0]!r} that no data makes")
    return _BLOCK.sub(
        lambda match: match.group(1) + sections[match.group("name")] + match.group(4), text
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrite (or with ``--check`` verify) the generated tables of a Markdown file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("document", type=Path, help="docs/drivers/modbus.md")
    parser.add_argument("--check", action="store_true", help="only report whether it is current")
    options = parser.parse_args(argv)
    text = options.document.read_text(encoding="utf-8")
    try:
        current = update(text)
    except ValueError as exc:
        print(f"{options.document}: {exc}", file=sys.stderr)
        return 2
    if current == text:
        return 0
    if options.check:
        print(f"{options.document}: generated tables are out of date", file=sys.stderr)
        return 1
    options.document.write_text(current, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
