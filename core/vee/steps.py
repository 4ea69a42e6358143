"""The state of a profile run over a batch and its steps on a chunk of channels.

:class:`Run` holds the result's arrays for the whole batch (a chunk works on views of them) and,
for the current chunk, the masks only the steps need, in reused buffers. It runs one step on
the rows ``lo:hi``: through the plugin's whole-batch method where it has one (``needs`` at most
``calendar`` and ``history``), else, or where that method refuses or answers garbage, channel by
channel with the context the engine builds. A script step runs over the whole batch at once
(:meth:`Run.script`); then those masks are kept for the whole batch (``whole``).
:func:`meterhub.vee.apply.apply_profile` drives it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from meterhub.extensions.series import IntervalBlock
from meterhub.extensions.veecontext import (
    EMPTY_CONTEXT,
    BlockRows,
    Finding,
    RowsVerdict,
    Verdict,
)
from meterhub.extensions.veekit.scratch import scratch
from meterhub.sandbox import Limits, run_jobs
from meterhub.timeseries.flags import METHOD_MASK, METHOD_SHIFT, EstimationMethod, Flag
from meterhub.vee.batch import Batch, ContextFor, Outcome, StepResult
from meterhub.vee.profiles import PreparedStep

__all__ = ["Run"]

_VALIDATED = np.uint32(Flag.VALIDATED)
_SUSPECT = np.uint32(Flag.SUSPECT)
_ESTIMATED = np.uint32(Flag.ESTIMATED)
_SUBSTITUTED = np.uint32(Flag.SUBSTITUTED)
_KEEP = np.uint32(~METHOD_MASK & 0xFFFFFFFF)
_NONE = np.uint32(0)

#: What a plugin may need and still be called for a whole chunk at once.
_BATCHABLE = frozenset({"calendar", "history"})

Where = slice | npt.NDArray[np.int64]


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


class Run:
    """One run of ``steps`` over ``batch``: the arrays of the result and what was found."""

    def __init__(
        self,
        batch: Batch,
        steps: Sequence[PreparedStep],
        context_for: ContextFor | None,
        limits: Limits | None,
        whole: bool = False,
    ) -> None:
        self.batch = batch
        self.steps = list(steps)
        self.context_for = context_for
        self.limits = limits
        shape = batch.values.shape
        self.slots = int(shape[1])
        self.interval = timedelta(minutes=batch.interval_minutes)
        self.ids = batch.channel_ids.tolist()
        self.work = np.empty(shape, dtype=batch.values.dtype)
        self.flags = np.empty(shape, dtype=np.uint32)
        self.suspect = np.zeros(shape, dtype=bool)
        self.estimated = np.zeros(shape, dtype=bool)
        # What only the steps need (what may be judged, the gaps found, the method of each
        # estimate) lives for one chunk in reused buffers, unless a script step needs all of
        # the batch's at once (``whole``).
        self.whole = whole
        self.all_judgeable = np.empty(shape, dtype=bool) if whole else None
        self.all_missing = np.zeros(shape, dtype=bool) if whole else None
        self.all_methods = np.zeros(shape, dtype=np.uint32) if whole else None
        self.lo = 0
        self.judgeable = self.missing = np.empty((0, self.slots), dtype=bool)
        self.methods = np.empty((0, self.slots), dtype=np.uint32)
        #: The rows with an estimated value (most checks then skip a mask).
        self.rows_estimated = np.zeros(shape[0], dtype=bool)
        self.any_protected = bool(batch.protected.any())
        self.failed: dict[int, str] = {}
        self.notes: list[str] = []
        self.found_at_ingest: list[StepResult] = []
        # per step: what whole-chunk calls found, then what per-channel calls found
        self.batched: list[list[StepResult]] = [[] for _ in self.steps]
        self.single: list[list[StepResult]] = [[] for _ in self.steps]
        self.refused = [False] * len(self.steps)

    # -- the chunk's start and the result --------------------------------------------------

    def enter(self, lo: int, hi: int) -> None:
        """Make rows ``lo:hi`` the chunk the steps work on (after :meth:`begin`)."""
        self.lo = lo
        if self.whole:
            assert self.all_judgeable is not None and self.all_missing is not None
            assert self.all_methods is not None
            self.judgeable = self.all_judgeable[lo:hi]
            self.missing = self.all_missing[lo:hi]
            self.methods = self.all_methods[lo:hi]

    def begin(self, lo: int, hi: int) -> None:
        """Start rows ``lo:hi``: the values to work on, what may be judged, what the ingest
        checks found; the chunk becomes the current one."""
        shape = (hi - lo, self.slots)
        if not self.whole:
            self.judgeable = scratch("vee.judgeable", shape, np.bool_)
            self.missing = scratch("vee.missing", shape, np.bool_)
            self.missing.fill(False)
            self.methods = scratch("vee.methods", shape, np.uint32)
            self.methods.fill(0)
        self.enter(lo, hi)
        batch = self.batch
        values = batch.values[lo:hi]
        np.copyto(self.work[lo:hi], values)
        judgeable = self.judgeable
        np.isnan(values, out=judgeable)
        np.logical_not(judgeable, out=judgeable)
        if self.any_protected:
            judgeable &= ~batch.protected[lo:hi]
        if batch.found_at_ingest is not None:
            suspect = self.suspect[lo:hi]
            suspect |= batch.found_at_ingest[lo:hi] & judgeable
            for position in np.flatnonzero(suspect.any(axis=1)).tolist():
                self.found_at_ingest.append(
                    StepResult(
                        lo + position, "ingest checks", suspect[position].copy(), "", "suspect"
                    )
                )

    def finish(self, lo: int, hi: int) -> None:
        """The flags of rows ``lo:hi`` of the result (the current chunk, while it is in the
        cache)."""
        work, estimated = self.work[lo:hi], self.estimated[lo:hi]
        flags = self.flags[lo:hi]
        # what has a value now: what was measured (no check removes a value) or estimated
        any_estimated = bool(self.rows_estimated[lo:hi].any())
        judged = self.judgeable  # measured and open
        if any_estimated:
            judged = np.logical_or(
                judged, estimated, out=scratch("vee.judged", work.shape, np.bool_)
            )
            if self.any_protected:
                judged &= ~self.batch.protected[lo:hi]
        # VALIDATED on all, then the few slots not judged get their flags back as they were
        given = self.batch.flags[lo:hi]
        np.bitwise_or(given, _VALIDATED, out=flags)
        flat = flags.reshape(-1)
        at = np.flatnonzero(
            np.logical_not(judged, out=scratch("vee.unjudged", work.shape, np.bool_))
        )
        if at.size:
            flat[at] = given.reshape(-1)[at]
        suspect = self.suspect[lo:hi]
        if any_estimated:
            suspect = suspect & ~estimated
        at = np.flatnonzero(suspect)
        if at.size:
            flat[at] |= _SUSPECT
        if any_estimated:
            at = np.flatnonzero(estimated)
            method_bits = (self.methods.reshape(-1)[at] << np.uint32(METHOD_SHIFT)) | _ESTIMATED
            measured = ~np.isnan(self.batch.values[lo:hi].reshape(-1)[at])
            method_bits |= np.where(measured, _SUBSTITUTED, _NONE)
            flat[at] = (flat[at] & _KEEP) | method_bits

    def outcome(self) -> Outcome:
        """The outcome, with the results in the order of the steps."""
        results = list(self.found_at_ingest)
        for batched, single in zip(self.batched, self.single, strict=True):
            results += batched
            results += single
        return Outcome(
            self.work, self.flags, self.suspect, self.estimated, results, self.failed, self.notes
        )

    # -- steps -------------------------------------------------------------------------------

    def step(self, index: int, lo: int, hi: int) -> None:
        """Run step ``index`` on rows ``lo:hi``."""
        step = self.steps[index]
        if step.is_check:
            self._check(index, step, lo, hi)
        else:
            self._estimate(index, step, lo, hi)

    def _live(self, lo: int, hi: int) -> list[int]:
        if not self.failed:
            return list(range(lo, hi))
        return [r for r in range(lo, hi) if r not in self.failed]

    def _rows(self, where: Where, values: npt.NDArray[np.float64]) -> BlockRows:
        batch = self.batch
        return BlockRows(
            batch.start,
            self.interval,
            values,
            batch.flags[where],
            batch.channel_ids[where],
            None if batch.history_values is None else batch.history_values[where],
            None if batch.history_flags is None else batch.history_flags[where],
            batch.calendar,
            batch.tz,
        )

    def _block(self, r: int, values: npt.NDArray[np.float64]) -> IntervalBlock:
        return IntervalBlock(
            self.batch.start, self.interval, values, self.batch.flags[r], self.ids[r]
        )

    def _context(self, r: int, step: PreparedStep) -> Any:
        plugin: Any = step.plugin
        if plugin.needs and self.context_for is not None:
            return self.context_for(r, step)
        return EMPTY_CONTEXT

    @staticmethod
    def _where(lo: int, hi: int, rows: list[int]) -> Where:
        return slice(lo, hi) if len(rows) == hi - lo else np.asarray(rows, dtype=np.int64)

    def _here(self, where: Where) -> Where:
        """``where`` (rows of the batch) in the current chunk's arrays."""
        if isinstance(where, slice):
            return slice(where.start - self.lo, where.stop - self.lo)
        return where - self.lo

    def _check(self, index: int, step: PreparedStep, lo: int, hi: int) -> None:
        plugin: Any = step.plugin
        rows = self._live(lo, hi)
        if not rows:
            return
        if plugin.needs <= _BATCHABLE and not self.refused[index]:
            where = self._where(lo, hi, rows)
            try:
                verdict = plugin.validate_rows(self._rows(where, self.work[where]), step.parameters)
            except Exception:  # the channels are checked one by one instead
                verdict = None
            if verdict is None:
                self.refused[index] = True
            elif self._take_verdict(index, step, verdict, where, rows):
                return
        for r in rows:
            self._check_row(index, step, r)

    def _take_verdict(
        self, index: int, step: PreparedStep, verdict: Any, where: Where, rows: list[int]
    ) -> bool:
        """Record a whole-chunk verdict; ``False`` (nothing recorded) when it is malformed."""
        shape = (len(rows), self.slots)
        if (
            not isinstance(verdict, RowsVerdict)
            or verdict.suspect.shape != shape
            or (verdict.missing is not None and verdict.missing.shape != shape)
            or len(verdict.messages) != len(rows)
        ):
            return False
        here = self._here(where)
        results = self.batched[index]
        if verdict.suspect.any():
            found = verdict.suspect & self.judgeable[here]
            if self.rows_estimated[where].any():
                found &= ~self.estimated[where]
            self.suspect[where] |= found
            for position in np.flatnonzero(found.any(axis=1)).tolist():
                results.append(
                    StepResult(
                        rows[position],
                        step.name,
                        found[position],
                        verdict.messages[position],
                        "suspect",
                    )
                )
        if verdict.missing is not None:
            if self.any_protected or self.rows_estimated[where].any():
                gaps = verdict.missing & np.isnan(self.work[where])
                if self.any_protected:
                    gaps &= ~self.batch.protected[where]
            else:  # nothing estimated, nothing protected: empty is what was not measured
                gaps = verdict.missing & ~self.judgeable[here]
            self.missing[here] |= gaps
            for position in np.flatnonzero(gaps.any(axis=1)).tolist():
                results.append(
                    StepResult(
                        rows[position],
                        step.name,
                        gaps[position],
                        verdict.messages[position],
                        "missing",
                    )
                )
        return True

    def _check_row(self, index: int, step: PreparedStep, r: int) -> None:
        plugin: Any = step.plugin
        try:
            verdict = _verdict(
                plugin.validate(
                    self._block(r, self.work[r]), step.parameters, self._context(r, step)
                ),
                self.slots,
                step.name,
            )
        except Exception as error:  # a plugin's failure fails this channel only
            self.failed[r] = f"check {step.name!r}: {type(error).__name__}: {error}"
            return
        found = verdict.suspect & self.judgeable[r - self.lo] & ~self.estimated[r]
        results = self.single[index]
        if found.any():
            self.suspect[r] |= found
            results.append(StepResult(r, step.name, found, verdict.message, "suspect"))
        if verdict.missing is not None:
            gaps = verdict.missing & ~self.batch.protected[r] & np.isnan(self.work[r])
            if gaps.any():
                self.missing[r - self.lo] |= gaps
                results.append(StepResult(r, step.name, gaps, verdict.message, "missing"))

    def _estimate(self, index: int, step: PreparedStep, lo: int, hi: int) -> None:
        plugin: Any = step.plugin
        todo = self.suspect[lo:hi] | self.missing
        if self.any_protected:
            todo &= ~self.batch.protected[lo:hi]
        any_estimated = bool(self.rows_estimated[lo:hi].any())
        if any_estimated:
            todo &= ~self.estimated[lo:hi]
        wanted = [
            lo + position
            for position in np.flatnonzero(todo.any(axis=1)).tolist()
            if lo + position not in self.failed
        ]
        if not wanted:
            return
        if plugin.needs <= _BATCHABLE and not self.refused[index]:
            where = self._where(lo, hi, wanted)
            todo_rows = todo if isinstance(where, slice) else todo[where - lo]
            given = scratch("vee.given", todo_rows.shape, self.work.dtype)
            np.copyto(given, self.work[where])
            replaced = self.suspect[where]
            if any_estimated:
                replaced = replaced & ~self.estimated[where]
            given[replaced] = np.nan
            try:
                new = plugin.estimate_rows(self._rows(where, given), todo_rows, step.parameters)
            except Exception:  # the channels are estimated one by one instead
                new = None
            if new is None:
                self.refused[index] = True
            elif self._take_estimates(index, step, new, where, wanted, todo_rows):
                return
        for r in wanted:
            self._estimate_row(index, step, r, todo[r - lo])

    def _take_estimates(
        self,
        index: int,
        step: PreparedStep,
        new: Any,
        where: Where,
        rows: list[int],
        todo: npt.NDArray[np.bool_],
    ) -> bool:
        """Record a whole-chunk estimate; ``False`` (nothing recorded) when it is malformed."""
        plugin: Any = step.plugin
        if not isinstance(new, np.ndarray) or new.shape != todo.shape:
            return False
        new = np.asarray(new, dtype=np.float64)
        method = np.uint32(plugin.method)
        if isinstance(where, slice):  # rows lo:hi, all of them: flat positions in views
            todo_at = np.flatnonzero(todo)
            candidates = new.reshape(-1)[todo_at]
            if np.isinf(candidates).any():
                return False
            if plugin.clears:
                filled_at, filled = todo_at, todo
            else:
                kept = ~np.isnan(candidates)
                filled_at, candidates = todo_at[kept], candidates[kept]
                filled = np.zeros(todo.shape, dtype=bool)
                filled.reshape(-1)[filled_at] = True
            self.work[where].reshape(-1)[filled_at] = candidates
            self.estimated[where].reshape(-1)[filled_at] = True
            self.methods[self._here(where)].reshape(-1)[filled_at] = method
            self.rows_estimated[where] |= filled.any(axis=1)
        else:
            if np.isinf(new[todo]).any():
                return False
            filled = todo if plugin.clears else todo & ~np.isnan(new)
            r_idx, c_idx = np.nonzero(filled)
            rows_abs = where[r_idx]
            self.work[rows_abs, c_idx] = new[r_idx, c_idx]
            self.estimated[rows_abs, c_idx] = True
            self.methods[rows_abs - self.lo, c_idx] = method
            self.rows_estimated[rows_abs] = True
        results = self.batched[index]
        for position in np.flatnonzero(filled.any(axis=1)).tolist():
            results.append(StepResult(rows[position], step.name, filled[position], "", "estimated"))
        return True

    def _estimate_row(
        self, index: int, step: PreparedStep, r: int, todo: npt.NDArray[np.bool_]
    ) -> None:
        plugin: Any = step.plugin
        given = np.where(self.suspect[r] & ~self.estimated[r], np.nan, self.work[r])
        try:
            new = plugin.estimate(
                self._block(r, given), todo, step.parameters, self._context(r, step)
            )
            if not isinstance(new, np.ndarray) or new.shape != (self.slots,):
                raise TypeError(f"returned {type(new).__name__}, not {self.slots} values")
            new = np.asarray(new, dtype=np.float64)
            if np.isinf(new[todo]).any():
                raise ValueError("returned infinite values")
        except Exception as error:
            self.failed[r] = f"estimation {step.name!r}: {type(error).__name__}: {error}"
            return
        filled = todo if plugin.clears else todo & ~np.isnan(new)
        if filled.any():
            self.work[r, filled] = new[filled]
            self.estimated[r] |= filled
            self.methods[r - self.lo, filled] = np.uint32(plugin.method)
            self.rows_estimated[r] = True
            self.single[index].append(StepResult(r, step.name, filled, "", "estimated"))

    # -- a script step -------------------------------------------------------------------------

    def script(self, index: int) -> None:
        """Run script step ``index`` over every live channel of the batch, in one sandbox
        worker."""
        step = self.steps[index]
        assert step.script is not None
        batch = self.batch
        rows = [r for r in range(batch.rows) if r not in self.failed]
        open_slots = ~batch.protected
        measured = ~np.isnan(batch.values)
        assert self.all_missing is not None and self.all_methods is not None
        suspect, missing, estimated, work = (
            self.suspect,
            self.all_missing,
            self.estimated,
            self.work,
        )
        results = self.single[index]
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
        for r, result in zip(rows, run_jobs(step.script, jobs, self.limits), strict=True):
            if not result.ok:
                self.failed[r] = result.error or "script failed"
                continue
            self.notes.extend(result.result.get("notes", ()))
            if step.kind == "script_check":
                found = result.result["suspect"] & measured[r] & open_slots[r] & ~estimated[r]
                if found.any():
                    suspect[r] |= found
                    reasons = "; ".join(result.result.get("reasons", ())[:3])
                    results.append(StepResult(r, step.name, found, reasons, "suspect"))
            else:
                todo = (suspect[r] | missing[r]) & open_slots[r] & ~estimated[r]
                filled = result.result["estimated"] & todo
                values = result.result["values"]
                if filled.any() and values is not None:
                    work[r, filled] = values[filled]
                    estimated[r] |= filled
                    self.all_methods[r, filled] = np.uint32(EstimationMethod.SCRIPT)
                    self.rows_estimated[r] = True
                    results.append(StepResult(r, step.name, filled, "", "estimated"))
