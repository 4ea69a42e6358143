"""Scheduled validation profiles and calculations: which are due, and the thread that runs them.

A validation profile or a calculation with a ``schedule`` (an RFC 5545 RRULE, read like a job's
recurrence by :func:`~meterhub.acquisition.calendars.schedule_calendar`) runs at each
occurrence over its ``lookback_days`` up to the occurrence. The rule is read in the profile's
day-calendar zone (UTC without one) or the calculation's ``tz``, DST included, and counts from
Monday 5 January 2026, 00:00 local time, so ``INTERVAL=2`` means the same weeks on every host.

Which occurrence was served: for a profile, the period end of its last scheduled run
(``vee_run`` with trigger ``schedule``); for a calculation, its ``schedule_served_at``. An item
is **due** when an occurrence after that one has come. After a stop of several occurrences it
runs once, for the latest (its look-back covers the rest); one never run under its schedule
runs at its latest occurrence within its look-back. Profiles run before calculations, so a
calculation computes from validated and estimated inputs. A failed run is logged and tried
again at the next look; the others run on.

:class:`VeeScheduler` is the thread the acquisition scheduler starts next to its own (embedded
in ``meterhub acquire`` and ``make demo``), so profile runs never hold up the dispatch of
readings.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from meterhub.acquisition.calendars import Calendar, schedule_calendar
from meterhub.errors import MeterHubError
from meterhub.model.calculations import CalculationDefinition
from meterhub.model.calendars import DayCalendar
from meterhub.model.vee import ValidationProfile, ValidationRun
from meterhub.vee.engine import VeeEngine

if TYPE_CHECKING:
    from meterhub.calculations import CalculationEngine

__all__ = ["DueWork", "VeeScheduler", "due_calculations", "due_profiles", "run_due"]

log = logging.getLogger(__name__)

#: Occurrences walked at most to find the latest one that has come (a catch-up after a stop).
_WALK_LIMIT = 100_000
#: How often the thread looks for due work, in seconds.
CHECK_SECONDS = 30.0
_LABELS = {"profile": "validation profile", "calculation": "calculation"}


@dataclass(frozen=True)
class DueWork:
    """A profile or calculation whose schedule has an occurrence not yet served: the latest."""

    kind: str  # "profile" or "calculation"
    item_id: int
    name: str
    occurrence: datetime
    lookback_days: int


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


def _due(
    kind: str,
    label: str,
    rows: list[tuple[int, str, str, int, str | None, datetime | None]],
    now: datetime,
) -> list[DueWork]:
    due = []
    for item_id, name, schedule, lookback_days, zone, served in rows:
        try:
            calendar = schedule_calendar(schedule, zone or "UTC")
        except MeterHubError as error:
            log.error("%s %r has a schedule that cannot run: %s", label, name, error)
            continue
        lookback = max(1, int(lookback_days))
        horizon = now - timedelta(days=lookback)
        after = horizon if served is None else max(served.astimezone(UTC), horizon)
        occurrence = _latest(calendar, after, now)
        if occurrence is not None:
            due.append(DueWork(kind, int(item_id), str(name), occurrence, lookback))
    return due


def due_profiles(session: Session, now: datetime) -> list[DueWork]:
    """The enabled scheduled validation profiles with an occurrence in ``(served, now]``.

    A profile whose schedule cannot be read (a rule that predates the checks) is logged and
    left out; it does not stop the others.
    """
    served = (
        select(ValidationRun.profile_id, func.max(ValidationRun.period_end).label("served"))
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
            served.c.served,
        )
        .outerjoin(DayCalendar, DayCalendar.id == ValidationProfile.calendar_id)
        .outerjoin(served, served.c.profile_id == ValidationProfile.id)
        .where(ValidationProfile.enabled.is_(True), ValidationProfile.schedule.is_not(None))
        .order_by(ValidationProfile.id)
    ).all()
    return _due("profile", "validation profile", [tuple(r) for r in rows], now.astimezone(UTC))


def due_calculations(session: Session, now: datetime) -> list[DueWork]:
    """The enabled scheduled calculations with an occurrence in ``(served, now]``."""
    rows = session.execute(
        select(
            CalculationDefinition.id,
            CalculationDefinition.name,
            CalculationDefinition.schedule,
            CalculationDefinition.lookback_days,
            CalculationDefinition.tz,
            CalculationDefinition.schedule_served_at,
        )
        .where(CalculationDefinition.enabled.is_(True), CalculationDefinition.schedule.is_not(None))
        .order_by(CalculationDefinition.id)
    ).all()
    return _due("calculation", "calculation", [tuple(r) for r in rows], now.astimezone(UTC))  # type: ignore[misc]


def run_due(
    vee: VeeEngine,
    sessions: sessionmaker[Session],
    now: datetime,
    calculations: CalculationEngine | None = None,
) -> list[DueWork]:
    """Run every due profile, then every due calculation, once for its latest occurrence;
    returns what ran. A run that fails is logged with its error; the others still run."""
    with sessions() as session:
        due = due_profiles(session, now)
        if calculations is not None:
            due += due_calculations(session, now)
    done = []
    for item in due:
        try:
            if item.kind == "profile":
                report = vee.run_scheduled(item.item_id, now=item.occurrence)
                outcome = report.status
            else:
                assert calculations is not None
                start = item.occurrence - timedelta(days=item.lookback_days)
                written = calculations.run(item.item_id, start, item.occurrence, user="scheduler")
                with sessions.begin() as session:
                    session.execute(
                        update(CalculationDefinition)
                        .where(CalculationDefinition.id == item.item_id)
                        .values(schedule_served_at=item.occurrence)
                    )
                outcome = f"{written.values} values"
        except Exception:
            log.exception(
                "scheduled run of %s %r (%s) failed",
                _LABELS[item.kind],
                item.name,
                item.occurrence.isoformat(),
            )
            continue
        log.info(
            "scheduled run of %s %r for %s: %s",
            _LABELS[item.kind],
            item.name,
            item.occurrence.isoformat(),
            outcome,
        )
        done.append(item)
    return done


class VeeScheduler:
    """A daemon thread that runs due profiles and calculations every ``check_seconds`` (see
    the module docstring). :meth:`tick` is one look; the thread calls it, tests may too."""

    def __init__(
        self,
        vee: VeeEngine,
        sessions: sessionmaker[Session],
        *,
        calculations: CalculationEngine | None = None,
        clock: Callable[[], datetime] | None = None,
        check_seconds: float = CHECK_SECONDS,
    ) -> None:
        self.vee = vee
        self.sessions = sessions
        self.calculations = calculations
        self.clock = clock or (lambda: datetime.now(UTC))
        self.check_seconds = check_seconds
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        """Whether the thread runs."""
        return self._thread is not None

    def tick(self) -> list[DueWork]:
        """Run what is due now (one look at a time)."""
        with self._lock:
            return run_due(self.vee, self.sessions, self.clock(), self.calculations)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("the VEE scheduler failed; trying again")
            self._stopping.wait(self.check_seconds)

    def start(self) -> VeeScheduler:
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
