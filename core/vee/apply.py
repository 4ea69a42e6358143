"""Applying a profile's steps to a batch of channels: the array work of a run, without I/O.

:func:`apply_profile` takes the values and flags of many channels over one period (``[rows,
slots]``), runs the checks and estimation methods in the profile's order and returns the new
values and flags with what each step found. The engine (:mod:`meterhub.vee.engine`) reads and
writes the store around it; the benchmark calls it directly. Plugin steps are called once per
channel with a whole block; a script step runs once per batch in the sandbox's worker.

Flags of the result: every slot the run judged gets ``VALIDATED``; a value a check found
implausible and no method replaced gets ``SUSPECT``; an estimated value gets ``ESTIMATED``, the
method's code (bits 16-23) and, where it replaces a measured value, ``SUBSTITUTED``. Protected
slots (manual, locked or released) are left exactly as they were.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import numpy as np
import numpy.typing as npt

from meterhub.extensions.series import IntervalBlock
from meterhub.extensions.veecontext import (
    EMPTY_CONTEXT,
    BlockRows,
    Finding,
    RowsVerdict,
    SlotCalendar,
    VeeContext,
    Verdict,
)
from meterhub.sandbox import Limits, run_jobs
from meterhub.timeseries.flags import METHOD_SHIFT, EstimationMethod, Flag
from meterhub.vee.profiles import PreparedStep

__all__ = ["Batch", "Outcome", "apply_profile"]

_VALIDATED = np.uint32(Flag.VALIDATED)
_SUSPECT = np.uint32(Flag.SUSPECT)
_ESTIMATED = np.uint32(Flag.ESTIMATED)
_SUBSTITUTED = np.uint32(Flag.SUBSTITUTED)
_NONE = np.uint32(0)

ContextFor = Callable[[int, PreparedStep], VeeContext]

#: Channels per call of a plugin's whole-batch method (bounded memory, cache friendly).
ROWS_PER_CALL = 64

#: What a plugin may need and still be called for a whole batch at once.
_BATCHABLE = frozenset({"calendar", "history"})


@dataclass
class Batch:
    """The values of ``rows`` channels over one period, as the run starts from.

    ``flags`` hold what is stored less VEE's own marks (a run starts clean, so running it again
    gives the same result); ``protected`` marks the slots the run must not change.
    """

    channel_ids: npt.NDArray[np.int64]
    start: datetime
    interval_minutes: int
    values: npt.NDArray[np.float64]
    flags: npt.NDArray[np.uint32]
    protected: npt.NDArray[np.bool_]
    script_data: Callable[[int], dict[str, Any]] | None = None
    #: What the ingest checks found (they run first, so no run clears their flags).
    found_at_ingest: npt.NDArray[np.bool_] | None = None
    #: The shared calendar (history + period), history values and flags, the zone: what the
    #: whole-batch methods of plugins get.
    calendar: SlotCalendar | None = None
    history_values: npt.NDArray[np.float64] | None = None
    history_flags: npt.NDArray[np.uint32] | None = None
    tz: tzinfo = UTC

    @property
    def rows(self) -> int:
        """How many channels."""
        return int(self.values.shape[0])


@dataclass
class StepResult:
    """What one step found or filled in one channel (for the results per value)."""

    row: int
    step: str
    positions: npt.NDArray[np.bool_]
    message: str
    outcome: str  # "suspect", "missing" or "estimated"


@dataclass
class Outcome:
    """The result of a run over a batch."""

    values: npt.NDArray[np.float64]
    flags: npt.NDArray[np.uint32]
    suspect: npt.NDArray[np.bool_]
    estimated: npt.NDArray[np.bool_]
    results: list[StepResult] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _verdict(result: Any, length: int, step: str) -> Verdict:
    if isinstance(result, list) and all(isinstance(item, Finding) for item in result):
        return Verdict.from_findings(length, result)
    if not isinstance(result, Verdict):
        raise TypeError(f"check {step!r} returned {type(result).__name__}, not a Verdict")
    for array in (result.suspect, result.missing):
        if array is not None and (
            not isinstance(array, np.ndarray) or array.shape != (length,) or array.dtype != np.bool_
        ):
            raise TypeError(f"check {step!r} returned a malformed verdict (shape or type)")
    return result


def _live(rows: int, failed: dict[int, str]) -> list[int]:
    return [r for r in range(rows) if r not in failed]


def apply_profile(
    steps: Sequence[PreparedStep],
    batch: Batch,
    context_for: ContextFor | None = None,
    limits: Limits | None = None,
) -> Outcome:
    """Run ``steps`` over ``batch`` (see the module docstring). A step that raises or returns
    garbage for a channel fails that channel (``Outcome.failed``, with the reason) and the
    others go on; a failed channel's values must not be written."""
    rows, slots = batch.values.shape
    interval = timedelta(minutes=batch.interval_minutes)
    work = batch.values.copy()
    measured = ~np.isnan(batch.values)
    any_protected = bool(batch.protected.any())
    open_slots = ~batch.protected
    judgeable = measured & open_slots if any_protected else measured
    suspect = np.zeros((rows, slots), dtype=bool)
    missing = np.zeros((rows, slots), dtype=bool)
    estimated = np.zeros((rows, slots), dtype=bool)
    methods = np.zeros((rows, slots), dtype=np.uint32)
    outcome = Outcome(work, batch.flags, suspect, estimated)
    failed = outcome.failed
    ids = batch.channel_ids.tolist()

    def block(r: int, values: npt.NDArray[np.float64]) -> IntervalBlock:
        return IntervalBlock(batch.start, interval, values, batch.flags[r], ids[r])

    if batch.found_at_ingest is not None:
        suspect |= batch.found_at_ingest & measured & open_slots
        for r in np.flatnonzero(suspect.any(axis=1)).tolist():
            outcome.results.append(StepResult(r, "ingest checks", suspect[r].copy(), "", "suspect"))

    for step in steps:
        if step.script is not None:
            _script_step(step, batch, work, suspect, missing, estimated, methods, outcome, limits)
            continue
        plugin: Any = step.plugin
        needs_context = bool(plugin.needs) and context_for is not None
        if step.is_check:
            done: set[int] = set()
            if plugin.needs <= _BATCHABLE:
                done = _check_rows(plugin, step, batch, work, judgeable, outcome, missing)
            rest = [r for r in _live(rows, failed) if r not in done]
            for r in rest:
                try:
                    context = (
                        context_for(r, step) if needs_context and context_for else EMPTY_CONTEXT
                    )
                    verdict = _verdict(
                        plugin.validate(block(r, work[r]), step.parameters, context),
                        slots,
                        step.name,
                    )
                except Exception as error:  # a plugin's failure fails this channel only
                    failed[r] = f"check {step.name!r}: {type(error).__name__}: {error}"
                    continue
                found = verdict.suspect & judgeable[r] & ~estimated[r]
                if found.any():
                    suspect[r] |= found
                    outcome.results.append(
                        StepResult(r, step.name, found, verdict.message, "suspect")
                    )
                if verdict.missing is not None:
                    gaps = verdict.missing & open_slots[r] & np.isnan(work[r])
                    if gaps.any():
                        missing[r] |= gaps
                        outcome.results.append(
                            StepResult(r, step.name, gaps, verdict.message, "missing")
                        )
            continue
        todo_all = (suspect | missing) & open_slots & ~estimated
        done = set()
        if plugin.needs <= _BATCHABLE:
            done = _estimate_rows(
                plugin, step, batch, work, todo_all, suspect, estimated, methods, outcome
            )
        for r in np.flatnonzero(todo_all.any(axis=1)).tolist():
            if r in failed or r in done:
                continue
            todo = todo_all[r]
            given = np.where(suspect[r] & ~estimated[r], np.nan, work[r])
            try:
                context = context_for(r, step) if needs_context and context_for else EMPTY_CONTEXT
                new = plugin.estimate(block(r, given), todo, step.parameters, context)
                if not isinstance(new, np.ndarray) or new.shape != (slots,):
                    raise TypeError(f"returned {type(new).__name__}, not {slots} values")
                new = np.asarray(new, dtype=np.float64)
                if np.isinf(new[todo]).any():
                    raise ValueError("returned infinite values")
            except Exception as error:
                failed[r] = f"estimation {step.name!r}: {type(error).__name__}: {error}"
                continue
            filled = todo if plugin.clears else todo & ~np.isnan(new)
            if filled.any():
                work[r, filled] = new[filled]
                estimated[r] |= filled
                methods[r, filled] = np.uint32(plugin.method)
                outcome.results.append(StepResult(r, step.name, filled, "", "estimated"))
    flags = batch.flags.copy()
    judged = ~np.isnan(work)
    judged |= estimated
    if any_protected:
        judged &= open_slots
    np.bitwise_or(flags, _VALIDATED, out=flags, where=judged)
    if suspect.any():
        np.bitwise_or(flags, _SUSPECT, out=flags, where=suspect & ~estimated)
    if estimated.any():
        method_bits = (methods << np.uint32(METHOD_SHIFT)) | _ESTIMATED
        method_bits |= np.where(measured, _SUBSTITUTED, _NONE)
        flags = np.where(estimated, (flags & ~np.uint32(0xFF << METHOD_SHIFT)) | method_bits, flags)
    outcome.values = work
    outcome.flags = flags.astype(np.uint32)
    return outcome


