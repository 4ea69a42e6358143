"""The chunked array path of a profile run against a straightforward implementation.

:func:`meterhub.vee.apply.apply_profile` runs the built-in checks through their whole-batch
kernels (sorted like-day matrices, flat run detection, sparse gap counts, in-place
interpolation) chunk by chunk. Here the same profile is computed the plain way: one channel at
a time, one slot at a time, with Python loops that follow the documented rules of each check
and method. Both must agree exactly (values to the last bit, flags, suspect and estimated
marks, the positions each step reports) on random data with gaps, spikes, zero and flat runs,
status bits, protected slots, values that must not serve as like-day reference, history, and
starts around the DST changes of Europe/Berlin.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterhub.config import load_settings
from meterhub.extensions.veekit import STATUS_BITS, like_day_reference
from meterhub.licensing import development_license
from meterhub.pluginhost import build_plugin_host
from meterhub.sandbox import compile_script
from meterhub.timeseries.flags import METHOD_SHIFT, EstimationMethod, Flag
from meterhub.vee import apply as apply_module
from meterhub.vee.apply import Batch, apply_profile
from meterhub.vee.daytypes import DayTypes, slot_calendar
from meterhub.vee.profiles import StepSpec, prepare_steps

LIMITS = (0.0, 3.0)
SPIKE = (2.0, 0.3)  # factor, min_delta
RUN = 4  # shortest zero or flat run
LIKE = {"days": 2, "high": 2.5, "low": 0.4, "min_reference": 0.05}
MAX_GAP = 3

STEPS = (
    StepSpec("check", "limits", {"min": LIMITS[0], "max": LIMITS[1]}),
    StepSpec("check", "gaps", {}),
    StepSpec("check", "spike", {"factor": SPIKE[0], "min_delta": SPIKE[1]}),
    StepSpec("check", "zero_run", {"intervals": RUN}),
    StepSpec("check", "flat_line", {"intervals": RUN}),  # a per-channel check among them
    StepSpec("check", "status_bits", {}),
    StepSpec("check", "like_day", dict(LIKE)),
    StepSpec("estimate", "linear", {"max_gap": MAX_GAP}),
    StepSpec("estimate", "null", {}),
)

STATUS_MASK = sum(
    1 << STATUS_BITS[name]
    for name in (
        "critical_error",
        "clock_invalid",
        "data_not_valid",
        "clock_adjusted",
        "power_down",
    )
)
OUTAGE = 1 << STATUS_BITS["power_down"]
NOT_A_REFERENCE = int(Flag.SUSPECT | Flag.ESTIMATED)

#: Local midnights and odd hours around the DST changes of 2026 in Europe/Berlin (UTC).
STARTS = (
    datetime(2026, 3, 20, 23, tzinfo=UTC),
    datetime(2026, 3, 27, 23, tzinfo=UTC),
    datetime(2026, 3, 28, 5, 15, tzinfo=UTC),
    datetime(2026, 10, 18, 22, tzinfo=UTC),
    datetime(2026, 10, 24, 22, tzinfo=UTC),
    datetime(2026, 10, 24, 13, 45, tzinfo=UTC),
    datetime(2026, 10, 31, 23, tzinfo=UTC),  # the Sunday after the long day
    datetime(2026, 4, 4, 22, tzinfo=UTC),  # the Sunday after the short day
    datetime(2026, 6, 1, 22, tzinfo=UTC),
)


@pytest.fixture(scope="module")
def steps(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    """The profile's steps with the installed plugins."""
    data_dir: Path = tmp_path_factory.mktemp("host")
    host = build_plugin_host(development_license(), load_settings(data_dir=data_dir))
    return prepare_steps(STEPS, host, {}, {})


# -- the plain implementation ------------------------------------------------------------------


def _runs(mask: list[bool], flags: list[int]) -> list[bool]:
    """Runs of at least RUN true positions with no outage bit inside."""
    out = [False] * len(mask)
    i = 0
    while i < len(mask):
        if not mask[i]:
            i += 1
            continue
        j = i
        while j < len(mask) and mask[j]:
            j += 1
        if j - i >= RUN and not any(flags[k] & OUTAGE for k in range(i, j)):
            for k in range(i, j):
                out[k] = True
        i = j
    return out


def _fmax(a: float, b: float) -> float:
    if math.isnan(a):
        return b
    if math.isnan(b):
        return a
    return max(a, b)


