"""One session with one meter: open a path, perform the claimed tasks, fail over, record it.

:class:`SessionExecutor` turns a :class:`~meterhub.acquisition.dispatch.Claim` (tickets of one
meter holding one line) into a :class:`~meterhub.acquisition.results.SessionResult`:

1. The meter's plan (driver, settings, paths, channels) comes from the plan cache; session
   counters are topped up and committed before anything is opened.
2. The main path is opened (the medium from the plugin host, with a frame trace), the driver
   connects, and each task's action is performed in turn (:mod:`meterhub.acquisition.performers`).
   An action that fails alone fails its task; the session goes on.
3. A **lost link** (the line cannot be opened, the meter went silent, the session outlived its
   timeout) **fails over** to the next path (the backup) within the same task: the claim moves
   to the backup path's line pool and the tasks not yet done are performed there. Which path
   served is recorded per task and per session. Authentication, protocol and device failures do
   not fail over: another line would not change them.
4. A task that failed is retried later (state ``retry``, with the job's back-off) while it has
   attempts left and its error class is worth a retry; otherwise it has failed.

Every connection becomes a :class:`~meterhub.acquisition.results.SessionDraft`: outcome, error
class, bytes, and the frame trace (secrets masked by the trace itself) as kept by the debug-log
policy (``all``, ``failed``, ``none``).
"""

from __future__ import annotations

import json
import logging
import threading
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from meterhub.acquisition.books import PlanCache, RunBook, RunInfo
from meterhub.acquisition.counters import ensure_counters
from meterhub.acquisition.dispatch import Claim, Ticket
from meterhub.acquisition.performers import ActionContext, ClockError, FirmwareSource, perform
from meterhub.acquisition.plans import MeterPlan, PathPlan
from meterhub.acquisition.results import SessionDraft, SessionResult, TaskOutcome
from meterhub.acquisition.watchdog import Watchdog
from meterhub.credentials import CredentialCipher, CredentialError
from meterhub.errors import InvalidValue
from meterhub.extensions.driver import Driver, DriverConnection, DriverError, LinkLost
from meterhub.extensions.medium import Medium
from meterhub.extensions.trace import Direction, FrameTrace

__all__ = ["RETRYABLE", "SessionExecutor", "encode_frames", "decode_frames"]

log = logging.getLogger(__name__)

#: Error classes worth another attempt (a line, a meter or the database may recover).
RETRYABLE = frozenset({"link", "timeout", "protocol", "device", "internal", "store"})

#: Seconds a failover waits for a free line in the backup path's pool.
FAILOVER_WAIT = 30.0


class _Cancelled(Exception):
    """The run was cancelled while the session ran."""


def encode_frames(trace: FrameTrace) -> bytes:
    """The trace as stored: zlib-compressed JSON lines of its records."""
    lines = "\n".join(json.dumps(record, separators=(",", ":")) for record in trace.as_records())
    return zlib.compress(lines.encode("utf-8"), 6)


def decode_frames(blob: bytes) -> list[dict[str, Any]]:
    """The stored trace records (see :func:`encode_frames`)."""
    text = zlib.decompress(blob).decode("utf-8")
    return [json.loads(line) for line in text.splitlines() if line]


def _classify(error: BaseException) -> str:
    if isinstance(error, ClockError):
        return "clock"
    if isinstance(error, DriverError):
        return str(error.kind.value)
    if isinstance(error, InvalidValue | CredentialError):
        return "configuration"
    if isinstance(error, _Cancelled):
        return "cancelled"
    return "internal"


def _message(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:2000]


@dataclass
class _Attempt:
    """The state of one connection the watchdog may cut."""

    timed_out: bool = False
    medium: Medium | None = None
    connection: DriverConnection | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def cut(self, claim: Claim) -> None:
        with self.lock:
            self.timed_out = True
            connection, medium = self.connection, self.medium
        if connection is not None:
            connection.close()
        if medium is not None:
            medium.close()
        claim.release_line()


