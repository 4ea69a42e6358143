"""VEE benchmark: the built-in checks profile, its sandboxed equivalent, a calculation of three
inputs, and the end-to-end run that reads from and writes back to the store.

Cases (``--cases``, all by default):

``profile``
    The built-in checks (limits, gaps, spikes, zero runs, status bits, high/low against like
    days) plus linear interpolation, run by the engine's array core
    (:func:`meterhub.vee.apply.apply_profile`, the real plugins from the plugin host) over
    ``--channels`` × ``--days`` quarter-hours in memory (default 1000 × 105 = 10,080,000
    values), with 1% gaps, spikes and status bits. Also one line per step alone
    (``case: step:<name>``). Target (issue 10): ≥ 60 M values/s, goal 150 M.
``script``
    The same checks written as a sandboxed customer script (RestrictedPython, in the
    sandbox's worker process with its limits), one job per channel: values/s and
    ``ratio_vs_reference`` = script rate ÷ built-in profile rate.
``calculation``
    ``a + b - c`` over three inputs of ``--channels`` × ``--days`` / 3 quarter-hours each
    (the formula language's evaluator), values/s of input values.
``end-to-end``
    ``VeeEngine.run`` of the same profile on ``--e2e-channels`` × ``--e2e-days`` stored
    quarter-hours: reading normalized (and history) from the store, applying, writing the new
    versions and the results back, per backend (``sqlite``, ``postgresql``).

    .venv/bin/python bench/vee.py
    .venv/bin/python bench/vee.py --cases profile --channels 1000 --days 105
    .venv/bin/python bench/vee.py --cases end-to-end --backends sqlite postgresql
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
from _common import (
    START,
    bench_license,
    create_channels,
    database,
    emit,
    note,
    pg_unreachable,
    workdir,
)

from meterhub.calculations import compile_formula, evaluate
from meterhub.config import load_settings
from meterhub.extensions.veecontext import VeeContext
from meterhub.pluginhost import build_plugin_host
from meterhub.sandbox import Limits, compile_script, run_jobs
from meterhub.vee.apply import Batch, apply_profile
from meterhub.vee.daytypes import DayTypes, slot_calendar
from meterhub.vee.profiles import StepSpec, prepare_steps

BENCH = "vee"
CASES = ("profile", "script", "calculation", "end-to-end")
TARGET = 60_000_000

#: The built-in checks profile of the issue, with linear interpolation.
STEPS = (
    StepSpec("check", "limits", {"min": 0, "max": 5.0}),
    StepSpec("check", "gaps", {}),
    StepSpec("check", "spike", {"factor": 3, "min_delta": 0.5}),
    StepSpec("check", "zero_run", {"intervals": 8}),
    StepSpec("check", "status_bits", {}),
    StepSpec("check", "like_day", {"days": 3, "high": 4}),
    StepSpec("estimate", "linear", {"max_gap": 8}),
)

#: The same checks as a customer script (the sandbox's vetted API).
SCRIPT = """
values = data.values
result.flag((values < 0) | (values > 5.0), "limits")
neighbours = where(values.shift(1) > values.shift(-1), values.shift(1), values.shift(-1))
result.flag((values - neighbours > 0.5) & (values > neighbours * 3), "spike")
zero = (values == 0).rolling_mean(8)
result.flag(zero == 1, "zero run")
status = data.flags % 256
result.flag((status >= 128) | ((status % 64) >= 32) | ((status % 8) >= 1), "status")
reference = data.like_day_mean(3)
result.flag(values > reference * 4, "like days")
previous = values.shift(1)
result.estimate(data.missing & previous.present(), previous)
"""


def _data(channels: int, days: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    slots = 96 * days
    slot = np.arange(slots) % 96
    shape = 0.2 + 0.3 * np.sin(np.pi * slot / 96) ** 2
    values = np.round(shape + rng.uniform(0, 0.05, (channels, slots)), 3)
    flags = np.zeros((channels, slots), dtype=np.uint32)
    picks = rng.random((channels, slots))
    values[picks < 0.005] = np.nan
    values[(picks >= 0.005) & (picks < 0.0075)] = 4.0
    flags[(picks >= 0.0075) & (picks < 0.01)] = 1 << 7
    return values, flags


def _host(tmp: Path):  # type: ignore[no-untyped-def]
    return build_plugin_host(bench_license(), load_settings(data_dir=tmp))


def bench_profile(args: argparse.Namespace, host) -> float:  # type: ignore[no-untyped-def]
    values, flags = _data(args.channels, args.days)
    n = values.size
    rows, slots = values.shape
    start_tick = int(START.timestamp() * 1_000_000)
    calendar = slot_calendar(start_tick, slots, 15, DayTypes("DE", tz="Europe/Berlin"))
    context = VeeContext(calendar=calendar)
    ids = np.arange(1, rows + 1, dtype=np.int64)
    protected = np.zeros(values.shape, dtype=bool)

    cpu: list[float] = []

    def run(steps) -> float:  # type: ignore[no-untyped-def]
        batch = Batch(ids, START, 15, values, flags, protected, calendar=calendar)
        started, started_cpu = time.perf_counter(), time.process_time()
        outcome = apply_profile(steps, batch, lambda r, s: context)
        elapsed = time.perf_counter() - started
        cpu.append(time.process_time() - started_cpu)
        assert not outcome.failed
        return elapsed

    steps = prepare_steps(STEPS, host, {}, {})
    run(steps)  # warm-up
    cpu.clear()
    times = [run(steps) for _ in range(args.repeat)]
    seconds = statistics.median(times)
    cpu_seconds = statistics.median(cpu)
    emit(
        BENCH,
        case="profile",
        n=n,
        seconds=round(seconds, 4),
        values_per_s=round(n / seconds),
        cpu_seconds=round(cpu_seconds, 4),
        values_per_cpu_s=round(n / cpu_seconds),
        target_values_per_s=TARGET,
        steps=[s.name for s in STEPS],
        load_average=os.getloadavg()[0],
    )
    for step in steps:
        alone = statistics.median(run([step]) for _ in range(args.repeat))
        emit(
            BENCH,
            case=f"step:{step.name}",
            n=n,
            seconds=round(alone, 4),
            values_per_s=round(n / alone),
        )
    return n / seconds


def bench_script(args: argparse.Namespace, reference_rate: float | None) -> None:
    channels = max(1, args.channels // args.script_fraction)
    values, flags = _data(channels, args.days)
    start_tick = int(START.timestamp() * 1_000_000)
    calendar = slot_calendar(start_tick, values.shape[1], 15, DayTypes("DE", tz="Europe/Berlin"))
    jobs = [
        {
            "values": values[r],
            "flags": flags[r].astype(float),
            "missing": np.isnan(values[r]).astype(float),
            "day": calendar.day,
            "day_type": calendar.day_type,
            "minute": calendar.minute,
            "interval": 15,
        }
        for r in range(channels)
    ]
    script = compile_script(SCRIPT, "bench")
    limits = Limits(cpu_seconds=60, wall_seconds=120, memory_mb=4096)
    run_jobs(script, jobs[:2], limits)
    times = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        outcomes = run_jobs(script, jobs, limits)
        times.append(time.perf_counter() - started)
        failed = [o.error for o in outcomes if not o.ok]
        assert not failed, failed[0]
    seconds = statistics.median(times)
    n = values.size
    rate = n / seconds
    record = {"case": "script", "n": n, "seconds": round(seconds, 4), "values_per_s": round(rate)}
    if reference_rate:
        record |= {
            "ratio_vs_reference": round(rate / reference_rate, 3),
            "reference": "built-in profile",
        }
    emit(BENCH, **record)


def bench_calculation(args: argparse.Namespace, host) -> None:  # type: ignore[no-untyped-def]
    per_input = args.channels * args.days * 96 // 3
    rng = np.random.default_rng(2)
    inputs = {
        name: (rng.random(per_input), np.full(per_input, 1 << 8, dtype=np.uint32)) for name in "abc"
    }
    formula = compile_formula("a + b - c", {"a", "b", "c"}, host)
    start_tick = int(START.timestamp() * 1_000_000)

    def run() -> float:
        started = time.perf_counter()
        evaluate(formula, inputs, start_tick=start_tick, interval_minutes=15)
        return time.perf_counter() - started

    run()
    seconds = statistics.median(run() for _ in range(args.repeat))
    n = per_input * 3
    emit(
        BENCH,
        case="calculation",
        formula="a + b - c",
        n=n,
        seconds=round(seconds, 4),
        values_per_s=round(n / seconds),
        output_values=per_input,
    )


def bench_end_to_end(args: argparse.Namespace, backend: str) -> None:
    from meterhub.db import make_sessionmaker, transaction
    from meterhub.inventory.vee import create_profile
    from meterhub.timeseries import MeterDataStore
    from meterhub.vee import VeeEngine

    if backend == "postgresql" and (why := pg_unreachable()):
        emit(BENCH, case="end-to-end", backend=backend, skipped=why)
        return
    with database(backend, workdir()) as (_, engine):
        sessions = make_sessionmaker(engine, license=bench_license())
        host = _host(workdir())
        store = MeterDataStore(engine)
        with transaction(sessions, user="bench") as session:
            create_profile(
                session,
                "bench",
                [dict(kind=s.kind, name=s.name, parameters=dict(s.parameters)) for s in STEPS],
                host,
            )
        vee = VeeEngine(store, sessions, host, batch_channels=args.e2e_batch)
        times = []
        every = create_channels(engine, args.e2e_channels * (args.repeat + 1))
        for repetition in range(args.repeat + 1):
            ids = every[repetition * args.e2e_channels : (repetition + 1) * args.e2e_channels]
            values, flags = _data(args.e2e_channels, args.e2e_days, seed=repetition)
            store.write_intervals(
                ids, START, np.nan_to_num(values), flags, present=~np.isnan(values)
            )
            started = time.perf_counter()
            report = vee.run(
                "bench", START, START + timedelta(days=args.e2e_days), channel_ids=ids.tolist()
            )
            elapsed = time.perf_counter() - started
            assert report.status == "succeeded", report.failures
            if repetition:
                times.append(elapsed)
            note(f"end-to-end {backend}: {elapsed:.2f} s ({report.values_estimated} estimated)")
        seconds = statistics.median(times)
        n = args.e2e_channels * args.e2e_days * 96
        emit(
            BENCH,
            case="end-to-end",
            backend=backend,
            n=n,
            seconds=round(seconds, 3),
            values_per_s=round(n / seconds),
            batch_channels=args.e2e_batch,
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    parser.add_argument("--channels", type=int, default=1000)
    parser.add_argument("--days", type=int, default=105)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--script-fraction", type=int, default=10, help="the script runs on channels / N"
    )
    parser.add_argument("--e2e-channels", type=int, default=200)
    parser.add_argument("--e2e-days", type=int, default=30)
    parser.add_argument("--e2e-batch", type=int, default=200)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    args = parser.parse_args()
    host = _host(workdir())
    rate = None
    if "profile" in args.cases:
        note("profile ...")
        rate = bench_profile(args, host)
    if "script" in args.cases:
        note("script ...")
        bench_script(args, rate)
    if "calculation" in args.cases:
        note("calculation ...")
        bench_calculation(args, host)
    if "end-to-end" in args.cases:
        for backend in args.backends:
            note(f"end-to-end {backend} ...")
            bench_end_to_end(args, backend)


if __name__ == "__main__":
    main()
