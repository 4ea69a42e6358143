"""Ingest benchmark: quarter-hour data through the public path vs. a row-per-value reference.

Cases (``--cases``, all by default):

``bulk``
    Ours: ``MeterDataStore.write_intervals`` — validation, normalization, raw and normalized block
    versions, one transaction per call (all channels × all days of a repetition in one call).
    Reference, same run, same values: one row per value (channel, time, value, status) with
    primary key (channel, time) inserted with the driver's plain bulk path (``sqlite3``
    ``executemany`` into a ``WITHOUT ROWID`` table; psycopg binary ``COPY``), raw values only,
    building the rows from the numpy arrays included (what a row-per-value system has to do).
``per-call``
    One meter-day per call, as an acquisition engine stores what it read: ``write_intervals`` of
    4 channels × 96 quarter-hours, ``--calls`` calls (10,000), each its own transaction, day by
    day over the meters. Printed with its target (``target_values_per_s``).
``conflict``
    A full re-read that differs from the stored raw values in every slot (every slot becomes a
    conflict record and a ``CONFLICT`` flag in a new normalized version), against a fresh write
    of the same size in the same run (``ratio_vs_reference`` = re-read rate ÷ fresh rate).
    Run at two sizes (``--conflict-days`` and a quarter of it): ``scaling`` is the time per
    value at the large size ÷ at the small one (1 for a linear path, 4 for a quadratic one).

    .venv/bin/python bench/ingest.py                      # 500 channels x 30 days, both backends
    .venv/bin/python bench/ingest.py --channels 1000      # the full size of the issue
    .venv/bin/python bench/ingest.py --channels 200 --days 7 --backends sqlite
    .venv/bin/python bench/ingest.py --data float64       # values with no structure
    .venv/bin/python bench/ingest.py --cases per-call --calls 10000
"""

from __future__ import annotations

import argparse
import gc
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
    pg_bytes,
    pg_unreachable,
    rss_mb,
    sqlite_bytes,
    workdir,
)

from meterhub.timeseries import MeterDataStore

BENCH = "ingest"
REFERENCE = "row per value, PK (channel, time), driver bulk insert"
QUARTER_US = 900_000_000
CASES = ("bulk", "per-call", "conflict")

#: Targets of the per-call case (issue 8): values per second through ``write_intervals``.
PER_CALL_TARGET = {"sqlite": 1_000_000, "postgresql": 300_000}
#: Channels of one meter in the per-call case.
METER_CHANNELS = 4


def _reference_table(engine, backend: str) -> None:
    suffix = " WITHOUT ROWID" if backend == "sqlite" else ""
    kinds = ("INTEGER", "REAL") if backend == "sqlite" else ("BIGINT", "DOUBLE PRECISION")
    with engine.begin() as connection:
        connection.exec_driver_sql(
            f"CREATE TABLE bench_row_value (channel_id INTEGER NOT NULL, ts {kinds[0]} NOT NULL, "
            f"value {kinds[1]} NOT NULL, status INTEGER NOT NULL, "
            f"PRIMARY KEY (channel_id, ts)){suffix}"
        )


