"""Read benchmark: one channel-month (latency) and 1,000 channel-months (throughput).

Layers: raw, normalized (current) and normalized as of a time before the last overwrite (every
block has two versions: the ingest and a validation pass that set flags). Reads go through the
public API (``MeterDataStore.read_intervals``) and return numpy arrays.

    .venv/bin/python bench/read.py                        # 1,000 channels x 30 days, both backends
    .venv/bin/python bench/read.py --channels 200 --backends sqlite
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
from _common import (
    START,
    create_channels,
    database,
    emit,
    load_profile,
    median_time,
    note,
    pg_unreachable,
    rss_mb,
    workdir,
)

from meterhub.timeseries import Flag, MeterDataStore

BENCH = "read"


def run(backend: str, channels: int, days: int, repeat: int, singles: int, folder: Path) -> None:
    with database(backend, folder) as (_url, engine):
        note(f"{backend}: creating {channels} channels and {days} days of data")
        ids = create_channels(engine, channels)
        store = MeterDataStore(engine)
        values = load_profile(channels, days)
        store.write_intervals(ids, START, values)
        time.sleep(0.01)
        before_validation = store._clock()
        time.sleep(0.01)
        flags = np.full(values.shape, int(Flag.VALIDATED), dtype=np.uint32)
        store.write_normalized(ids, START, flags=flags, user="bench", reason="validation")
        end = START + timedelta(days=days)
        modes = {
            "raw": {"layer": "raw"},
            "normalized": {},
            "normalized as-of": {"as_of": before_validation},
        }
        check = store.read_intervals(ids, START, end, as_of=before_validation)
        assert np.array_equal(check.values, values) and not check.flags.any()
        rng = np.random.default_rng(1)
        for mode, options in modes.items():
            for _ in range(20):  # warm-up
                store.read_intervals(ids[:1], START, end, **options)
            latencies = []
            for channel in rng.choice(ids, singles):
                started = time.perf_counter()
                store.read_intervals([int(channel)], START, end, **options)
                latencies.append((time.perf_counter() - started) * 1000)
            emit(
                BENCH,
                case=f"one channel-month, {mode}",
                backend=backend,
                n=singles,
                values_per_read=days * 96,
                p50_ms=round(float(np.percentile(latencies, 50)), 3),
                p95_ms=round(float(np.percentile(latencies, 95)), 3),
            )
        for mode, options in modes.items():
            store.read_intervals(ids, START, end, **options)  # warm-up
            times = median_time(
                lambda _i, options=options: store.read_intervals(ids, START, end, **options),
                repeat,
            )
            seconds = statistics.median(times)
            emit(
                BENCH,
                case=f"{channels} channel-months, {mode}",
                backend=backend,
                n=int(values.size),
                seconds=round(seconds, 4),
                values_per_s=round(values.size / seconds),
                runs=[round(x, 4) for x in times],
                rss_mb=rss_mb(),
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--singles", type=int, default=300, help="single-channel reads per case")
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    folder = workdir()
    for backend in args.backends.split(","):
        if backend == "postgresql":
            why = pg_unreachable()
            if why:
                emit(BENCH, backend=backend, skipped=why)
                continue
        run(backend, args.channels, args.days, args.repeat, args.singles, folder)


if __name__ == "__main__":
    main()
