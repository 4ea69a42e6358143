"""``meterhub vee``: run a validation profile now (on demand) or as the scheduler would.

``meterhub vee run PROFILE --from 2026-03-01 --to 2026-03-08`` runs it over a period;
``meterhub vee run PROFILE --scheduled`` over the profile's ``lookback_days`` up to now — the
command (or :meth:`meterhub.vee.VeeEngine.run_scheduled`) is what a scheduler calls for a
profile's RRULE. The run's summary is printed; the exit status is 1 when the run failed.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click

from meterhub.cli.group import CommandFailed
from meterhub.cli.state import current_state

__all__ = ["vee_group"]


def _instant(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@click.group("vee")
def vee_group() -> None:
    """Validation, estimation and editing: run profiles."""


@vee_group.command("run")
@click.argument("profile")
@click.option(
    "--from",
    "start",
    default=None,
    help="Start of the period (ISO 8601; UTC unless an offset is given).",
)
@click.option("--to", "end", default=None, help="End of the period (exclusive).")
@click.option(
    "--scheduled", is_flag=True, help="Run as the scheduler does: lookback_days up to now."
)
@click.option(
    "--channel", "channels", type=int, multiple=True, help="Only these channel ids (repeatable)."
)
@click.option(
    "--batch",
    type=click.IntRange(1, 10_000),
    default=200,
    show_default=True,
    help="Channels per transaction.",
)
@click.option("--user", default="cli", show_default=True, help="Who the run is recorded for.")
def run_command(
    profile: str,
    start: str | None,
    end: str | None,
    scheduled: bool,
    channels: tuple[int, ...],
    batch: int,
    user: str,
) -> None:
    """Run PROFILE now and print its summary."""
    runtime = current_state().runtime()
    engine = runtime.vee
    engine.batch_channels = batch
    if scheduled:
        if start or end:
            raise click.UsageError("--scheduled takes no --from/--to")
        report = engine.run_scheduled(profile, user=user)
    else:
        if not start or not end:
            raise click.UsageError("give --from and --to, or --scheduled")
        report = engine.run(
            profile,
            _instant(start),
            _instant(end),
            channel_ids=list(channels) or None,
            trigger="demand",
            user=user,
        )
    click.echo(
        f"run {report.run_id} of {report.profile}: {report.status}; "
        f"{report.channels_done} channels ({report.channels_failed} failed), "
        f"{report.values_checked} values checked, {report.values_suspect} suspect, "
        f"{report.values_estimated} estimated"
    )
    for step, found in sorted(report.by_step.items()):
        click.echo(f"  {step}: {found}")
    for channel, message in sorted(report.failures.items()):
        click.echo(f"  channel {channel} failed: {message}")
    if report.status == "failed":
        raise CommandFailed(f"run {report.run_id} failed")
