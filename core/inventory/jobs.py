"""Operations on acquisition jobs: create, find, run, cancel, rerun an error group.

A job is checked completely before anything is written (:func:`create_job`): a name, at least
one action (each known, with valid parameters: :mod:`meterhub.acquisition.actions`), at least
one target that exists (meters by id, serial number or object; meter groups and error groups by
id, name or object), a valid calendar for a scheduled job (:mod:`meterhub.acquisition.calendars`)
and sane retry settings. A bad value is refused with :class:`~meterhub.errors.InvalidValue`
naming the field and the offending value (an unknown meter, an unknown action, a broken rule).

Starting a run (:func:`run_job`, :func:`quick_job`) creates the run and its tasks in the
caller's transaction; an acquisition engine (``meterhub acquire``, ``meterhub demo``, or the
foreground engine of ``meterhub job run``) picks it up once it is committed. Cancelling
(:func:`cancel_run`) ends the tasks that wait at once and asks the engine to stop the running
ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from meterhub.acquisition.actions import FirmwareParameters, JobAction, parse_actions
from meterhub.acquisition.calendars import Calendar, check_time_zone
from meterhub.acquisition.plans import load_pools
from meterhub.acquisition.runs import RunPolicy, cancel_waiting, finish_runs, start_run
from meterhub.acquisition.tables import table_of as _table
from meterhub.errors import Conflict, InvalidValue, NotFound
from meterhub.extensions.driver import Driver
from meterhub.extensions.events import FinishedJob
from meterhub.inventory.common import check_name, chunks, flush
from meterhub.model.errorgroups import ErrorGroup
from meterhub.model.firmware import FirmwareImage
from meterhub.model.groups import MeterGroup
from meterhub.model.jobs import JOB_KINDS, JOB_NAME_LENGTH, RUN_FINAL_STATES, Job, JobRun
from meterhub.model.meters import Meter
from meterhub.model.tasks import SessionLog, Task

__all__ = [
    "cancel_job",
    "cancel_run",
    "change_job",
    "create_job",
    "delete_job",
    "find_job",
    "find_meter",
    "find_run",
    "quick_job",
    "recent_runs",
    "rerun_error_group",
    "run_job",
    "run_progress",
]


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def find_meter(session: Session, ref: Meter | int | str, field: str = "meter") -> Meter:
    """A meter by object, id, serial number, or ``manufacturer/serial``."""
    if isinstance(ref, Meter):
        return ref
    if isinstance(ref, bool) or not isinstance(ref, int | str):
        raise InvalidValue(field, f"name a meter by id or serial number, not {ref!r}")
    if isinstance(ref, int) or (isinstance(ref, str) and ref.strip().isdigit()):
        meter = session.get(Meter, int(ref))
        if meter is not None:
            return meter
        if isinstance(ref, int):
            raise InvalidValue(field, f"no meter with id {ref}")
    text = str(ref).strip()
    manufacturer, _, serial = text.rpartition("/")
    query = select(Meter).where(Meter.serial_number == serial)
    if manufacturer:
        query = query.where(Meter.manufacturer == manufacturer)
    found = list(session.scalars(query.limit(2)))
    if not found:
        raise InvalidValue(field, f"no meter with serial number {text!r}")
    if len(found) > 1:
        raise InvalidValue(
            field, f"serial number {serial!r} is ambiguous: write manufacturer/serial or the id"
        )
    return found[0]


def _find_meters(session: Session, refs: list[Meter | int | str]) -> list[Meter]:
    """Meters by reference, the ids among them looked up together (a job of many meters)."""
    ids = [ref for ref in refs if isinstance(ref, int) and not isinstance(ref, bool)]
    known: dict[int, Meter] = {}
    for batch in chunks(sorted(set(ids))):
        known.update((m.id, m) for m in session.scalars(select(Meter).where(Meter.id.in_(batch))))
    found = []
    for index, ref in enumerate(refs):
        if isinstance(ref, int) and not isinstance(ref, bool) and ref in known:
            found.append(known[ref])
        else:
            found.append(find_meter(session, ref, f"meters[{index}]"))
    return found


def _find_named(
    session: Session, kind: type[MeterGroup] | type[ErrorGroup], ref: Any, field: str, what: str
) -> int:
    if isinstance(ref, kind):
        return int(ref.id)
    if isinstance(ref, bool) or not isinstance(ref, int | str):
        raise InvalidValue(field, f"name a {what} by id or name, not {ref!r}")
    found: Any
    if isinstance(ref, int):
        found = session.get(kind, ref)
        if found is None:
            raise InvalidValue(field, f"no {what} with id {ref}")
        return int(found.id)
    found = session.scalars(select(kind).where(kind.name == ref.strip())).first()
    if found is None and ref.strip().isdigit():
        found = session.get(kind, int(ref))
    if found is None:
        raise InvalidValue(field, f"no {what} named {ref!r}")
    return int(found.id)


def _int(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValue(field, f"must be a whole number, not {value!r}")
    if not low <= value <= high:
        raise InvalidValue(field, f"must be {low} to {high}, not {value}")
    return value


def _resolve_firmware(session: Session, actions: list[JobAction]) -> list[JobAction]:
    resolved = []
    for index, action in enumerate(actions):
        parameters = action.parameters
        if isinstance(parameters, FirmwareParameters):
            query = select(FirmwareImage).where(FirmwareImage.name == parameters.image)
            if parameters.version is not None:
                query = query.where(FirmwareImage.version == parameters.version)
            image = session.scalars(query.order_by(FirmwareImage.id.desc())).first()
            if image is None:
                what = f"{parameters.image} {parameters.version or ''}".strip()
                raise InvalidValue(
                    f"actions[{index}].parameters.image",
                    f"no firmware image {what!r} in the firmware store",
                )
            parameters = parameters.model_copy(
                update={"image_id": image.id, "version": image.version}
            )
            action = JobAction(action.name, parameters)
        resolved.append(action)
    return resolved


def _checked(
    session: Session,
    *,
    name: str,
    actions: Sequence[Any],
    meters: Iterable[Meter | int | str],
    groups: Iterable[MeterGroup | int | str],
    error_groups: Iterable[ErrorGroup | int | str],
    kind: str,
    recurrence: str | None,
    starts_at: datetime | None,
    time_zone: str,
    window_minutes: int | None,
    exception_dates: Iterable[Any],
    priority: int,
    max_attempts: int,
    retry_delay: int,
    retry_backoff: float,
    session_timeout: int,
    drivers: Mapping[str, type[Driver]] | None,
    now: datetime,
    job_id: int | None = None,
) -> dict[str, Any]:
    """Every part of a job checked (see :func:`create_job`): the column values to store."""
    name = check_name(name, field="name", max_length=JOB_NAME_LENGTH)
    if kind not in JOB_KINDS:
        raise InvalidValue("kind", f"must be one of {', '.join(JOB_KINDS)}, not {kind!r}")
    parsed = _resolve_firmware(session, parse_actions(list(actions)))
    meter_objects = _find_meters(session, list(meters))
    group_ids = [
        _find_named(session, MeterGroup, ref, f"groups[{index}]", "meter group")
        for index, ref in enumerate(groups)
    ]
    error_group_ids = [
        _find_named(session, ErrorGroup, ref, f"error_groups[{index}]", "error group")
        for index, ref in enumerate(error_groups)
    ]
    if not (meter_objects or group_ids or error_group_ids):
        raise InvalidValue("targets", "a job needs at least one meter, meter group or error group")
    if kind == "quick" and (len(meter_objects) != 1 or group_ids or error_group_ids):
        raise InvalidValue("targets", "a quick job reads exactly one meter")
    if drivers is not None:
        for index, meter in enumerate(meter_objects):
            driver = drivers.get(meter.driver)
            if driver is None:
                raise InvalidValue(
                    f"meters[{index}]",
                    f"meter {meter.serial_number} uses driver {meter.driver!r}, not loaded",
                )
            offered = {action.value for action in driver.info().actions}
            for action in parsed:
                if action.name not in offered:
                    raise InvalidValue(
                        f"meters[{index}]",
                        f"meter {meter.serial_number} (driver {meter.driver!r}) does not support "
                        f"the action {action.name!r}",
                    )
    priority = _int(priority, "priority", 0, 9)
    max_attempts = _int(max_attempts, "max_attempts", 1, 100)
    retry_delay = _int(retry_delay, "retry_delay", 0, 7 * 86_400)
    session_timeout = _int(session_timeout, "session_timeout", 1, 86_400)
    if isinstance(retry_backoff, bool) or not isinstance(retry_backoff, int | float):
        raise InvalidValue("retry_backoff", f"must be a number, not {retry_backoff!r}")
    if not 1.0 <= float(retry_backoff) <= 10.0:
        raise InvalidValue("retry_backoff", f"must be 1 to 10, not {retry_backoff}")
    zone = check_time_zone(time_zone)
    next_run = None
    exceptions = list(exception_dates)
    if kind == "scheduled":
        if recurrence is None:
            raise InvalidValue("recurrence", "a scheduled job needs a recurrence rule")
        calendar = Calendar.parse(
            recurrence, starts_at or now, zone.key, window_minutes, exceptions
        )
        next_run = calendar.next_after(max(now, calendar.starts_at) - timedelta(microseconds=1))
        stored_start: datetime | None = calendar.starts_at
        stored_exceptions = sorted(day.isoformat() for day in calendar.exceptions)
        recurrence = calendar.rule
    else:
        if recurrence is not None or window_minutes is not None or exceptions:
            raise InvalidValue(
                "recurrence", f"a {kind} job has no calendar; make it a scheduled job"
            )
        stored_start, stored_exceptions = None, []
    clash_query = select(Job).where(Job.name == name)
    if job_id is not None:
        clash_query = clash_query.where(Job.id != job_id)
    clash = session.scalars(clash_query).first()
    if clash is not None:
        raise Conflict("name", f"a job named {name!r} exists (id {clash.id})")
    return {
        "name": name,
        "kind": kind,
        "actions": [action.as_json() for action in parsed],
        "targets": {
            "meters": sorted({meter.id for meter in meter_objects}),
            "groups": sorted(set(group_ids)),
            "error_groups": sorted(set(error_group_ids)),
        },
        "priority": priority,
        "time_zone": zone.key,
        "recurrence": recurrence,
        "starts_at": stored_start,
        "window_minutes": window_minutes,
        "exception_dates": stored_exceptions,
        "max_attempts": max_attempts,
        "retry_delay": retry_delay,
        "retry_backoff": float(retry_backoff),
        "session_timeout": session_timeout,
        "next_run_at": next_run,
    }


def create_job(
    session: Session,
    *,
    name: str,
    actions: Sequence[Any],
    meters: Iterable[Meter | int | str] = (),
    groups: Iterable[MeterGroup | int | str] = (),
    error_groups: Iterable[ErrorGroup | int | str] = (),
    kind: str = "on_demand",
    recurrence: str | None = None,
    starts_at: datetime | None = None,
    time_zone: str = "UTC",
    window_minutes: int | None = None,
    exception_dates: Iterable[Any] = (),
    priority: int = 5,
    max_attempts: int = 3,
    retry_delay: int = 60,
    retry_backoff: float = 2.0,
    session_timeout: int = 300,
    enabled: bool = True,
    user: str = "system",
    drivers: Mapping[str, type[Driver]] | None = None,
    now: datetime | None = None,
) -> Job:
    """Create a job (see the module docstring); every argument is checked first.

    ``actions`` are action names or ``{"action": name, "parameters": {...}}``. A scheduled job
    needs ``recurrence`` (and starts at ``starts_at``, default now); ``window_minutes`` is its
    window of opportunity. With ``drivers`` (the loaded driver classes by name) each meter named
    directly must have a driver that offers every action.
    """
    now = _now(now)
    values = _checked(
        session, name=name, actions=actions, meters=meters, groups=groups,
        error_groups=error_groups, kind=kind, recurrence=recurrence, starts_at=starts_at,
        time_zone=time_zone, window_minutes=window_minutes, exception_dates=exception_dates,
        priority=priority, max_attempts=max_attempts, retry_delay=retry_delay,
        retry_backoff=retry_backoff, session_timeout=session_timeout, drivers=drivers, now=now,
    )  # fmt: skip
    job = Job(**values, enabled=bool(enabled), created_by=user[:200], created_at=now)
    session.add(job)
    flush(session, field="name")
    return job


#: The parts of a job :func:`change_job` changes.
CHANGEABLE: tuple[str, ...] = (
    "name",
    "actions",
    "meters",
    "groups",
    "error_groups",
    "recurrence",
    "starts_at",
    "time_zone",
    "window_minutes",
    "exception_dates",
    "priority",
    "max_attempts",
    "retry_delay",
    "retry_backoff",
    "session_timeout",
    "enabled",
)


def change_job(
    session: Session,
    job: Job,
    *,
    drivers: Mapping[str, type[Driver]] | None = None,
    now: datetime | None = None,
    **changes: Any,
) -> Job:
    """Change parts of ``job`` (names in :data:`CHANGEABLE`); the whole job is checked again
    exactly as :func:`create_job` checks a new one before anything changes.

    A job with a ``recurrence`` is scheduled, one without is run on demand (setting
    ``recurrence`` to ``None`` also drops the window and the exception dates); a quick job
    cannot be changed. The next run is computed again from the new calendar.
    """
    unknown = sorted(set(changes) - set(CHANGEABLE))
    if unknown:
        raise InvalidValue(unknown[0], f"cannot be changed; changeable: {', '.join(CHANGEABLE)}")
    if job.kind == "quick":
        raise InvalidValue("kind", f"job {job.name!r} is a quick job; it cannot be changed")
    now = _now(now)
    current: dict[str, Any] = {
        "name": job.name,
        "actions": job.actions,
        "meters": list(job.targets.get("meters", ())),
        "groups": list(job.targets.get("groups", ())),
        "error_groups": list(job.targets.get("error_groups", ())),
        "recurrence": job.recurrence,
        "starts_at": job.starts_at,
        "time_zone": job.time_zone,
        "window_minutes": job.window_minutes,
        "exception_dates": list(job.exception_dates or ()),
        "priority": job.priority,
        "max_attempts": job.max_attempts,
        "retry_delay": job.retry_delay,
        "retry_backoff": job.retry_backoff,
        "session_timeout": job.session_timeout,
    }
    enabled = changes.pop("enabled", None)
    wanted = current | changes
    if "recurrence" in changes and changes["recurrence"] is None:
        if "window_minutes" not in changes:
            wanted["window_minutes"] = None
        if "exception_dates" not in changes:
            wanted["exception_dates"] = []
    kind = "scheduled" if wanted["recurrence"] is not None else "on_demand"
    if kind == "on_demand" and "starts_at" not in changes:
        wanted["starts_at"] = None
    values = _checked(session, **wanted, kind=kind, drivers=drivers, now=now, job_id=job.id)
    if (
        values["kind"] == job.kind
        and values["recurrence"] == job.recurrence
        and (
            values["starts_at"] == job.starts_at
            and values["time_zone"] == job.time_zone
            and values["exception_dates"] == list(job.exception_dates or ())
        )
    ):
        values["next_run_at"] = job.next_run_at  # the same calendar: keep its place
    for key, value in values.items():
        if getattr(job, key) != value:
            setattr(job, key, value)
    if enabled is not None and bool(enabled) != job.enabled:
        job.enabled = bool(enabled)
    flush(session, field="name")
    return job


def delete_job(session: Session, job: Job) -> None:
    """Delete ``job`` with its ended runs, their tasks and debug logs (the audit log keeps
    what control actions did); a job with a run that has not ended is refused."""
    active = session.scalar(
        select(func.count()).where(
            JobRun.job_id == job.id, JobRun.status.not_in(sorted(RUN_FINAL_STATES))
        )
    )
    if active:
        raise Conflict(
            "job", f"job {job.name!r} has {active} run(s) that have not ended; cancel them first"
        )
    connection = session.connection()
    runs, tasks, logs = _table(JobRun), _table(Task), _table(SessionLog)
    run_ids = [
        int(r)
        for r in connection.execute(select(runs.c.id).where(runs.c.job_id == job.id)).scalars()
    ]
    for batch in chunks(run_ids):
        task_ids = select(tasks.c.id).where(tasks.c.run_id.in_(batch))
        connection.execute(delete(logs).where(logs.c.task_id.in_(task_ids)))
        connection.execute(delete(tasks).where(tasks.c.run_id.in_(batch)))
        connection.execute(delete(runs).where(runs.c.id.in_(batch)))
    session.delete(job)
    flush(session, field="job")


def find_job(session: Session, ref: Job | int | str) -> Job:
    """A job by object, id or name; :class:`NotFound` names what was asked for."""
    if isinstance(ref, Job):
        return ref
    if isinstance(ref, int) and not isinstance(ref, bool):
        job = session.get(Job, ref)
    else:
        job = session.scalars(select(Job).where(Job.name == str(ref).strip())).first()
        if job is None and str(ref).strip().isdigit():
            job = session.get(Job, int(str(ref).strip()))
    if job is None:
        raise NotFound(f"no job {ref!r}")
    return job


def find_run(session: Session, run_id: int) -> JobRun:
    """A run by id."""
    run = session.get(JobRun, run_id)
    if run is None:
        raise NotFound(f"no run {run_id}")
    return run


def run_job(
    session: Session,
    job: Job | int | str,
    *,
    user: str,
    default_capacity: int = 64,
    policy: RunPolicy | None = None,
    now: datetime | None = None,
) -> JobRun:
    """Start a run of ``job`` for ``user`` now (its tasks wait for an engine)."""
    job = find_job(session, job)
    if not job.enabled:
        raise InvalidValue("job", f"job {job.name!r} is disabled")
    now = _now(now)
    connection = session.connection()
    pools = load_pools(connection, default_capacity)
    run_id = start_run(
        connection, job, trigger="user", user=user, now=now, pools=pools,
        policy=policy or RunPolicy(),
    )  # fmt: skip
    session.expire_all()
    return find_run(session, run_id)


def quick_job(
    session: Session,
    meter: Meter | int | str,
    actions: Sequence[Any],
    *,
    user: str,
    drivers: Mapping[str, type[Driver]] | None = None,
    default_capacity: int = 64,
    now: datetime | None = None,
) -> JobRun:
    """A quick job: one meter, started by ``user``, first in the queue; returns its run."""
    now = _now(now)
    target = find_meter(session, meter)
    names = [a if isinstance(a, str) else str(a.get("action", "")) for a in actions]
    job = create_job(
        session,
        name=f"quick {'+'.join(names)[:40]} {target.serial_number[:24]} {now:%Y%m%dT%H%M%S.%f}",
        actions=actions,
        meters=[target],
        kind="quick",
        priority=9,
        max_attempts=1,
        user=user,
        drivers=drivers,
        now=now,
    )
    return run_job(session, job, user=user, default_capacity=default_capacity, now=now)


def cancel_run(
    session: Session, run: JobRun | int, *, user: str, now: datetime | None = None
) -> list[FinishedJob]:
    """Cancel a run: waiting tasks end at once, running ones when the engine sees it.

    Returns the ``job_finished`` events to fire after the commit (when nothing ran).
    """
    run = run if isinstance(run, JobRun) else find_run(session, run)
    if run.status in RUN_FINAL_STATES:
        raise InvalidValue("run", f"run {run.id} has already ended ({run.status})")
    now = _now(now)
    connection = session.connection()
    table = _table(JobRun)
    connection.execute(update(table).where(table.c.id == run.id).values(cancel_requested=True))
    cancel_waiting(connection, run.id, now, message=f"cancelled by {user}")
    events = finish_runs(connection, [run.id], now)
    session.expire_all()
    return events


def cancel_job(
    session: Session, job: Job | int | str, *, user: str
) -> tuple[list[int], list[FinishedJob]]:
    """Cancel every run of ``job`` that has not ended; returns their ids and the
    ``job_finished`` events to fire after the commit."""
    job = find_job(session, job)
    runs = list(
        session.scalars(
            select(JobRun.id).where(
                JobRun.job_id == job.id, JobRun.status.not_in(sorted(RUN_FINAL_STATES))
            )
        )
    )
    events: list[FinishedJob] = []
    for run_id in runs:
        events.extend(cancel_run(session, run_id, user=user))
    return runs, events


def rerun_error_group(
    session: Session,
    group: ErrorGroup | int | str,
    *,
    user: str,
    actions: Sequence[Any] | None = None,
    default_capacity: int = 64,
    now: datetime | None = None,
) -> JobRun:
    """Run an error group again: an on-demand job over the group with the actions of the job
    whose run made it (or ``actions``); returns the new run."""
    now = _now(now)
    group_id = _find_named(session, ErrorGroup, group, "error_group", "error group")
    found = session.get(ErrorGroup, group_id)
    assert found is not None
    if actions is None:
        origin = session.get(Job, found.job_id) if found.job_id is not None else None
        if origin is None:
            raise InvalidValue(
                "actions", f"error group {found.name!r} has no job to take the actions from"
            )
        actions = origin.actions
    job = create_job(
        session,
        name=f"rerun of {found.name[:60]} {now:%Y%m%dT%H%M%S}",
        actions=actions,
        error_groups=[group_id],
        user=user,
        now=now,
    )
    return run_job(session, job, user=user, default_capacity=default_capacity, now=now)


def run_progress(session: Session, run: JobRun | int) -> dict[str, Any]:
    """A run's state for monitoring: counts, progress % (tasks ended), success % (of ended)."""
    run = run if isinstance(run, JobRun) else find_run(session, run)
    session.refresh(run)
    running = session.scalar(
        select(func.count()).where(Task.run_id == run.id, Task.state == "running")
    )
    ended = run.tasks_succeeded + run.tasks_failed + run.tasks_cancelled
    return {
        "run_id": run.id,
        "job_id": run.job_id,
        "status": run.status,
        "total": run.tasks_total,
        "succeeded": run.tasks_succeeded,
        "failed": run.tasks_failed,
        "cancelled": run.tasks_cancelled,
        "running": int(running or 0),
        "progress": round(100.0 * ended / run.tasks_total, 1) if run.tasks_total else 100.0,
        "success": round(100.0 * run.tasks_succeeded / ended, 1) if ended else None,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "error_group_id": run.error_group_id,
    }


def recent_runs(
    session: Session, limit: int = 20, job: Job | None = None
) -> list[tuple[JobRun, str]]:
    """The latest runs with their job names, newest first."""
    query = (
        select(JobRun, Job.name)
        .join(Job, Job.id == JobRun.job_id)
        .order_by(JobRun.id.desc())
        .limit(limit)
    )
    if job is not None:
        query = query.where(JobRun.job_id == job.id)
    return [(run, name) for run, name in session.execute(query).all()]
