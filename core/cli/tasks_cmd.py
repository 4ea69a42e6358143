"""``meterhub tasks`` (what acquisition did, filtered) and ``meterhub trace TASK`` (a debug log)."""

from __future__ import annotations

import json

import click

from meterhub.cli.output import echo_table
from meterhub.cli.state import current_state

__all__ = ["tasks_command", "trace_command"]


class TaskStateChoice(click.Choice[str]):
    """The task states of :mod:`meterhub.model.tasks`, read when first asked for.

    Importing the model (SQLAlchemy with every table) when the command is only defined would
    slow down every ``meterhub`` command, ``--help`` included.
    """

    def __init__(self) -> None:
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        from meterhub.model.tasks import TASK_STATES

        return TASK_STATES

    @choices.setter
    def choices(self, value: object) -> None:
        """Ignored: the states are the model's."""


@click.command("tasks")
@click.option("--run", "run_id", type=int, default=None, help="Tasks of this run.")
@click.option("--job", default=None, help="Tasks of this job (name or id).")
@click.option("--meter", default=None, help="Tasks of this meter (id or serial).")
@click.option("--state", type=TaskStateChoice(), default=None)
@click.option("--error-class", default=None, help="link, timeout, authentication, ...")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per task.")
def tasks_command(
    run_id: int | None,
    job: str | None,
    meter: str | None,
    state: str | None,
    error_class: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Acquisition tasks, newest first: state, meter, action, path, error."""
    from meterhub.inventory.jobs import find_job, find_meter
    from meterhub.inventory.tasks import task_list
    from meterhub.model.meters import Meter

    runtime = current_state().runtime()
    with runtime.sessions() as session:
        job_id = find_job(session, int(job) if job and job.isdigit() else job).id if job else None
        meter_id = find_meter(session, meter).id if meter else None
        found = task_list(
            session, run_id=run_id, job_id=job_id, meter_id=meter_id, state=state,
            error_class=error_class, limit=limit,
        )  # fmt: skip
        serials = {
            m.id: m.serial_number
            for m in session.query(Meter).filter(Meter.id.in_({t.meter_id for t in found}))
        }
    if as_json:
        for task in found:
            click.echo(
                json.dumps(
                    {
                        "id": task.id,
                        "run": task.run_id,
                        "job": task.job_id,
                        "meter": serials.get(task.meter_id, task.meter_id),
                        "action": task.action,
                        "state": task.state,
                        "attempts": task.attempts,
                        "started": task.started_at.isoformat() if task.started_at else None,
                        "finished": task.finished_at.isoformat() if task.finished_at else None,
                        "progress": task.progress,
                        "path": task.path_priority,
                        "error_class": task.error_class,
                        "error": task.error_message,
                        "warnings": task.warnings,
                        "details": task.details,
                        "sessions": task.sessions,
                    },
                    sort_keys=True,
                )
            )
        return
    if not found:
        click.echo("no tasks")
        return
    rows = [
        [
            str(task.id),
            str(task.run_id),
            serials.get(task.meter_id, str(task.meter_id)),
            task.action,
            task.state,
            str(task.attempts),
            "" if task.path_priority is None else ("main" if task.path_priority == 1 else "backup"),
            f"{task.finished_at:%Y-%m-%d %H:%M:%S}" if task.finished_at else "",
            str(task.warnings) if task.warnings else "",
            f"{task.error_class}: {task.error_message}" if task.error_class else "",
        ]
        for task in found
    ]
    echo_table(
        rows,
        headers=["task", "run", "meter", "action", "state", "tries", "path", "finished (UTC)",
                 "warnings", "error"],
    )  # fmt: skip


@click.command("trace")
@click.argument("task_id", type=int)
def trace_command(task_id: int) -> None:
    """The debug log of a task: each session's frames (hex, secrets masked) and notes."""
    from meterhub.inventory.tasks import find_task, sessions_of, trace_lines

    runtime = current_state().runtime()
    with runtime.sessions() as session:
        task = find_task(session, task_id)
        logs = sessions_of(session, task)
        if not logs:
            click.echo(f"task {task_id} has no session yet ({task.state})")
            return
        for log in logs:
            path = "direct" if log.path_priority is None else f"path {log.path_priority}"
            error = f" {log.error_class}: {log.error_message}" if log.error_class else ""
            click.echo(
                f"session {log.id} attempt {log.attempt} {path} "
                f"{log.started_at:%Y-%m-%d %H:%M:%S.%f}Z {log.outcome}{error} "
                f"({log.bytes_sent} bytes sent, {log.bytes_received} received)"
            )
            lines = trace_lines(log)
            if not lines:
                reason = "no frames" if not log.frame_count else "not kept (trace policy or age)"
                click.echo(f"  ({reason})")
            for line in lines:
                click.echo(f"  {line}")