def _take(index: npt.NDArray[np.int64]) -> slice | npt.NDArray[np.int64]:
    """A slice (a view, no copy) where the rows are contiguous, else the index."""
    lo, hi = int(index[0]), int(index[-1]) + 1
    return slice(lo, hi) if hi - lo == index.size else index


def _rows(batch: Batch, index: npt.NDArray[np.int64], values: npt.NDArray[np.float64]) -> BlockRows:
    """The rows ``index`` of the batch as a :class:`BlockRows` with ``values`` (those rows')."""
    where = _take(index)
    return BlockRows(
        batch.start,
        timedelta(minutes=batch.interval_minutes),
        values,
        batch.flags[where],
        batch.channel_ids[where],
        None if batch.history_values is None else batch.history_values[where],
        None if batch.history_flags is None else batch.history_flags[where],
        batch.calendar,
        batch.tz,
    )


def _chunks(rows: list[int]) -> list[npt.NDArray[np.int64]]:
    return [np.asarray(rows[i : i + ROWS_PER_CALL]) for i in range(0, len(rows), ROWS_PER_CALL)]


def _check_rows(
    plugin: Any,
    step: PreparedStep,
    batch: Batch,
    work: npt.NDArray[np.float64],
    judgeable: npt.NDArray[np.bool_],
    outcome: Outcome,
    missing: npt.NDArray[np.bool_],
) -> set[int]:
    """A check's whole-batch method over the live rows, chunk by chunk (each chunk's masks are
    combined while they are in the cache); the rows it answered. A chunk whose call raises or
    gives garbage is left to the per-channel path."""
    done: set[int] = set()
    suspect, estimated = outcome.suspect, outcome.estimated
    any_estimated = bool(estimated.any())
    open_slots = ~batch.protected
    for index in _chunks(_live(batch.rows, outcome.failed)):
        try:
            verdict = plugin.validate_rows(_rows(batch, index, work[_take(index)]), step.parameters)
        except Exception:
            verdict = None
        if verdict is None:
            return done
        shape = (index.size, work.shape[1])
        if (
            not isinstance(verdict, RowsVerdict)
            or verdict.suspect.shape != shape
            or (verdict.missing is not None and verdict.missing.shape != shape)
            or len(verdict.messages) != index.size
        ):
            continue
        lo, hi = int(index[0]), int(index[-1]) + 1
        contiguous = hi - lo == index.size
        where = slice(lo, hi) if contiguous else index
        found = verdict.suspect & judgeable[where]
        if any_estimated:
            found &= ~estimated[where]
        if contiguous:
            suspect[lo:hi] |= found
        else:
            suspect[index] |= found
        for position in np.flatnonzero(found.any(axis=1)).tolist():
            outcome.results.append(
                StepResult(
                    int(index[position]),
                    step.name,
                    found[position],
                    verdict.messages[position],
                    "suspect",
                )
            )
        if verdict.missing is not None:
            gaps = verdict.missing & np.isnan(work[where])
            if not open_slots[where].all():
                gaps &= open_slots[where]
            if contiguous:
                missing[lo:hi] |= gaps
            else:
                missing[index] |= gaps
            for position in np.flatnonzero(gaps.any(axis=1)).tolist():
                outcome.results.append(
                    StepResult(
                        int(index[position]),
                        step.name,
                        gaps[position],
                        verdict.messages[position],
                        "missing",
                    )
                )
        done.update(index.tolist())
    return done


