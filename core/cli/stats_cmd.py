"""``meterhub stats``: communication statistics per hour or day, at one level.

Reads what :func:`meterhub.acquisition.statistics.communication_statistics` returns: sessions
(attempts), successes, failures by error class, durations, bytes, backup-path use, per bucket
and object of the level (the summary, a virtual meter, a communication device or path).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import click

from meterhub.cli.output import echo_table
from meterhub.cli.state import current_state
from meterhub.errors import InvalidValue

__all__ = ["stats_command"]

#: Levels as the command takes them.
LEVEL_CHOICES = ("summary", "virtual-meter", "device", "path")

_RELATIVE = re.compile(r"^(\d+)\s*([hd])$")


def parse_since(text: str, now: datetime) -> datetime:
    """``24h``, ``7d`` (before ``now``) or an ISO 8601 time (UTC unless it has an offset)."""
    value = text.strip()
    relative = _RELATIVE.match(value)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return now - (timedelta(hours=amount) if unit == "h" else timedelta(days=amount))
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidValue(
            "since", f"{text!r} is neither a time (2026-12-01T00:00) nor an age (24h, 7d)"
        ) from None
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


@click.command("stats")
@click.option(
    "--level", type=click.Choice(LEVEL_CHOICES), default="summary", show_default=True,
    help="Whose statistics: the summary, or per virtual meter, device or path.",
)  # fmt: skip
@click.option(
    "--key", "keys", type=int, multiple=True,
    help="Only this virtual meter, device or path (its id; repeatable).",
)  # fmt: skip
@click.option(
    "--since", default=None,
    help="From this time (ISO 8601, UTC unless an offset is given) or age (24h, 7d); "
    "default: 24h for hours, 7d for days.",
)  # fmt: skip
@click.option("--until", default=None, help="Up to this time (exclusive; default: now).")
@click.option("--bucket", type=click.Choice(("hour", "day")), default="hour", show_default=True)
@click.option(
    "--zone", default="UTC", show_default=True, help="The zone of the days (--bucket day)."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per bucket and object.")
def stats_command(
    level: str,
    keys: tuple[int, ...],
    since: str | None,
    until: str | None,
    bucket: str,
    zone: str,
    as_json: bool,
) -> None:
    """Communication statistics: sessions, successes, failures by error class, durations,
    bytes, per hour or day."""
    from meterhub.acquisition.statistics import communication_statistics, object_names

    now = datetime.now(UTC)
    start = parse_since(since or ("24h" if bucket == "hour" else "7d"), now)
    end = None
    if until is not None:
        end = parse_since(until, now)
    scope = level.replace("-", "_")
    runtime = current_state().runtime()
    with runtime.sessions() as session:
        rows = communication_statistics(
            session, scope, list(keys) or None, since=start, until=end, bucket=bucket, zone=zone
        )
        names = object_names(session, scope, {row.key for row in rows if row.key is not None})
    if as_json:
        for row in rows:
            data = row.as_dict()
            if row.key is not None:
                data["name"] = names.get(row.key)
            click.echo(json.dumps(data, sort_keys=True))
        return
    if not rows:
        click.echo(f"no sessions since {start:%Y-%m-%d %H:%M} UTC")
        return
    fmt = "%Y-%m-%d %H:00" if bucket == "hour" else "%Y-%m-%d"
    headers = [f"{bucket} ({zone if bucket == 'day' else 'UTC'})"]
    if scope != "summary":
        headers += ["id", "name"]
    headers += ["attempts", "ok", "failed", "success %", "failures", "mean s", "bytes sent",
                "bytes received", "backup", "failovers"]  # fmt: skip
    table = []
    for row in rows:
        cells = [row.bucket.strftime(fmt)]
        if scope != "summary":
            cells += [str(row.key), names.get(row.key or 0, "")]
        cells += [
            str(row.attempts),
            str(row.successes),
            str(row.failed),
            f"{100 * row.successes / row.attempts:.1f}" if row.attempts else "",
            ", ".join(f"{name} {count}" for name, count in sorted(row.failures.items())),
            f"{row.mean_seconds:.3f}" if row.mean_seconds is not None else "",
            str(row.bytes_sent),
            str(row.bytes_received),
            str(row.backup),
            str(row.failovers),
        ]
        table.append(cells)
    echo_table(table, headers=headers)
