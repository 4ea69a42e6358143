"""Ingest benchmark: quarter-hour data through the public path vs. a row-per-value reference.

Ours: ``MeterDataStore.write_intervals`` — validation, normalization, raw and normalized block
versions, one transaction per call (all channels × all days of a repetition in one call).
Reference, same run, same values: one row per value (channel, time, value, status) with primary
key (channel, time) inserted with the driver's plain bulk path (``sqlite3`` ``executemany`` into a
``WITHOUT ROWID`` table; psycopg binary ``COPY``), raw values only, building the rows from the
numpy arrays included (what a row-per-value system has to do).

    .venv/bin/python bench/ingest.py                      # 500 channels x 30 days, both backends
    .venv/bin/python bench/ingest.py --channels 1000      # the full size of the issue
    .venv/bin/python bench/ingest.py --channels 200 --days 7 --backends sqlite
    .venv/bin/python bench/ingest.py --data float64       # values with no structure
"""

from __future__ import annotations

import argparse
import gc
import statistics
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
    import time

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


def run(backend: str, channels: int, days: int, repeat: int, folder: Path, kind: str) -> None:
    with database(backend, folder) as (_url, engine):
        note(f"{backend}: creating {channels} channels through the inventory")
        ids = create_channels(engine, channels)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=500, help="1000 for the full size")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--data", choices=["meter", "float32", "float64"], default="meter", help="value kind"
    )
    args = parser.parse_args()
    folder = workdir()
    for backend in args.backends.split(","):
        if backend == "postgresql":
            why = pg_unreachable()
            if why:
                emit(BENCH, backend=backend, skipped=why)
                continue
        run(backend, args.channels, args.days, args.repeat, folder, args.data)


if __name__ == "__main__":
    main()