def _estimate_rows(
    plugin: Any,
    step: PreparedStep,
    batch: Batch,
    work: npt.NDArray[np.float64],
    todo_all: npt.NDArray[np.bool_],
    suspect: npt.NDArray[np.bool_],
    estimated: npt.NDArray[np.bool_],
    methods: npt.NDArray[np.uint32],
    outcome: Outcome,
) -> set[int]:
    """An estimation method's whole-batch method over the rows with something to estimate."""
    done: set[int] = set()
    wanted = [r for r in np.flatnonzero(todo_all.any(axis=1)).tolist() if r not in outcome.failed]
    for index in _chunks(wanted):
        given = np.where(suspect[index] & ~estimated[index], np.nan, work[index])
        rows = _rows(batch, index, given)
        todo = todo_all[index]
        try:
            new = plugin.estimate_rows(rows, todo, step.parameters)
        except Exception:
            new = None
        if new is None:
            return done
        if not isinstance(new, np.ndarray) or new.shape != todo.shape:
            continue
        new = np.asarray(new, dtype=np.float64)
        if np.isinf(new[todo]).any():
            continue
        filled = todo if plugin.clears else todo & ~np.isnan(new)
        r_idx, c_idx = np.nonzero(filled)
        rows_abs = index[r_idx]
        work[rows_abs, c_idx] = new[r_idx, c_idx]
        estimated[rows_abs, c_idx] = True
        methods[rows_abs, c_idx] = np.uint32(plugin.method)
        for position in np.flatnonzero(filled.any(axis=1)).tolist():
            r = int(index[position])
            outcome.results.append(
                StepResult(r, step.name, filled[position].copy(), "", "estimated")
            )
        done.update(index.tolist())
    return done


