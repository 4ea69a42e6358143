"""Shared helpers of the meter data benchmarks: databases, channels, sample data, JSON lines."""

from __future__ import annotations

import json
import os
import platform
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, text

from meterhub.db import make_engine, make_sessionmaker, transaction, upgrade_database
from meterhub.licensing import License

PG_ADMIN_URL = os.environ.get(
    "METERHUB_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
START = datetime(2026, 1, 1, tzinfo=UTC)
MACHINE = f"{os.cpu_count()} cpu, Python {platform.python_version()}, {platform.machine()}"


def emit(bench: str, **fields: Any) -> None:
    """Print one JSON line (stdout is for results only)."""
    record = {"bench": bench, **fields, "machine": MACHINE}
    print(json.dumps(record), flush=True)


def note(message: str) -> None:
    """Progress on stderr."""
    print(message, file=sys.stderr, flush=True)


def rss_mb() -> float:
    """Peak resident memory of this process in MB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def median_time(action: Callable[[int], Any], repeat: int) -> list[float]:
    """Run ``action(i)`` ``repeat`` times; the wall times."""
    out = []
    for i in range(repeat):
        started = time.perf_counter()
        action(i)
        out.append(time.perf_counter() - started)
    return out


@contextmanager
def database(backend: str, workdir: Path) -> Iterator[tuple[str, Engine]]:
    """A new, migrated database of ``backend``; dropped afterwards."""
    if backend == "sqlite":
        url = f"sqlite:///{workdir / f'bench-{uuid.uuid4().hex[:8]}.sqlite3'}"
        engine = make_engine(url)
        upgrade_database(engine)
        try:
            yield url, engine
        finally:
            engine.dispose()
        return
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"meterhub_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    engine = make_engine(url)
    try:
        upgrade_database(engine)
        yield url, engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def pg_unreachable() -> str | None:
    """Why PostgreSQL cannot be used, or ``None`` when it answers."""
    try:
        admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
        admin.dispose()
    except Exception as error:  # noqa: BLE001 - any failure means skip
        return f"PostgreSQL at {PG_ADMIN_URL} unreachable: {type(error).__name__}"
    return None


def bench_license() -> License:
    """A license without limits, signed for this run: benchmarks create more virtual meters
    than the development license's 50.

    Made the way any deployment trusts a license: a fresh key pair, the license signed with its
    private key and verified with its public key (what the ``license_public_key`` setting names).
    """
    from meterhub.licensing import generate_keypair, load_license, sign_license

    with tempfile.TemporaryDirectory(prefix="meterhub-bench-license-") as directory:
        private, public = Path(directory, "bench.pem"), Path(directory, "bench.pub.pem")
        generate_keypair(private, public)
        payload = {
            "customer": "MeterHub benchmarks",
            "license_id": "BENCH",
            "issued": "2026-01-01",
            "expires": None,
            "limits": {},
            "features": ["*"],
        }
        license_file = Path(directory, "license.json")
        license_file.write_text(sign_license(payload, private), encoding="utf-8")
        return load_license(license_file, public)


def create_channels(engine: Engine, count: int, unit: str = "Wh") -> np.ndarray:
    """``count`` 15-minute channels made through the public inventory operations."""
    from meterhub.inventory.elements import create_element
    from meterhub.inventory.metering import (
        add_channel,
        create_metering_point,
        create_virtual_meter,
    )
    from meterhub.inventory.templates import create_template

    factory = make_sessionmaker(engine, license=bench_license())
    ids = []
    with transaction(factory, user="bench") as session:
        template = create_template(session, "bench consumer")
        element = create_element(session, template=template, name="bench")
        point = create_metering_point(session, element=element, name="bench point")
        for i in range(count):
            meter = create_virtual_meter(session, metering_point=point, name=f"vm{i}")
            channel = add_channel(
                session,
                virtual_meter=meter,
                obis="1-0:1.29.0*255",
                interval_minutes=15,
                unit=unit,
            )
            ids.append(channel)
        session.flush()
        return np.array([c.id for c in ids], dtype=np.int64)


def load_profile(channels: int, days: int, seed: int = 0) -> np.ndarray:
    """Quarter-hour energy in Wh (integers, as meters deliver): a daily shape times noise."""
    rng = np.random.default_rng(seed)
    hours = (np.arange(96) / 4.0)[None, :]
    shape = 0.4 + 0.6 * np.exp(-((hours - 19) ** 2) / 8) + 0.3 * np.exp(-((hours - 8) ** 2) / 4)
    scale = rng.uniform(50, 600, (channels, 1))
    day = np.tile(shape, (1, days))
    noise = rng.uniform(0.7, 1.3, (channels, 96 * days))
    return np.rint(scale * day * noise)


def workdir() -> Path:
    """A directory on disk for SQLite files (not tmpfs: $METERHUB_BENCH_DIR or the temp dir)."""
    base = os.environ.get("METERHUB_BENCH_DIR")
    path = Path(tempfile.mkdtemp(prefix="meterhub-bench-", dir=base))
    return path


def sqlite_bytes(engine: Engine, tables: tuple[str, ...]) -> int:
    """Bytes the ``tables`` (with their indexes) occupy in a SQLite file, after a checkpoint."""
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        names = ",".join(f"'{t}'" for t in tables)
        indexes = connection.exec_driver_sql(
            f"SELECT name FROM sqlite_master WHERE tbl_name IN ({names})"
        ).scalars()
        objects = ",".join(f"'{n}'" for n in indexes)
        return int(
            connection.exec_driver_sql(
                f"SELECT SUM(pgsize) FROM dbstat WHERE name IN ({objects})"
            ).scalar_one()
        )


def pg_bytes(engine: Engine, tables: tuple[str, ...]) -> int:
    """Bytes the ``tables`` occupy in PostgreSQL (heap, TOAST and indexes), after VACUUM."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in tables:
            connection.exec_driver_sql(f"VACUUM ANALYZE {table}")
        return sum(
            int(connection.exec_driver_sql(f"SELECT pg_total_relation_size('{t}')").scalar_one())
            for t in tables
        )