def _like_day_references(
    usable: list[float],
    days: list[int],
    types: list[int],
    minutes: list[int],
    interval: int,
    tail: int,
) -> list[float]:
    """The mean of the same slot of the local day (minute // interval) on the LIKE['days']
    latest earlier dates of the same day type, for the last ``tail`` slots (of a repeated hour
    the later value counts)."""
    at: dict[tuple[int, int], float] = {}
    for value, day, minute in zip(usable, days, minutes, strict=True):
        at[(day, minute // interval)] = value
    dates = sorted(set(days))
    kind = {day: kind for day, kind in zip(days, types, strict=True)}
    out = []
    for s in range(len(usable) - tail, len(usable)):
        earlier = [d for d in dates if d < days[s] and kind[d] == kind[days[s]]]
        total, count = 0.0, 0
        for d in reversed(earlier[-LIKE["days"] :]):  # the most recent first
            value = at.get((d, minutes[s] // interval), math.nan)
            if not math.isnan(value):
                total += value
                count += 1
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append(float(np.float64(total) / np.float64(count)))
    return out


def _plain_channel(
    values: list[float],
    flags: list[int],
    protected: list[bool],
    ingest: list[bool],
    history: list[float],
    history_flags: list[int],
    calendar: Any,
    interval: int,
) -> tuple[list[float], list[int], list[bool], list[bool], dict[tuple[str, str], list[int]]]:
    n = len(values)
    work = list(values)
    measured = [not math.isnan(v) for v in values]
    open_ = [not p for p in protected]
    judgeable = [m and o for m, o in zip(measured, open_, strict=True)]
    suspect = [False] * n
    missing = [False] * n
    estimated = [False] * n
    method = [0] * n
    found: dict[tuple[str, str], list[int]] = {}

    def check(name: str, marks: list[bool]) -> None:
        hits = [i for i in range(n) if marks[i] and judgeable[i] and not estimated[i]]
        for i in hits:
            suspect[i] = True
        if hits:
            found[(name, "suspect")] = hits

    ingested = [i for i in range(n) if ingest[i] and judgeable[i]]
    for i in ingested:
        suspect[i] = True
    if ingested:
        found[("ingest checks", "suspect")] = ingested
    check("limits", [v < LIMITS[0] or v > LIMITS[1] for v in work])
    gaps = [i for i in range(n) if math.isnan(work[i]) and open_[i]]
    for i in gaps:
        missing[i] = True
    if gaps:
        found[("gaps", "missing")] = gaps
    factor, delta = SPIKE
    spike = [False] * n
    for i in range(1, n - 1):
        reference = _fmax(work[i - 1], work[i + 1])
        spike[i] = work[i] - reference > delta and work[i] > reference * factor
    check("spike", spike)
    check("zero_run", _runs([v == 0.0 for v in work], flags))
    same = [False] * n
    for i in range(n - 1):
        if work[i + 1] == work[i] and work[i + 1] != 0.0:
            same[i] = same[i + 1] = True
    check("flat_line", _runs(same, flags))
    check("status_bits", [bool(f & STATUS_MASK) for f in flags])
    usable = [
        v if not f & NOT_A_REFERENCE else math.nan
        for v, f in zip(history + work, history_flags + flags, strict=True)
    ]
    references = _like_day_references(
        usable,
        calendar.day.tolist(),
        calendar.day_type.tolist(),
        calendar.minute.tolist(),
        interval,
        n,
    )
    like = []
    for v, reference in zip(work, references, strict=True):
        judged = reference > LIKE["min_reference"]
        like.append(judged and (v > reference * LIKE["high"] or v < reference * LIKE["low"]))
    check("like_day", like)
    # linear interpolation over the runs of holes, at most MAX_GAP long, inside the block
    todo = [
        (s or m) and o and not e
        for s, m, o, e in zip(suspect, missing, open_, estimated, strict=True)
    ]
    given = [
        math.nan if s and not e else v for v, s, e in zip(work, suspect, estimated, strict=True)
    ]
    holes = [t or math.isnan(g) for t, g in zip(todo, given, strict=True)]
    filled = []
    i = 0
    while i < n:
        if not holes[i]:
            i += 1
            continue
        j = i
        while j < n and holes[j]:
            j += 1
        left, right = i - 1, j
        if left >= 0 and right < n and j - i <= MAX_GAP:
            low, high = given[left], given[right]
            for p in range(i, j):
                if todo[p]:
                    estimate = low + (high - low) * ((p - left) / (right - left))
                    if not math.isnan(estimate):
                        work[p] = estimate
                        estimated[p] = True
                        method[p] = int(EstimationMethod.LINEAR_INTERPOLATION)
                        filled.append(p)
        i = j
    if filled:
        found[("linear", "estimated")] = filled
    nulled = [i for i in range(n) if (suspect[i] or missing[i]) and open_[i] and not estimated[i]]
    for i in nulled:
        work[i] = math.nan
        estimated[i] = True
        method[i] = int(EstimationMethod.NULL)
    if nulled:
        found[("null", "estimated")] = nulled
    out_flags = []
    for i in range(n):
        flag = flags[i]
        if (not math.isnan(work[i]) or estimated[i]) and open_[i]:
            flag |= int(Flag.VALIDATED)
        if suspect[i] and not estimated[i]:
            flag |= int(Flag.SUSPECT)
        if estimated[i]:
            flag = (flag & ~(0xFF << METHOD_SHIFT)) | (method[i] << METHOD_SHIFT)
            flag |= int(Flag.ESTIMATED) | (int(Flag.SUBSTITUTED) if measured[i] else 0)
        out_flags.append(flag)
    return work, out_flags, suspect, estimated, found


# -- the data --------------------------------------------------------------------------------


def _data(seed: int, rows: int, slots: int, per_day: int, rates: tuple[float, ...]) -> Any:
    gap, spike, run, status, protect, excluded = rates
    rng = np.random.default_rng(seed)
    shape = 0.2 + 0.3 * np.sin(np.pi * (np.arange(slots) % per_day) / per_day) ** 2
    values = np.round(shape + rng.uniform(0, 0.3, (rows, slots)), 2)
    picks = rng.random((rows, slots))
    values[picks < gap] = np.nan
    values[(picks >= gap) & (picks < gap + spike)] = rng.choice([2.9, 4.0, -0.5])
    for r in range(rows):
        for _ in range(int(run * 10)):
            start = int(rng.integers(0, slots))
            length = int(rng.integers(2, 8))
            values[r, start : start + length] = rng.choice([0.0, 0.37, np.nan, -0.0])
    flags = np.zeros((rows, slots), dtype=np.uint32)
    bits = rng.random((rows, slots))
    flags[bits < status] |= np.uint32(rng.choice([1 << 7, 1 << 5, 1 << 3, 1 << 2]))
    flags[(bits >= status) & (bits < status + excluded)] |= np.uint32(
        rng.choice([int(Flag.SUSPECT), int(Flag.ESTIMATED)])
    )
    protected = rng.random((rows, slots)) < protect
    # a protected value keeps its flags, whatever an earlier run set
    flags[protected & (rng.random((rows, slots)) < 0.5)] |= np.uint32(Flag.VALIDATED)
    ingest = rng.random((rows, slots)) < status / 2
    return values, flags, protected, ingest


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(1, 7),
    chunk=st.integers(1, 4),
    start=st.sampled_from(STARTS),
    interval=st.sampled_from([15, 60]),
    days=st.integers(1, 8),
    history_days=st.integers(0, 9),
    rates=st.tuples(
        st.sampled_from([0.0, 0.02, 0.1]),
        st.sampled_from([0.0, 0.01, 0.05]),
        st.sampled_from([0.0, 0.2, 0.5]),
        st.sampled_from([0.0, 0.02, 0.1]),
        st.sampled_from([0.0, 0.02]),
        st.sampled_from([0.0, 0.03]),
    ),
)
def test_the_chunked_run_agrees_with_a_plain_one(
    steps: list[Any],
    seed: int,
    rows: int,
    chunk: int,
    start: datetime,
    interval: int,
    days: int,
    history_days: int,
    rates: tuple[float, ...],
) -> None:
    _run_and_compare(steps, seed, rows, chunk, start, interval, days, history_days, rates)


def test_a_script_step_between_the_checks_changes_nothing_it_does_not_find(
    steps: list[Any],
) -> None:
    """With a script step the run works in passes over the whole batch (the script's worker
    takes every channel at once): a script that finds nothing leaves the plain result."""
    script = compile_script('result.flag(data.values > 1e300, "never")', "never")
    spec = StepSpec("script_check", "never")
    with_script = list(steps)
    with_script.insert(6, prepare_steps([spec], _Host(), {}, {"never": script})[0])
    for seed, start in ((7, STARTS[4]), (8, STARTS[1])):
        _run_and_compare(
            with_script, seed, 5, 2, start, 15, 3, 8, (0.02, 0.01, 0.2, 0.02, 0.02, 0.03)
        )


class _Host:
    """No plugins: the script step needs none."""

    def validators(self) -> dict[str, Any]:
        return {}

    def estimators(self) -> dict[str, Any]:
        return {}


def _run_and_compare(
    steps: list[Any],
    seed: int,
    rows: int,
    chunk: int,
    start: datetime,
    interval: int,
    days: int,
    history_days: int,
    rates: tuple[float, ...],
) -> None:
    per_day = 1440 // interval
    history = history_days * per_day
    slots = days * per_day
    values, flags, protected, ingest = _data(seed, rows, history + slots, per_day, rates)
    begin = start - timedelta(days=history_days)
    day_types = DayTypes("DE", "BY", {date(2026, 3, 30): "bridge"}, "Europe/Berlin")
    calendar = slot_calendar(
        int(begin.timestamp() * 1_000_000), history + slots, interval, day_types
    )
    batch = Batch(
        np.arange(1, rows + 1, dtype=np.int64),
        start,
        interval,
        values[:, history:].copy(),
        flags[:, history:].copy(),
        protected[:, history:].copy(),
        found_at_ingest=ingest[:, history:].copy(),
        calendar=calendar,
        history_values=values[:, :history],
        history_flags=flags[:, :history],
        tz=day_types.tz,
    )
    saved = apply_module.ROWS_PER_CALL
    apply_module.ROWS_PER_CALL = chunk  # several chunks even for a few channels
    try:
        outcome = apply_profile(steps, batch)
    finally:
        apply_module.ROWS_PER_CALL = saved
    assert not outcome.failed
    reported: dict[tuple[int, str, str], list[int]] = {}
    for result in outcome.results:
        key = (result.row, result.step, result.outcome)
        assert key not in reported
        reported[key] = np.flatnonzero(result.positions).tolist()
    for r in range(rows):
        work, out_flags, suspect, estimated, found = _plain_channel(
            batch.values[r].tolist(),
            batch.flags[r].tolist(),
            batch.protected[r].tolist(),
            batch.found_at_ingest[r].tolist(),
            values[r, :history].tolist(),
            flags[r, :history].tolist(),
            calendar,
            interval,
        )
        assert outcome.values[r].tobytes() == np.asarray(work).tobytes()
        assert outcome.flags[r].tolist() == out_flags
        assert outcome.suspect[r].tolist() == suspect
        assert outcome.estimated[r].tolist() == estimated
        assert {key[1:]: at for key, at in reported.items() if key[0] == r} == found


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(1, 20),
    start=st.sampled_from(STARTS),
    interval=st.sampled_from([15, 30, 60, 1440]),
    slots=st.integers(1, 1500),
    tail=st.integers(0, 1500),
)
def test_the_like_day_reference_is_the_plain_mean(
    seed: int, rows: int, start: datetime, interval: int, slots: int, tail: int
) -> None:
    """The kernel's reference, bit for bit, over every slot and over the last ``tail``."""
    rng = np.random.default_rng(seed)
    day_types = DayTypes("DE", "BY", {date(2026, 3, 30): "bridge"}, "Europe/Berlin")
    calendar = slot_calendar(int(start.timestamp() * 1_000_000), slots, interval, day_types)
    values = rng.choice([0.0, -0.0, 0.1, 0.35, 1.25, 2.0, np.nan], size=(rows, slots))
    tail = min(tail, slots)
    every = like_day_reference(
        values, calendar.day, calendar.day_type, calendar.minute, interval, LIKE["days"]
    )
    last = like_day_reference(
        values, calendar.day, calendar.day_type, calendar.minute, interval, LIKE["days"], tail
    )
    one = like_day_reference(
        values[0], calendar.day, calendar.day_type, calendar.minute, interval, LIKE["days"]
    )
    args = (calendar.day.tolist(), calendar.day_type.tolist(), calendar.minute.tolist())
    for r in range(rows):
        plain = np.asarray(_like_day_references(values[r].tolist(), *args, interval, slots))
        assert every[r].tobytes() == plain.tobytes()
        assert last[r].tobytes() == plain[slots - tail :].tobytes()
    assert one.tobytes() == every[0].tobytes()