def _reference_insert(engine, backend, ids, start_tick, values, status) -> float:
    """Insert one row per value; returns the seconds spent in the driver call alone."""
    channels, slots = values.shape
    ch = np.repeat(ids, slots)
    ts = np.tile(start_tick + np.arange(slots, dtype=np.int64) * QUARTER_US, channels)
    rows = zip(
        ch.tolist(), ts.tolist(), values.ravel().tolist(), status.ravel().tolist(), strict=True
    )
    raw = engine.raw_connection()
    try:
        dbapi = raw.driver_connection
        cursor = dbapi.cursor()
        if backend == "sqlite":
            rows = list(rows)
            started = time.perf_counter()
            cursor.executemany("INSERT INTO bench_row_value VALUES (?, ?, ?, ?)", rows)
        else:
            started = time.perf_counter()
            with cursor.copy(
                "COPY bench_row_value (channel_id, ts, value, status) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["int4", "int8", "float8", "int4"])
                for row in rows:
                    copy.write_row(row)
        raw.commit()
        return time.perf_counter() - started
    finally:
        raw.close()


def sample(kind: str, channels: int, days: int) -> np.ndarray:
    """Values of the run: meter-like integers (Wh), float32 readings, or arbitrary float64."""
    values = load_profile(channels, days)
    if kind == "float32":  # as a Modbus meter delivers them (e.g. 123.4567 kWh as float32)
        return (values * 1.0001).astype(np.float32).astype(np.float64)
    if kind == "float64":  # the worst case for the codec: no structure at all
        return values * np.random.default_rng(2).uniform(0.9, 1.1, values.shape)
    return values


def bulk(engine, backend: str, ids: np.ndarray, days: int, repeat: int, kind: str) -> None:
    """The bulk case: every channel and day of a repetition in one call, and the reference."""
    channels = ids.size
    store = MeterDataStore(engine)
    values = sample(kind, channels, days)
    status = np.zeros(values.shape, dtype=np.uint32)
    status[:, ::997] = 0x08  # a few status bits set, as in real profiles
    n = int(values.size)
    warm = START - timedelta(days=400)
    store.write_intervals(ids, warm, values[:, :96], status[:, :96])
    _reference_table(engine, backend)
    warm_tick = int((warm - START).total_seconds()) * 1_000_000
    _reference_insert(engine, backend, ids, warm_tick, values[:, :96], status[:, :96])

    def ours(i: int) -> None:
        store.write_intervals(ids, START + timedelta(days=i * days), values, status)

    def reference(i: int) -> None:
        insert_only.append(
            _reference_insert(engine, backend, ids, i * days * 96 * QUARTER_US, values, status)
        )

    insert_only: list[float] = []
    gc.collect()
    note(f"{backend}: ingest {n} values x {repeat}")
    ours_times = median_time(ours, repeat)
    note(f"{backend}: reference {n} values x {repeat}")
    reference_times = median_time(reference, repeat)
    ours_s = statistics.median(ours_times)
    ref_s = statistics.median(reference_times)
    emit(
        BENCH,
        case=f"ingest raw+normalized, 15-min, public API, {kind} values",
        backend=backend,
        n=n,
        channels=channels,
        days=days,
        seconds=round(ours_s, 4),
        values_per_s=round(n / ours_s),
        ratio_vs_reference=round(ref_s / ours_s, 2),
        reference=REFERENCE,
        runs=[round(x, 4) for x in ours_times],
        rss_mb=rss_mb(),
    )
    emit(
        BENCH,
        case="reference: row per value, raw only",
        backend=backend,
        n=n,
        seconds=round(ref_s, 4),
        values_per_s=round(n / ref_s),
        insert_only_values_per_s=round(n / statistics.median(insert_only)),
        runs=[round(x, 4) for x in reference_times],
    )
    stored = n * repeat + channels * 96
    measure = sqlite_bytes if backend == "sqlite" else pg_bytes
    raw_b = measure(engine, ("ts_raw_block",))
    norm_b = measure(engine, ("ts_norm_block",))
    ref_b = measure(engine, ("bench_row_value",))
    emit(
        BENCH,
        case=f"storage per quarter-hour value (raw + normalized, value + flags), {kind} values",
        backend=backend,
        n=stored,
        bytes_per_value=round((raw_b + norm_b) / stored, 2),
        raw_bytes_per_value=round(raw_b / stored, 2),
        normalized_bytes_per_value=round(norm_b / stored, 2),
        reference_bytes_per_value=round(ref_b / stored, 2),
        reference=REFERENCE,
    )


def per_call(engine, backend: str, ids: np.ndarray, calls: int, repeat: int) -> None:
    """One meter-day (4 channels × 96 quarter-hours) per ``write_intervals`` call."""
    store = MeterDataStore(engine)
    meters = ids[: ids.size - ids.size % METER_CHANNELS].reshape(-1, METER_CHANNELS)
    days = -(-calls // len(meters))
    values = load_profile(len(meters) * METER_CHANNELS, days, seed=3)
    values = values.reshape(len(meters), METER_CHANNELS, days, 96)
    status = np.zeros((METER_CHANNELS, 96), dtype=np.uint32)
    base = START + timedelta(days=1000)
    meter_list = [m.tolist() for m in meters]

    def one_pass(first_day: int, count: int) -> None:
        done = 0
        for day in range(days):
            start = base + timedelta(days=first_day + day)
            for m, channel_ids in enumerate(meter_list):
                if done == count:
                    return
                store.write_intervals(channel_ids, start, values[m, :, day], status)
                done += 1

    one_pass(-days - 1, min(200, calls))  # warm-up
    gc.collect()
    note(f"{backend}: {calls} calls of one meter-day x {repeat}")
    times = median_time(lambda i: one_pass(i * days, calls), repeat)
    seconds = statistics.median(times)
    n = calls * METER_CHANNELS * 96
    target = PER_CALL_TARGET.get(backend)
    emit(
        BENCH,
        case="one meter-day per call (4 channels x 96 values per write_intervals)",
        backend=backend,
        n=n,
        calls=calls,
        seconds=round(seconds, 4),
        values_per_s=round(n / seconds),
        target_values_per_s=target,
        target_met=None if target is None else n / seconds >= target,
        ms_per_call=round(seconds / calls * 1000, 4),
        runs=[round(x, 4) for x in times],
        rss_mb=rss_mb(),
    )


def conflict(engine, backend: str, ids: np.ndarray, days: int, repeat: int) -> None:
    """A re-read that differs in every slot, at two sizes, against a fresh write of each."""
    store = MeterDataStore(engine)
    base = START + timedelta(days=3000)
    figures = {}
    offset = 0
    for size in (max(1, days // 4), days):
        values = load_profile(ids.size, size, seed=5)
        changed = values + 1.0
        n = int(values.size)
        fresh_times, reread_times = [], []
        note(f"{backend}: conflict re-read of {n} values x {repeat}")
        for _ in range(repeat + 1):  # the first round is the warm-up
            start = base + timedelta(days=offset)
            offset += size
            gc.collect()
            started = time.perf_counter()
            store.write_intervals(ids, start, values)
            fresh_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            store.write_intervals(ids, start, changed)
            reread_times.append(time.perf_counter() - started)
        fresh_s = statistics.median(fresh_times[1:])
        reread_s = statistics.median(reread_times[1:])
        figures[size] = (n, reread_s)
        emit(
            BENCH,
            case="full re-read, every slot a conflict",
            backend=backend,
            n=n,
            channels=int(ids.size),
            days=size,
            seconds=round(reread_s, 4),
            values_per_s=round(n / reread_s),
            ratio_vs_reference=round(fresh_s / reread_s, 3),
            reference="fresh write of the same values, same run",
            reference_values_per_s=round(n / fresh_s),
            runs=[round(x, 4) for x in reread_times[1:]],
            rss_mb=rss_mb(),
        )
    (small_n, small_s), (large_n, large_s) = figures.values()
    emit(
        BENCH,
        case="full re-read, every slot a conflict: scaling",
        backend=backend,
        n=large_n,
        scaling=round((large_s / large_n) / (small_s / small_n), 2),
        note="time per value at the large size / at the small size: 1 linear, 4 quadratic",
    )


def run(backend: str, args: argparse.Namespace, folder: Path) -> None:
    cases = args.cases.split(",")
    unknown = set(cases) - set(CASES)
    if unknown:
        raise SystemExit(f"unknown cases: {', '.join(sorted(unknown))}; known: {', '.join(CASES)}")
    with database(backend, folder) as (_url, engine):
        note(f"{backend}: creating {args.channels} channels through the inventory")
        ids = create_channels(engine, args.channels)
        if "bulk" in cases:
            bulk(engine, backend, ids, args.days, args.repeat, args.data)
        if "per-call" in cases:
            per_call(engine, backend, ids, args.calls, args.repeat)
        if "conflict" in cases:
            conflict(engine, backend, ids, args.conflict_days, args.repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=500, help="1000 for the full size")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--data", choices=["meter", "float32", "float64"], default="meter", help="value kind"
    )
    parser.add_argument("--cases", default=",".join(CASES), help=f"of {', '.join(CASES)}")
    parser.add_argument("--calls", type=int, default=10_000, help="calls of the per-call case")
    parser.add_argument(
        "--conflict-days", type=int, default=8, help="days of the conflict case (and a quarter)"
    )
    args = parser.parse_args()
    folder = workdir()
    for backend in args.backends.split(","):
        if backend == "postgresql":
            why = pg_unreachable()
            if why:
                emit(BENCH, backend=backend, skipped=why)
                continue
        run(backend, args, folder)


if __name__ == "__main__":
    main()