def _script_step(
    step: PreparedStep,
    batch: Batch,
    work: npt.NDArray[np.float64],
    suspect: npt.NDArray[np.bool_],
    missing: npt.NDArray[np.bool_],
    estimated: npt.NDArray[np.bool_],
    methods: npt.NDArray[np.uint32],
    outcome: Outcome,
    limits: Limits | None,
) -> None:
    """One script step over every live channel of the batch, in one sandbox worker."""
    assert step.script is not None
    rows = _live(batch.rows, outcome.failed)
    open_slots = ~batch.protected
    measured = ~np.isnan(batch.values)
    jobs = []
    for r in rows:
        job = dict(batch.script_data(r)) if batch.script_data else {}
        todo = (suspect[r] | missing[r]) & open_slots[r] & ~estimated[r]
        job.update(
            values=np.where(suspect[r] & ~estimated[r], np.nan, work[r])
            if step.kind == "script_estimate"
            else work[r],
            flags=batch.flags[r].astype(np.float64),
            missing=todo.astype(np.float64),
            parameters=dict(step.raw_parameters),
            interval=batch.interval_minutes,
        )
        jobs.append(job)
    for r, result in zip(rows, run_jobs(step.script, jobs, limits), strict=True):
        if not result.ok:
            outcome.failed[r] = result.error or "script failed"
            continue
        outcome.notes.extend(result.result.get("notes", ()))
        if step.kind == "script_check":
            found = result.result["suspect"] & measured[r] & open_slots[r] & ~estimated[r]
            if found.any():
                suspect[r] |= found
                reasons = "; ".join(result.result.get("reasons", ())[:3])
                outcome.results.append(StepResult(r, step.name, found, reasons, "suspect"))
        else:
            todo = (suspect[r] | missing[r]) & open_slots[r] & ~estimated[r]
            filled = result.result["estimated"] & todo
            values = result.result["values"]
            if filled.any() and values is not None:
                work[r, filled] = values[filled]
                estimated[r] |= filled
                methods[r, filled] = np.uint32(EstimationMethod.SCRIPT)
                outcome.results.append(StepResult(r, step.name, filled, "", "estimated"))
