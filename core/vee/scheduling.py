"""Scheduled validation profiles: which are due, and the thread that runs them.

A profile with a ``schedule`` (an RFC 5545 RRULE, read like a job's recurrence) runs at each
occurrence over its ``lookback_days`` up to the occurrence
(:meth:`~meterhub.vee.VeeEngine.run_scheduled`). The rule is read in the time zone of the
profile's day calendar (UTC without one) and counts from :data:`ANCHOR` (a Monday, 00:00 local
time), so ``FREQ=WEEKLY;INTERVAL=2;BYDAY=MO`` means the same Mondays on every host.

Nothing extra is stored: the last scheduled run of a profile (``vee_run`` with trigger
``schedule``; its period ends at the occurrence it served) says which occurrence was served.
A profile is **due** when an occurrence after that one has come. After a stop of several
occurrences the profile runs once, for the latest one: its look-back covers the rest. A
profile that never ran under a schedule runs at its latest occurrence within its look-back.

:class:`ProfileScheduler` is the thread the acquisition scheduler starts next to its own
(embedded in ``meterhub acquire`` and ``make demo``; in ``meterhub scheduler`` when scaled
out), so profile runs never hold up the dispatch of readings.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from meterhub.acquisition.calendars import Calendar
from meterhub.errors import MeterHubError
from meterhub.model.calendars import DayCalendar
from meterhub.model.vee import ValidationProfile, ValidationRun
from meterhub.vee.engine import RunReport, VeeEngine

__all__ = [
    "ANCHOR",
    "DueProfile",
    "ProfileScheduler",
    "due_profiles",
    "profile_calendar",
    "run_due_profiles",
]

log = logging.getLogger(__name__)

#: Where every profile schedule counts from, in the zone of the profile's day calendar.
ANCHOR = datetime(2026, 1, 5)
#: Occurrences walked at most to find the latest one that has come (a catch-up after a stop).
_WALK_LIMIT = 100_000
#: How often the thread looks for due profiles, in seconds.
CHECK_SECONDS = 30.0


@dataclass(frozen=True)
class DueProfile:
    """A profile whose schedule has an occurrence not yet served: the latest one."""

    profile_id: int
    name: str
    occurrence: datetime


def profile_calendar(schedule: str, time_zone: str = "UTC") -> Calendar:
    """The calendar of a profile ``schedule`` in ``time_zone`` (checked like a job's rule:
    :class:`~meterhub.errors.InvalidValue` names what is wrong)."""
    return Calendar.parse(schedule, ANCHOR, time_zone)


def _latest(calendar: Calendar, after: datetime, now: datetime) -> datetime | None:
    """The latest occurrence in ``(after, now]``, or ``None``."""
    found = None
    current = calendar.next_after(after)
    for _ in range(_WALK_LIMIT):
        if current is None or current > now:
            break
        found = current
        current = calendar.next_after(current, hint=current)
    return found


def due_profiles(session: Session, now: datetime) -> list[DueProfile]:
    """The enabled scheduled profiles with an occurrence in ``(last served, now]``.

    A profile whose schedule cannot be read (a rule that predates the checks) is logged and
    left out; it does not stop the others.
    """
    now = now.astimezone(UTC)
    last_served = (
        select(
            ValidationRun.profile_id,
            func.max(ValidationRun.period_end).label("served"),
        )
        .where(ValidationRun.trigger_kind == "schedule")
        .group_by(ValidationRun.profile_id)
        .subquery()
    )
    rows = session.execute(
        select(
            ValidationProfile.id,
            ValidationProfile.name,
            ValidationProfile.schedule,
            ValidationProfile.lookback_days,
            DayCalendar.tz,
            last_served.c.served,
        )
        .outerjoin(DayCalendar, DayCalendar.id == ValidationProfile.calendar_id)
        .outerjoin(last_served, last_served.c.profile_id == ValidationProfile.id)
        .where(ValidationProfile.enabled.is_(True), ValidationProfile.schedule.is_not(None))
        .order_by(ValidationProfile.id)
    ).all()
    due: list[DueProfile] = []
    for profile_id, name, schedule, lookback_days, zone, served in rows:
        try:
            calendar = profile_calendar(schedule, zone or "UTC")
        except MeterHubError as error:
            log.error("validation profile %r has a schedule that cannot run: %s", name, error)
            continue
        horizon = now - timedelta(days=max(1, int(lookback_days)))
        after = horizon if served is None else max(served.astimezone(UTC), horizon)
        occurrence = _latest(calendar, after, now)
        if occurrence is not None:
            due.append(DueProfile(int(profile_id), str(name), occurrence))
    return due


def run_due_profiles(
    vee: VeeEngine, sessions: sessionmaker[Session], now: datetime
) -> list[RunReport]:
    """Run every due profile once, for its latest occurrence; returns the reports.

    A profile whose run fails is logged with its error; the others still run.
    """
    with sessions() as session:
        due = due_profiles(session, now)
    reports = []
    for item in due:
        try:
            report = vee.run_scheduled(item.profile_id, now=item.occurrence)
        except Exception:
            log.exception(
                "scheduled run of validation profile %r (%s) failed",
                item.name,
                item.occurrence.isoformat(),
            )
            continue
        log.info(
            "scheduled run of validation profile %r for %s: %s",
            item.name,
            item.occurrence.isoformat(),
            report.status,
        )
        reports.append(report)
    return reports


class ProfileScheduler:
    """A daemon thread that runs due profiles every ``check_seconds`` (see the module
    docstring). :meth:`tick` is one look; the thread calls it, tests may too."""

    def __init__(
        self,
        vee: VeeEngine,
        sessions: sessionmaker[Session],
        *,
        clock: Callable[[], datetime] | None = None,
        check_seconds: float = CHECK_SECONDS,
    ) -> None:
        self.vee = vee
        self.sessions = sessions
        self.clock = clock or (lambda: datetime.now(UTC))
        self.check_seconds = check_seconds
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def tick(self) -> list[RunReport]:
        """Run what is due now (one look at a time)."""
        with self._lock:
            return run_due_profiles(self.vee, self.sessions, self.clock())

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("the validation profile scheduler failed; trying again")
            self._stopping.wait(self.check_seconds)

    def start(self) -> ProfileScheduler:
        """Start the thread (once)."""
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(
                target=self._loop, name="meterhub-vee-scheduler", daemon=True
            )
            self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop looking; a run in progress finishes its batch (or is marked interrupted when
        the process ends first)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
