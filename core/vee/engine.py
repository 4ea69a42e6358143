"""The VEE engine: runs a validation profile over channels and a period, through the store.

For each batch of channels (one interval, one set of parameter overrides) the engine, in one
unit of work of the store:

1. reads the current normalized values (with the history the steps ask for) and, where an
   earlier run estimated values, the raw values they replaced — so a run always starts from
   what was measured and running it again gives the same result;
2. applies the profile (:func:`meterhub.vee.apply.apply_profile`);
3. writes the result as one new version per changed block: ``kind="estimated"`` for channels
   with estimates, ``kind="validated"`` for the others, with the profile and run as reason and
   comment; manual, locked and released values are left alone;
4. records the results per value (``vee_result``) and the run's progress (``vee_run``).

A batch commits whole or not at all, so a run killed half-way leaves complete versions only and
a new run finishes the work with the same result. :meth:`VeeEngine.run_scheduled` is the entry
point a scheduler calls; ``meterhub vee run`` the command.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from meterhub.errors import InvalidValue, NotFound
from meterhub.extensions.series import IntervalBlock
from meterhub.extensions.veecontext import ChannelFacts, RegisterSeries, VeeContext
from meterhub.model.metering import Channel
from meterhub.model.vee import BillingRelease
from meterhub.sandbox import Limits
from meterhub.timeseries import MeterDataStore, UnitOfWork
from meterhub.timeseries.flags import METHOD_MASK, Flag
from meterhub.timeseries.normalization import normalize
from meterhub.timeseries.timegrid import DAILY, US_PER_MINUTE, to_tick
from meterhub.vee import runs
from meterhub.vee.apply import Batch, Outcome, apply_profile
from meterhub.vee.assignments import resolve
from meterhub.vee.daytypes import slot_calendar
from meterhub.vee.ingest import IngestValidation
from meterhub.vee.profiles import Catalog, PreparedStep, ProfileSpec, load_profile, prepare_steps

__all__ = ["RunReport", "VeeEngine"]

log = logging.getLogger(__name__)

#: Flags VEE sets, cleared when a run starts from what was measured.
_VEE_MARKS = np.uint32(Flag.VALIDATED | Flag.SUSPECT)
_VEE_ESTIMATE = np.uint32(Flag.ESTIMATED | Flag.SUBSTITUTED | METHOD_MASK)
_PROTECTED = np.uint32(Flag.MANUAL | Flag.LOCKED)
_ESTIMATED = np.uint32(Flag.ESTIMATED)


@dataclass
class RunReport:
    """What a run did: counts, failures by channel and the run's id."""

    run_id: int
    profile: str
    status: str
    start: datetime
    end: datetime
    channels_total: int = 0
    channels_done: int = 0
    channels_failed: int = 0
    values_checked: int = 0
    values_suspect: int = 0
    values_estimated: int = 0
    by_step: dict[str, int] = field(default_factory=dict)
    failures: dict[int, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The run's summary as plain data (stored with the run)."""
        return {
            "profile": self.profile,
            "by_step": dict(self.by_step),
            "failures": {str(k): v for k, v in sorted(self.failures.items())[:100]},
            "notes": self.notes[:50],
        }


def _floor(moment: datetime, interval_minutes: int, zone: tzinfo) -> datetime:
    """``moment`` floored to the interval grid (daily: local midnight in ``zone``)."""
    if moment.tzinfo is None:
        raise InvalidValue("start", f"{moment.isoformat()} has no time zone; give an aware time")
    if interval_minutes == DAILY:
        local = moment.astimezone(zone)
        return datetime(local.year, local.month, local.day, tzinfo=zone)
    step = interval_minutes * US_PER_MINUTE
    tick = to_tick(moment, UTC, "start")
    return datetime.fromtimestamp((tick - tick % step) / 1_000_000, UTC)


class VeeEngine:
    """Runs profiles against the store (see the module docstring).

    ``store`` is the meter data store, ``sessions`` the session factory of the same database,
    ``catalog`` the plugin host (validators and estimators by name). ``batch_channels`` bounds
    the channels per transaction; ``limits`` are the sandbox's limits for script steps;
    ``ingest`` the store's on-the-fly validation, whose checks every run includes (first), so
    a profile run never clears what they flagged.
    """

    def __init__(
        self,
        store: MeterDataStore,
        sessions: sessionmaker[Session],
        catalog: Catalog,
        *,
        clock: Callable[[], datetime] | None = None,
        limits: Limits | None = None,
        batch_channels: int = 200,
        ingest: IngestValidation | None = None,
    ) -> None:
        self.store = store
        self.sessions = sessions
        self.catalog = catalog
        self.clock = clock or (lambda: datetime.now(UTC))
        self.limits = limits or Limits()
        self.batch_channels = batch_channels
        self.ingest = ingest

    # -- entry points ----------------------------------------------------------------------

    def run_scheduled(
        self, profile: str | int, now: datetime | None = None, *, user: str = "scheduler"
    ) -> RunReport:
        """The run a scheduler starts: the profile's channels over its ``lookback_days`` up to
        the last whole interval before ``now``."""
        with self.sessions() as session:
            spec = load_profile(session, profile)
        moment = now or self.clock()
        end = moment
        start = moment - timedelta(days=spec.lookback_days)
        return self.run(spec.id, start, end, trigger="schedule", user=user)

    def run(
        self,
        profile: str | int,
        start: datetime,
        end: datetime,
        *,
        channel_ids: Sequence[int] | None = None,
        trigger: str = "demand",
        user: str = "vee",
    ) -> RunReport:
        """Run ``profile`` over ``[start, end)`` on its channels (or on ``channel_ids``, with
        their assignments' overrides where they have one)."""
        with self.sessions() as session:
            spec = load_profile(session, profile)
            assigned = resolve(session.connection(), profile_ids=[spec.id], channel_ids=channel_ids)
            overrides = {channel: values for (channel, _), values in assigned.items()}
            if channel_ids is not None:
                for channel in channel_ids:
                    overrides.setdefault(int(channel), {})
        if start.tzinfo is None or end.tzinfo is None:
            raise InvalidValue("start", "give aware times for the period of a run")
        if end <= start:
            raise InvalidValue("end", "the period of a run must end after it starts")
        ids = sorted(overrides)
        with self.sessions.begin() as session:
            conn = session.connection()
            runs.mark_interrupted(conn, spec.id)
            run_id = runs.start_run(
                conn,
                profile_id=spec.id,
                trigger=trigger,
                user=user,
                now=self.clock(),
                start=start,
                end=end,
                channels=len(ids),
            )
        report = RunReport(run_id, spec.name, "running", start, end, channels_total=len(ids))
        status = "failed"
        try:
            for batch_ids, batch_overrides, interval in self._batches(ids, overrides):
                self._run_batch(
                    spec, batch_ids, batch_overrides, interval, start, end, report, user
                )
            status = "succeeded" if not report.failures else "partial"
            if report.failures and report.channels_done == report.channels_failed:
                status = "failed"
        finally:
            report.status = status
            with self.sessions.begin() as session:
                runs.finish_run(
                    session.connection(),
                    run_id,
                    status=status,
                    now=self.clock(),
                    summary=report.summary(),
                )
        return report

    # -- batches ---------------------------------------------------------------------------

    def _batches(
        self, ids: list[int], overrides: dict[int, dict[str, Any]]
    ) -> list[tuple[list[int], dict[str, Any], int]]:
        if not ids:
            return []
        infos = self.store.channel_info(ids)
        groups: dict[tuple[int, str], list[int]] = {}
        for info in infos:
            key = (info.interval_minutes, _key(overrides[info.id]))
            groups.setdefault(key, []).append(info.id)
        out = []
        for (interval, _), members in sorted(groups.items()):
            for i in range(0, len(members), self.batch_channels):
                chunk = members[i : i + self.batch_channels]
                out.append((chunk, overrides[chunk[0]], interval))
        return out

    def _run_batch(
        self,
        spec: ProfileSpec,
        ids: list[int],
        overrides: dict[str, Any],
        interval: int,
        start: datetime,
        end: datetime,
        report: RunReport,
        user: str,
    ) -> None:
        steps = prepare_steps(spec.steps, self.catalog, overrides, spec.scripts)
        zone = spec.day_types.tz
        first = _floor(start, interval, zone)
        last = _floor(end, interval, zone)
        if last <= first:
            return
        lookback = max(
            (int(s.plugin.lookback_days(s.parameters)) for s in steps if s.plugin is not None),
            default=0,
        )
        facts = self._facts(ids)

        def work(uow: UnitOfWork) -> tuple[Outcome, int, int]:
            return self._compute(
                uow, spec, steps, ids, facts, interval, first, last, lookback, report, user
            )

        outcome, checked, _ = self.store.run_unit_of_work(work)
        report.channels_done += len(ids)
        report.channels_failed += len(outcome.failed)
        report.values_checked += checked
        report.values_suspect += int((outcome.suspect & ~outcome.estimated).sum())
        report.values_estimated += int(outcome.estimated.sum())
        for r, message in outcome.failed.items():
            report.failures[ids[r]] = message
        for result in outcome.results:
            report.by_step[result.step] = report.by_step.get(result.step, 0) + int(
                result.positions.sum()
            )
        report.notes.extend(outcome.notes)

    def _facts(self, ids: list[int]) -> dict[int, Any]:
        with self.sessions() as session:
            rows = session.execute(
                select(
                    Channel.id,
                    Channel.virtual_meter_id,
                    Channel.obis,
                    Channel.name,
                    Channel.unit,
                    Channel.interval_minutes,
                    Channel.kind,
                ).where(Channel.id.in_(ids))
            ).all()
        return {row.id: row for row in rows}

    def _compute(
        self,
        uow: UnitOfWork,
        spec: ProfileSpec,
        steps: list[PreparedStep],
        ids: list[int],
        facts: dict[int, Any],
        interval: int,
        first: datetime,
        last: datetime,
        lookback: int,
        report: RunReport,
        user: str,
    ) -> tuple[Outcome, int, int]:
        zone = spec.day_types.tz
        begin = first - timedelta(days=lookback) if lookback else first
        data = uow.read_intervals(ids, begin, last, tz=zone)
        start_tick = to_tick(first, UTC, "start")
        begin_tick = to_tick(begin, UTC, "start")
        step_us = interval * US_PER_MINUTE
        history_slots = (
            (start_tick - begin_tick) // step_us if interval != DAILY else (first - begin).days
        )
        values = data.values[:, history_slots:]
        flags = data.flags[:, history_slots:].copy()
        # start from what was measured: earlier estimates of VEE give way to raw values
        replaceable = ((flags & _ESTIMATED) != 0) & ((flags & _PROTECTED) == 0)
        if replaceable.any():
            raw = uow.read_intervals(ids, first, last, tz=zone, layer="raw")
            infos = self.store.channel_info(ids)
            measured = normalize(raw.values, [info.factor for info in infos], np.asarray(ids))
            values = np.where(replaceable, measured, values)
            flags = np.where(replaceable, flags & ~_VEE_ESTIMATE, flags)
        protected = (flags & _PROTECTED) != 0
        protected |= _released(uow, ids, start_tick, step_us, values.shape[1], interval)
        flags = np.where(protected, flags, flags & ~_VEE_MARKS).astype(np.uint32)
        calendar = None
        if any(
            s.plugin is not None and s.plugin.needs & {"calendar", "history"} for s in steps
        ) or any(s.script is not None for s in steps):
            calendar = slot_calendar(begin_tick, data.values.shape[1], interval, spec.day_types)
        related = _Related(uow, ids, facts, first, last, zone, interval)
        step_interval = timedelta(minutes=interval)

        def context_for(r: int, step: PreparedStep) -> VeeContext:
            plugin: Any = step.plugin
            needs = plugin.needs
            history = None
            if "history" in needs and history_slots:
                history = IntervalBlock(
                    begin,
                    step_interval,
                    data.values[r, :history_slots],
                    data.flags[r, :history_slots],
                    ids[r],
                )
            roles = (
                plugin.related(step.parameters)
                if needs & {"related", "children", "registers"}
                else {}
            )
            return VeeContext(
                tz=zone,
                channel=_channel_facts(facts.get(ids[r])),
                history=history,
                calendar=calendar if "calendar" in needs else None,
                related=related.blocks(ids[r], roles),
                children=related.children(ids[r], roles),
                registers=related.registers(ids[r], roles),
            )

        times = (start_tick + step_us * np.arange(values.shape[1])) / 1_000_000

        def script_data(r: int) -> dict[str, Any]:
            job: dict[str, Any] = {
                "times": times,
                "history": data.values[r, :history_slots],
                "channel": _channel_dict(facts.get(ids[r])),
            }
            if calendar is not None:
                job.update(day=calendar.day, day_type=calendar.day_type, minute=calendar.minute)
            return job

        found_at_ingest = None
        if self.ingest is not None:
            found_at_ingest, _ = self.ingest.suspect(uow.connection, ids, interval, values)
        batch = Batch(
            np.asarray(ids, dtype=np.int64),
            first,
            interval,
            values,
            flags,
            protected,
            script_data,
            found_at_ingest,
            calendar,
            data.values[:, :history_slots],
            data.flags[:, :history_slots],
            zone,
        )
        outcome = apply_profile(steps, batch, context_for, self.limits)
        ok = [r for r in range(len(ids)) if r not in outcome.failed]
        written = 0
        reason = f"validation profile {spec.name}"[:100]
        comment = f"run {report.run_id}"
        for kind in ("estimated", "validated"):
            rows = [r for r in ok if outcome.estimated[r].any() == (kind == "estimated")]
            if not rows:
                continue
            uow.write_normalized(
                [ids[r] for r in rows],
                first,
                outcome.values[rows],
                outcome.flags[rows],
                where=~protected[rows],
                user=user,
                reason=reason,
                comment=comment,
                kind=kind,
                empty_ok=True,
                tz=zone,  # daily values are keyed by the local date of the profile's zone
            )
            written += len(rows)
        connection = uow.connection
        result_rows: list[dict[str, Any]] = []
        for found in outcome.results:
            if found.row in outcome.failed:
                continue
            result_rows += runs.result_rows(
                report.run_id,
                ids[found.row],
                start_tick,
                interval,
                found.positions,
                found.step,
                found.outcome,
                found.message,
            )
        for r, message in outcome.failed.items():
            result_rows.append(
                {
                    "run_id": report.run_id,
                    "channel_id": ids[r],
                    "ts": None,
                    "check_name": "run",
                    "outcome": "failed",
                    "message": message[: runs.MESSAGE_LENGTH],
                }
            )
        runs.insert_results(connection, result_rows)
        checked = int((~protected[ok]).sum()) if ok else 0
        runs.record_progress(
            connection,
            report.run_id,
            done=len(ids),
            failed=len(outcome.failed),
            checked=checked,
            suspect=int((outcome.suspect & ~outcome.estimated).sum()),
            estimated=int(outcome.estimated.sum()),
        )
        return outcome, checked, written


def _key(overrides: dict[str, Any]) -> str:
    import json

    return json.dumps(overrides, sort_keys=True)


def _channel_facts(row: Any) -> ChannelFacts | None:
    if row is None:
        return None
    return ChannelFacts(row.id, row.obis, row.name, row.unit, row.interval_minutes)


def _channel_dict(row: Any) -> dict[str, Any]:
    if row is None:
        return {}
    return {
        "id": row.id,
        "obis": row.obis,
        "name": row.name,
        "unit": row.unit,
        "interval_minutes": row.interval_minutes,
    }


def _released(
    uow: UnitOfWork, ids: list[int], start_tick: int, step_us: int, slots: int, interval: int
) -> np.ndarray:
    """Slots of active billing releases (never changed by a run)."""
    out = np.zeros((len(ids), slots), dtype=bool)
    release = BillingRelease.__table__
    end_tick = start_tick + step_us * slots
    begin = datetime.fromtimestamp(start_tick / 1_000_000, UTC)
    finish = datetime.fromtimestamp(end_tick / 1_000_000, UTC)
    rows = uow.connection.execute(
        select(release.c.channel_id, release.c.period_start, release.c.period_end).where(
            release.c.channel_id.in_(ids),
            release.c.revoked_at.is_(None),
            release.c.period_start < finish,
            release.c.period_end > begin,
        )
    ).all()
    position = {channel: i for i, channel in enumerate(ids)}
    for channel, period_start, period_end in rows:
        a = max(0, (to_tick(period_start, UTC, "start") - start_tick) // step_us)
        b = min(slots, -(-(to_tick(period_end, UTC, "end") - start_tick) // step_us))
        out[position[channel], a:b] = True
    return out


class _Related:
    """Blocks of related channels, children and registers, loaded once per batch and role."""

    def __init__(
        self,
        uow: UnitOfWork,
        ids: list[int],
        facts: dict[int, Any],
        first: datetime,
        last: datetime,
        zone: tzinfo,
        interval: int,
    ) -> None:
        self.uow = uow
        self.facts = facts
        self.first, self.last, self.zone, self.interval = first, last, zone, interval
        self._by_obis: dict[tuple[int, str], int] | None = None
        self._blocks: dict[int, IntervalBlock | None] = {}
        self._registers: dict[int, RegisterSeries] = {}
        self._meters = {row.virtual_meter_id for row in facts.values()}

    def _resolve(self, channel: int, ref: Any) -> int | None:
        if isinstance(ref, int) and not isinstance(ref, bool):
            return ref
        if not isinstance(ref, str):
            return None
        if self._by_obis is None:
            from meterhub.identifiers import canonical_obis

            rows = self.uow.connection.execute(
                select(Channel.id, Channel.virtual_meter_id, Channel.obis).where(
                    Channel.virtual_meter_id.in_(sorted(self._meters))
                )
            ).all()
            self._by_obis = {}
            for cid, meter, obis in rows:
                self._by_obis.setdefault((meter, obis), cid)
            self._canonical = canonical_obis
        row = self.facts.get(channel)
        if row is None:
            return None
        try:
            wanted = str(self._canonical(ref))
        except Exception:
            return None
        return self._by_obis.get((row.virtual_meter_id, wanted))

    def _block(self, channel: int) -> IntervalBlock | None:
        if channel not in self._blocks:
            try:
                data = self.uow.read_intervals([channel], self.first, self.last, tz=self.zone)
            except (InvalidValue, NotFound):
                self._blocks[channel] = None
            else:
                self._blocks[channel] = IntervalBlock(
                    self.first,
                    timedelta(minutes=self.interval),
                    data.values[0],
                    data.flags[0],
                    channel,
                )
        return self._blocks[channel]

    def blocks(self, channel: int, roles: Any) -> dict[str, IntervalBlock]:
        """The related profile blocks by role (``check``, ``parent``)."""
        out = {}
        for role in ("check", "parent"):
            if role in roles:
                target = self._resolve(channel, roles[role])
                block = self._block(target) if target is not None else None
                if block is not None:
                    out[role] = block
        return out

    def children(self, channel: int, roles: Any) -> tuple[IntervalBlock, ...]:
        """The child (or source) channels' blocks, in order."""
        found = []
        for ref in roles.get("children", ()) or ():
            target = self._resolve(channel, ref)
            block = self._block(target) if target is not None else None
            if block is not None:
                found.append(block)
        return tuple(found)

    def registers(self, channel: int, roles: Any) -> RegisterSeries | None:
        """The register readings of the profile's register channel, a day around the period."""
        if "registers" not in roles:
            return None
        target = self._resolve(channel, roles["registers"])
        if target is None:
            return None
        if target not in self._registers:
            try:
                data = self.uow.read_registers(
                    [target], self.first - timedelta(days=1), self.last + timedelta(days=1)
                )
            except InvalidValue:
                return None
            self._registers[target] = RegisterSeries(data.times, data.normalized)
        return self._registers[target]
