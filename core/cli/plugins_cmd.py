"""``meterhub plugins``: what plugins loaded, which the license refused, which failed and why.

The command needs no database: it reads the settings and the license and builds the plugin host
the way the application does. ``--json`` prints the load records as a JSON list.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from meterhub.cli.output import table_lines
from meterhub.cli.state import current_state

if TYPE_CHECKING:
    from meterhub.pluginhost import PluginHost, PluginRecord

__all__ = ["build_host", "format_text", "plugins_command", "records_as_json"]


def build_host() -> PluginHost:
    """Build the plugin host from the settings and the license, as the application does."""
    from meterhub.licensing import load_license
    from meterhub.pluginhost import build_plugin_host

    settings = current_state().settings()
    license = load_license(settings.effective_license_file, settings.license_public_key)
    return build_plugin_host(license, settings)


def records_as_json(host: PluginHost) -> str:
    """The host's load records as a JSON list, one object per plugin."""
    return json.dumps([record.as_dict() for record in host.records], indent=2)


def _origin(record: PluginRecord) -> str:
    if record.distribution is None:
        return "(registered in code)"
    return f"{record.distribution} {record.version or '?'}"


def format_text(host: PluginHost) -> str:
    """The human-readable report: loaded, refused and failed plugins, and name conflicts."""
    from meterhub.pluginhost import KINDS

    sections = (
        ("Loaded", host.loaded(), lambda r: f"feature {r.feature}" if r.feature else "no feature"),
        ("Refused", host.refused(), lambda r: r.reason),
        ("Failed", host.failed(), lambda r: r.reason),
    )
    lines = [f"License: {host.license}"]
    for title, records, detail in sections:
        lines.append("")
        lines.append(f"{title} ({len(records)}):")
        if not records:
            lines.append("  none")
            continue
        rows = [(r.name, r.group, _origin(r), detail(r)) for r in records]
        headers = ("Name", "Group", "Distribution", "Feature" if title == "Loaded" else "Reason")
        lines.extend(table_lines(rows, headers=headers, indent=2))
        if title == "Loaded":
            notes = [f"  {r.group}:{r.name}: {r.reason}" for r in records if r.reason]
            lines.extend(notes)
    contributions = []
    for kind in KINDS:
        for name, source in sorted(host.contribution_sources(kind).items()):
            contributions.append((kind, name, f"from {source}"))
    lines.append("")
    lines.append(f"Contributions ({len(contributions)}):")
    if contributions:
        lines.extend(table_lines(contributions, headers=("Kind", "Name", "Source"), indent=2))
    else:
        lines.append("  none")
    if host.conflicts:
        lines.append("")
        lines.append(f"Name conflicts ({len(host.conflicts)}):")
        lines.extend(f"  {conflict.describe()}" for conflict in host.conflicts)
    return "\n".join(lines)


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print the load records as JSON.")
def plugins_command(as_json: bool) -> None:
    """List the plugins: loaded, refused by the license, or failed to load (with the error)."""
    host = build_host()
    click.echo(records_as_json(host) if as_json else format_text(host))


if __name__ == "__main__":  # pragma: no cover - ``python -m meterhub.cli.plugins_cmd``
    plugins_command()
