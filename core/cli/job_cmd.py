"""``meterhub job add|list|run|cancel``: acquisition jobs from the command line.

An action is written ``NAME`` or ``NAME?key=value&key=value`` (``read_load_profile?range=
previous_day``, ``set_clock?tolerance=10&maximum=3600``, ``read_registers?obis=1.8.0,2.8.0``;
a value starting with ``{`` or ``[`` is JSON). ``job run`` starts a run; when no acquisition
engine runs on the database (``meterhub acquire``, ``meterhub demo``), it runs one in the
foreground until the run has ended, with a progress bar.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import click

from meterhub.cli.output import echo_table
from meterhub.cli.state import current_state
from meterhub.errors import InvalidValue

if TYPE_CHECKING:
    from meterhub.runtime import Runtime

__all__ = ["job_group", "parse_action_spec"]


def parse_action_spec(text: str) -> dict[str, Any] | str:
    """``NAME`` or ``NAME?key=value&...`` as an action for :func:`create_job`."""
    name, _, query = text.strip().partition("?")
    if not query:
        return name
    parameters: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        if value.startswith(("{", "[")):
            try:
                parameters[key] = json.loads(value)
            except json.JSONDecodeError as exc:
                raise InvalidValue(f"action {name}: {key}", f"not valid JSON: {exc}") from None
        else:
            parameters[key] = value
    return {"action": name, "parameters": parameters}


def _instant(text: str | None, field: str) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InvalidValue(field, f"{text!r} is not a date and time (2026-12-01T01:00)") from None


def _int_or_text(value: str) -> int | str:
    return int(value) if value.strip().isdigit() else value


@click.group("job")
def job_group() -> None:
    """Acquisition jobs: add, list, run, cancel."""


@job_group.command("add")
@click.argument("name")
@click.option("--action", "actions", multiple=True, required=True, help="NAME[?key=value&...]")
@click.option(
    "--meter", "meters", multiple=True, help="A meter: id, serial or manufacturer/serial."
)
@click.option("--group", "groups", multiple=True, help="A meter group (name or id).")
@click.option("--error-group", "error_groups", multiple=True, help="An error group (name or id).")
@click.option("--rrule", default=None, help="RFC 5545 rule: makes a scheduled job.")
@click.option("--start", default=None, help="First occurrence (ISO time; local in --tz).")
@click.option("--tz", "time_zone", default="UTC", show_default=True, help="IANA time zone.")
@click.option("--window", type=int, default=None, help="Window of opportunity in minutes.")
@click.option("--except", "exceptions", multiple=True, help="A date with no run (YYYY-MM-DD).")
@click.option("--priority", type=int, default=5, show_default=True, help="0 (low) to 9 (high).")
@click.option("--attempts", type=int, default=3, show_default=True, help="Attempts per task.")
@click.option("--retry-delay", type=int, default=60, show_default=True, help="Seconds.")
@click.option("--backoff", type=float, default=2.0, show_default=True, help="Delay factor.")
@click.option("--timeout", type=int, default=300, show_default=True, help="Seconds a session.")
@click.option("--user", default="cli", show_default=True, help="Recorded as who made the job.")
def add_job_command(
    name: str,
    actions: tuple[str, ...],
    meters: tuple[str, ...],
    groups: tuple[str, ...],
    error_groups: tuple[str, ...],
    rrule: str | None,
    start: str | None,
    time_zone: str,
    window: int | None,
    exceptions: tuple[str, ...],
    priority: int,
    attempts: int,
    retry_delay: int,
    backoff: float,
    timeout: int,
    user: str,
) -> None:
    """Add a job (scheduled with --rrule, else run on demand with 'job run')."""
    from meterhub.db import transaction
    from meterhub.inventory.jobs import create_job

    runtime = current_state().runtime()
    with transaction(runtime.sessions, user=user) as session:
        job = create_job(
            session,
            name=name,
            actions=[parse_action_spec(spec) for spec in actions],
            meters=list(meters),
            groups=[_int_or_text(g) for g in groups],
            error_groups=[_int_or_text(g) for g in error_groups],
            kind="scheduled" if rrule else "on_demand",
            recurrence=rrule,
            starts_at=_instant(start, "start"),
            time_zone=time_zone,
            window_minutes=window,
            exception_dates=list(exceptions),
            priority=priority,
            max_attempts=attempts,
            retry_delay=retry_delay,
            retry_backoff=backoff,
            session_timeout=timeout,
            user=user,
            drivers=runtime.plugins.drivers(),
        )
        nxt = f", next run {job.next_run_at:%Y-%m-%d %H:%M} UTC" if job.next_run_at else ""
        click.echo(f"job {job.name} added (id {job.id}, {job.kind}{nxt})")


@job_group.command("list")
def list_jobs_command() -> None:
    """The jobs with their kind, actions, next and last run."""
    from sqlalchemy import select

    from meterhub.model.jobs import Job

    runtime = current_state().runtime()
    with runtime.sessions() as session:
        rows = []
        for job in session.scalars(select(Job).where(Job.kind != "quick").order_by(Job.name)):
            rows.append(
                [
                    str(job.id),
                    job.name,
                    job.kind if job.enabled else f"{job.kind} (disabled)",
                    ",".join(entry["action"] for entry in job.actions),
                    job.recurrence or "",
                    f"{job.next_run_at:%Y-%m-%d %H:%M}" if job.next_run_at else "",
                    f"{job.last_run_at:%Y-%m-%d %H:%M}" if job.last_run_at else "",
                ]
            )
    if not rows:
        click.echo("no jobs")
        return
    echo_table(rows, headers=["id", "name", "kind", "actions", "rule", "next (UTC)", "last (UTC)"])


def _progress_line(progress: dict[str, Any]) -> str:
    success = "-" if progress["success"] is None else f"{progress['success']:.1f} %"
    return (
        f"run {progress['run_id']} {progress['status']}: {progress['total']} tasks, "
        f"{progress['succeeded']} succeeded, {progress['failed']} failed, "
        f"{progress['cancelled']} cancelled; success {success}"
    )


def wait_for_run(runtime: Runtime, run_id: int, timeout: float | None) -> dict[str, Any]:
    """Show a progress bar (on stderr) until run ``run_id`` ends; return its progress."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from meterhub.inventory.jobs import run_progress

    deadline = None if timeout is None else time.monotonic() + timeout
    console = Console(stderr=True)
    with Progress(
        TextColumn("run {task.fields[run]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task("run", total=None, run=run_id, detail="")
        while True:
            with runtime.sessions() as session:
                progress = run_progress(session, run_id)
            ended = progress["succeeded"] + progress["failed"] + progress["cancelled"]
            bar.update(
                task,
                total=progress["total"],
                completed=ended,
                detail=f"{progress['running']} running, {progress['failed']} failed",
            )
            if progress["finished_at"] is not None:
                return progress
            if deadline is not None and time.monotonic() > deadline:
                raise click.ClickException(
                    f"run {run_id} has not ended after {timeout:g} s; it goes on ("
                    f"{_progress_line(progress)})"
                )
            time.sleep(0.2)


@job_group.command("run")
@click.argument("name", required=False)
@click.option("--quick", "quick_meter", default=None, help="A quick job on this one meter.")
@click.option("--action", "actions", multiple=True, help="Actions of a quick job.")
@click.option("--error-group", default=None, help="Run an error group again (name or id).")
@click.option("--wait/--no-wait", default=False, help="Wait for the end with a progress bar.")
@click.option("--timeout", type=float, default=None, help="Stop waiting after this many s.")
@click.option("--user", default="cli", show_default=True, help="Who starts the run.")
def run_job_command(
    name: str | None,
    quick_meter: str | None,
    actions: tuple[str, ...],
    error_group: str | None,
    wait: bool,
    timeout: float | None,
    user: str,
) -> None:
    """Run a job now (or a quick job on one meter, or an error group again)."""
    from meterhub.acquisition.lease import EngineBusy, lease_holder
    from meterhub.acquisition.runs import RunPolicy
    from meterhub.db import transaction
    from meterhub.inventory import jobs

    chosen = [x for x in (name, quick_meter, error_group) if x is not None]
    if len(chosen) != 1:
        raise click.UsageError("name a job, or give --quick METER, or --error-group GROUP")
    if actions and quick_meter is None and error_group is None:
        raise click.UsageError("--action belongs to --quick or --error-group")
    state = current_state()
    runtime = state.runtime()
    settings = runtime.settings
    capacity = settings.acquisition_default_capacity
    policy = RunPolicy(settings.acquisition_user_share, settings.acquisition_large_job)
    with transaction(runtime.sessions, user=user) as session:
        if quick_meter is not None:
            if not actions:
                raise click.UsageError("a quick job needs at least one --action")
            run = jobs.quick_job(
                session, quick_meter, [parse_action_spec(a) for a in actions], user=user,
                drivers=runtime.plugins.drivers(), default_capacity=capacity,
            )  # fmt: skip
        elif error_group is not None:
            run = jobs.rerun_error_group(
                session, _int_or_text(error_group), user=user,
                actions=[parse_action_spec(a) for a in actions] or None,
                default_capacity=capacity,
            )  # fmt: skip
        else:
            assert name is not None
            run = jobs.run_job(
                session, _int_or_text(name), user=user, default_capacity=capacity, policy=policy
            )
        run_id, total = run.id, run.tasks_total
    click.echo(f"run {run_id} started: {total} tasks")
    holder = lease_holder(runtime.engine, "engine", datetime.now(UTC))
    if holder is not None:
        if not wait:
            click.echo(f"the acquisition engine {holder} runs it")
            return
        click.echo(_progress_line(wait_for_run(runtime, run_id, timeout)))
        return
    from meterhub.acquisition.engine import AcquisitionEngine, EngineOptions

    engine = AcquisitionEngine(
        runtime, options=EngineOptions(schedule=False, only_runs=frozenset({run_id}))
    )
    try:
        engine.start()
    except EngineBusy:  # an engine started meanwhile: it will run it
        click.echo(_progress_line(wait_for_run(runtime, run_id, timeout)))
        return
    click.echo("no acquisition engine runs on this database: running it here", err=True)
    try:
        progress = wait_for_run(runtime, run_id, timeout)
    finally:
        engine.stop()
    click.echo(_progress_line(progress))
    if progress["failed"] and progress["error_group_id"] is not None:
        click.echo(f"failed meters: error group {progress['error_group_id']}")


@job_group.command("cancel")
@click.argument("name", required=False)
@click.option("--run", "run_id", type=int, default=None, help="Cancel this run only.")
@click.option("--user", default="cli", show_default=True, help="Who cancels.")
def cancel_job_command(name: str | None, run_id: int | None, user: str) -> None:
    """Cancel the runs of a job that have not ended (or one run)."""
    from meterhub.db import transaction
    from meterhub.inventory import jobs

    if (name is None) == (run_id is None):
        raise click.UsageError("name a job or give --run ID")
    runtime = current_state().runtime()
    with transaction(runtime.sessions, user=user) as session:
        if run_id is not None:
            events = jobs.cancel_run(session, run_id, user=user)
            runs = [run_id]
        else:
            assert name is not None
            runs, events = jobs.cancel_job(session, _int_or_text(name), user=user)
    for event in events:
        runtime.plugins.notify("job_finished", job=event)
    if not runs:
        click.echo(f"job {name}: no run to cancel")
        return
    click.echo(f"cancelled: run {', '.join(str(r) for r in runs)}")