class SessionExecutor:
    """Runs claims as sessions (see the module docstring). One instance serves every worker."""

    def __init__(
        self,
        *,
        engine: Engine,
        drivers: Mapping[str, Driver],
        media: Mapping[str, type[Medium]],
        runs: RunBook,
        plans: PlanCache,
        watchdog: Watchdog,
        cipher: Callable[[], CredentialCipher | None],
        firmware: FirmwareSource,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        trace_keep: str = "all",
        counter_block: int = 1000,
    ) -> None:
        self._engine = engine
        self._drivers = drivers
        self._media = media
        self._runs = runs
        self._plans = plans
        self._watchdog = watchdog
        self._cipher = cipher
        self._firmware = firmware
        self._clock = clock
        self._trace_keep = trace_keep
        self._counter_block = counter_block
        #: Per driver: the actions it offers and whether it needs a medium (info() builds
        #: a new object each call).
        self._facts = {
            name: (frozenset(a.value for a in driver.info().actions), bool(driver.info().media))
            for name, driver in drivers.items()
        }

    # -- outcomes -------------------------------------------------------------------------------

    def _outcome(self, ticket: Ticket, started: datetime) -> TaskOutcome:
        return TaskOutcome(ticket, "running", ticket.attempts + 1, started, started)

    def _fail(self, outcome: TaskOutcome, error_class: str, message: str, run: RunInfo) -> None:
        now = self._clock()
        outcome.finished = now
        outcome.error_class = error_class
        outcome.error_message = message
        window_open = run.window_end is None or now < run.window_end
        if (
            error_class in RETRYABLE
            and outcome.attempts < run.max_attempts
            and window_open
        ):  # fmt: skip
            outcome.state = "retry"
            outcome.not_before = now + timedelta(seconds=run.retry_after(outcome.attempts))
        else:
            outcome.state = "cancelled" if error_class == "cancelled" else "failed"

    # -- the session ----------------------------------------------------------------------------

    def execute(self, claim: Claim, inbound: Medium | None = None) -> SessionResult:
        """Serve ``claim``: every ticket ends with an outcome; the line is given back.

        ``inbound`` is a line the meter opened itself (a meter that called in, already
        identified): the session runs over it instead of dialling a path, without failover,
        and leaves it open for its owner to close.
        """
        started = self._clock()
        meter_id = claim.meter_id
        outcomes = {t.task_id: self._outcome(t, started) for t in claim.tickets}
        result = SessionResult(meter_id, None, list(outcomes.values()), claim=claim)
        try:
            plan = self._plans.get(meter_id)
        except Exception as exc:  # the database is gone: retry later
            log.exception("cannot load meter %s", meter_id)
            for outcome in outcomes.values():
                self._fail(outcome, "internal", f"cannot load the meter: {_message(exc)}",
                           self._runs.get(outcome.ticket.run_id))  # fmt: skip
            return result
        result.plan = plan
        pending = self._runnable(plan, outcomes)
        if plan is None or not pending:
            return result
        driver = self._drivers[plan.driver]
        needs_medium = self._facts[plan.driver][1]
        paths: list[PathPlan | None] = list(plan.paths) if plan.paths else []
        if inbound is not None:
            paths = [
                PathPlan(None, 0, None, inbound.name, inbound.address, {}, claim.pool or "inbound")
            ]
        elif not paths:
            if needs_medium:
                self._fail_all(pending, outcomes, "configuration",
                               f"meter {plan.serial} has no communication path")  # fmt: skip
                return result
            paths = [None]
        timeout = max(self._runs.get(t.run_id).session_timeout for t in pending)
        last_error: tuple[str, str] = ("link", "no path could be opened")
        for index, path in enumerate(paths):
            if index > 0 and path is not None:
                if not claim.switch_line(path.pool, FAILOVER_WAIT):
                    last_error = ("link", f"no free line in pool {path.pool} for the backup path")
                    break
            draft, link_lost, error = self._connect_and_run(
                claim, plan, driver, path, pending, outcomes, timeout, needs_medium, result, inbound
            )
            result.sessions.append(draft)
            pending = [t for t in pending if outcomes[t.task_id].state == "running"]
            if error is not None:
                last_error = error
            if not pending or not link_lost:
                break
        if pending:
            self._fail_all(pending, outcomes, *last_error)
        return result

    def _runnable(self, plan: MeterPlan | None, outcomes: dict[int, TaskOutcome]) -> list[Ticket]:
        """The tickets a session can serve; the others get their outcome here."""
        runnable = []
        for outcome in outcomes.values():
            ticket = outcome.ticket
            run = self._runs.get(ticket.run_id)
            if plan is None:
                self._fail(outcome, "configuration", f"meter {ticket.meter_id} does not exist", run)
            elif not plan.enabled:
                self._fail(outcome, "configuration", f"meter {plan.serial} is disabled", run)
            elif plan.driver not in self._drivers:
                self._fail(
                    outcome, "configuration",
                    f"driver {plan.driver!r} of meter {plan.serial} is not loaded", run
                )  # fmt: skip
            elif ticket.action not in self._facts[plan.driver][0]:
                self._fail(
                    outcome, "unsupported",
                    f"driver {plan.driver!r} does not support the action {ticket.action!r}", run
                )  # fmt: skip
            else:
                runnable.append(ticket)
        return runnable

    def _fail_all(
        self,
        tickets: list[Ticket],
        outcomes: dict[int, TaskOutcome],
        error_class: str,
        message: str,
    ) -> None:
        for ticket in tickets:
            run = self._runs.get(ticket.run_id)
            self._fail(outcomes[ticket.task_id], error_class, message, run)

    def meter_settings(self, plan: MeterPlan) -> dict[str, str]:
        """The settings a session with the meter gets: its driver settings, decrypted
        credentials, session state (for what a meter sends on its own, such as telegrams).

        :raises CredentialError: the meter has credentials, but the key cannot be read.
        """
        return self._settings(plan, None)

    def _settings(self, plan: MeterPlan, path: PathPlan | None) -> dict[str, str]:
        settings = dict(plan.settings)
        if path is not None:
            settings.update(path.settings)
        if plan.credentials is not None:
            cipher = self._cipher()
            if cipher is None:
                raise CredentialError(
                    f"meter {plan.serial} has credentials, but the credential key cannot be read"
                )
            settings.update(cipher.decrypt(plan.credentials))
        settings.update(plan.state)
        for name, (next_value, _) in plan.counters.items():
            settings[name] = str(next_value)
        return settings

    def _connect_and_run(
        self,
        claim: Claim,
        plan: MeterPlan,
        driver: Driver,
        path: PathPlan | None,
        pending: list[Ticket],
        outcomes: dict[int, TaskOutcome],
        timeout: float,
        needs_medium: bool,
        result: SessionResult,
        inbound: Medium | None = None,
    ) -> tuple[SessionDraft, bool, tuple[str, str] | None]:
        """One connection: returns its draft, whether the link was lost, and the last error."""
        started = self._clock()
        trace = FrameTrace(clock=self._clock)
        attempt = _Attempt()
        session_index = len(result.sessions)
        error: tuple[str, str] | None = None
        link_lost = False
        handle = self._watchdog.watch(timeout, lambda: attempt.cut(claim))
        try:
            if plan.counters:
                ensure_counters(self._engine, plan, self._counter_block, self._clock())
            settings = self._settings(plan, path)
            address = (path.address if path is not None else None) or plan.serial
            if inbound is not None:
                inbound.trace = trace
                attempt.medium = inbound
            elif needs_medium and path is not None:
                medium_class = self._media.get(path.medium or "")
                if medium_class is None:
                    raise InvalidValue("medium", f"no medium {path.medium!r} is loaded")
                model = medium_class.settings_model
                line = {k: v for k, v in settings.items() if model and k in model.model_fields}
                medium = medium_class(address, line, trace)
                with attempt.lock:
                    attempt.medium = medium
                    if attempt.timed_out:
                        raise LinkLost("the session timed out")
                medium.open(timeout=min(timeout, 60.0))
            connection = driver.connect(address, settings, attempt.medium)
            with attempt.lock:
                attempt.connection = connection
                if attempt.timed_out:
                    raise LinkLost("the session timed out")
            for ticket in pending:
                if claim.cancelled.is_set():
                    raise _Cancelled("the run was cancelled")
                outcome = outcomes[ticket.task_id]
                outcome.started = self._clock()
                outcome.path = path
                outcome.sessions.append(session_index)
                run = self._runs.get(ticket.run_id)
                action, parameters = run.actions[ticket.action_index]
                context = ActionContext(plan, run.reference, run.zone, self._clock, self._firmware)
                try:
                    perform(connection, action, parameters, context, outcome)
                except LinkLost:
                    raise
                except (DriverError, InvalidValue) as exc:
                    self._fail(outcome, _classify(exc), _message(exc), run)
                    error = (_classify(exc), _message(exc))
                    continue
                outcome.state = "succeeded"
                outcome.finished = self._clock()
                outcome.details["path"] = path.priority if path is not None else None
        except LinkLost as exc:
            link_lost = True
            if attempt.timed_out:
                error = ("timeout", f"the session took longer than {timeout:g} s and was cut off")
            else:
                error = (_classify(exc), _message(exc))
        except _Cancelled as exc:
            error = ("cancelled", _message(exc))
            for ticket in pending:
                outcome = outcomes[ticket.task_id]
                if outcome.state == "running":
                    run = self._runs.get(ticket.run_id)
                    self._fail(outcome, "cancelled", "the run was cancelled", run)
        except (DriverError, InvalidValue, CredentialError) as exc:
            error = (_classify(exc), _message(exc))
        except Exception as exc:
            log.exception("session with meter %s failed", plan.serial)
            error = ("internal", _message(exc))
        finally:
            self._watchdog.cancel(handle)
            opened = attempt.connection
            if opened is not None:
                opened.close()
                self._keep_state(plan, opened, result)
            if attempt.medium is not None and attempt.medium is not inbound:
                attempt.medium.close()
        if error is not None and link_lost is False and error[0] != "cancelled":
            for ticket in pending:
                outcome = outcomes[ticket.task_id]
                if outcome.state == "running":
                    self._fail(outcome, *error, self._runs.get(ticket.run_id))
        finished = self._clock()
        for ticket in pending:
            if session_index not in outcomes[ticket.task_id].sessions:
                outcomes[ticket.task_id].sessions.append(session_index)
        failed = error is not None and (
            link_lost or all(outcomes[t.task_id].state != "succeeded" for t in pending)
        )
        draft = SessionDraft(
            meter_id=plan.meter_id,
            attempt=max(t.attempts for t in pending) + 1,
            path=path,
            started=started,
            finished=finished,
            outcome="failed" if failed else "succeeded",
            error_class=error[0] if failed and error else None,
            error_message=error[1] if failed and error else None,
            task_ids=tuple(t.task_id for t in pending),
        )
        self._record_trace(trace, draft)
        return draft, link_lost, error

    def _keep_state(
        self, plan: MeterPlan, connection: DriverConnection, result: SessionResult
    ) -> None:
        """Take the driver's session state; counters only ever move forward."""
        try:
            state = dict(connection.state)
        except Exception:
            log.exception("session state of meter %s cannot be read", plan.serial)
            return
        for name, value in state.items():
            if name in plan.counters:
                try:
                    number = int(str(value), 0)
                except ValueError:
                    continue
                counter = plan.counters[name]
                counter[0] = max(counter[0], number)
                result.state[name] = str(counter[0])
            else:
                plan.state[name] = str(value)
                result.state[name] = str(value)

    def _record_trace(self, trace: FrameTrace, draft: SessionDraft) -> None:
        entries = trace.entries
        for entry in entries:
            if entry.direction == Direction.TX:
                draft.bytes_sent += len(entry.data)
            elif entry.direction == Direction.RX:
                draft.bytes_received += len(entry.data)
        draft.frame_count = len(entries)
        draft.frames_dropped = trace.dropped
        keep = self._trace_keep == "all" or (
            self._trace_keep == "failed" and draft.outcome == "failed"
        )
        if keep and entries:
            draft.frames = encode_frames(trace)
