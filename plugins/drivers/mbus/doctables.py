"""The meter-type tables of ``docs/drivers/mbus.md``, written from the shipped catalogues.

The documentation must not drift from ``types/*.toml``, so its tables are written by this
module between markers (``<!-- BEGIN GENERATED: meter types mbus -->`` ... ``<!-- END
GENERATED: meter types mbus -->``) and a test fails when the file differs from what the
catalogues give. After changing a catalogue::

    python -m meterhub.plugins.drivers.mbus.doctables docs/drivers/mbus.md

``--check`` only reports whether the file is current (exit status 1 when it is not).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from meterhub.extensions.metertype import MeterType
from meterhub.plugins.drivers.mbus.catalogue import CATALOGUES, load_catalogue

__all__ = ["main", "render_types", "update"]

_BLOCK = re.compile(
    r"(<!-- BEGIN GENERATED: (?P<name>[\w .-]+) -->\n)(?P<body>.*?)(<!-- END GENERATED: "
    r"(?P=name) -->)",
    re.DOTALL,
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _channel(obis: str, unit: str | None, scaler: int) -> str:
    short = obis.removesuffix("*255")
    if unit is None:
        return f"`{short}`"
    return f"`{short}` {unit}" + (f" ×10^{scaler}" if scaler else "")


def _settings(meter_type: type[MeterType]) -> str:
    return ", ".join(f"`{k}={v}`" for k, v in meter_type.settings.items()) or "–"


def render_types(types: Sequence[type[MeterType]]) -> str:
    """A Markdown table of meter types (one row each) and their references."""
    lines = [
        "| Type | Meter | Medium | Channels (OBIS, unit, scaler) | Settings |",
        "|---|---|---|---|---|",
    ]
    for kind in types:
        channels = "; ".join(_channel(c.obis, c.unit, c.scaler) for c in kind.channels)
        meter = _cell(f"{kind.manufacturer} {kind.model}")
        lines.append(
            f"| `{kind.name}` | {meter} | {kind.medium} | {channels} | {_settings(kind)} |"
        )
    lines += ["", "References:", ""]
    lines += [f"- `{kind.name}`: {_cell(kind.reference)}" for kind in types]
    return "\n".join(lines) + "\n"


def _blocks() -> dict[str, str]:
    return {f"meter types {driver}": render_types(load_catalogue(driver)) for driver in CATALOGUES}


def update(text: str) -> str:
    """``text`` with every generated block rewritten; :class:`ValueError` if one is missing."""
    blocks = _blocks()
    seen = set()

    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in blocks:
            return match.group(0)
        seen.add(name)
        return match.group(1) + blocks[name] + match.group(4)

    result = _BLOCK.sub(replace, text)
    missing = sorted(set(blocks) - seen)
    if missing:
        raise ValueError(f"no block <!-- BEGIN GENERATED: {missing[0]} --> in the document")
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrite (or with ``--check`` verify) the generated tables of a Markdown file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--check", action="store_true", help="only report whether it is current")
    options = parser.parse_args(argv)
    text = options.path.read_text(encoding="utf-8")
    current = update(text)
    if options.check:
        if current != text:
            print(f"{options.path} is out of date", file=sys.stderr)
            return 1
        return 0
    if current != text:
        options.path.write_text(current, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
