"""REST API benchmark: the production server under 20 concurrent closed-loop clients.

Cases (each client sends its next request when the last answer arrived, authenticated by a
bearer token):

* ``data``: one month of 15-minute values of one channel, columnar JSON (2,976 slots); the
  same run times the store's own read of the same request (``store_ms``), so the API's share is
  visible (``ratio_vs_reference`` = store time ÷ API p50);
* ``list``: a page of 50 meters (sorted by serial number, total counted);
* ``search``: the quick search (``/api/v1/search``) over ``--meters`` meters.

The server is started as deployed: ``gunicorn`` with ``--workers`` processes × ``--threads``
threads (default), or ``waitress`` (``meterhub serve``: one process, 8 threads) with
``--server waitress``; ``--server both`` measures both.

    .venv/bin/python bench/api.py                          # SQLite, 100,000 meters, 10 s a case
    .venv/bin/python bench/api.py --meters 20000 --seconds 5 --server both
    .venv/bin/python bench/api.py --backends sqlite,postgresql
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from _common import (
    START,
    create_channels,
    database,
    emit,
    load_profile,
    note,
    pg_unreachable,
    workdir,
)
from sqlalchemy import insert

from meterhub.db import make_sessionmaker, transaction
from meterhub.licensing import generate_keypair, sign_license
from meterhub.model.meters import Meter
from meterhub.timeseries import MeterDataStore

BENCH = "api"
CLIENTS = 20
MONTH_END = START + timedelta(days=31)


def _license(folder: Path) -> tuple[Path, Path]:
    """A license without limits, signed with a key pair made for this run (files the server
    process reads)."""
    private, public = folder / "bench.pem", folder / "bench.pub.pem"
    license_file = folder / "license.json"
    if license_file.exists():
        return license_file, public
    generate_keypair(private, public)
    payload = {
        "customer": "MeterHub benchmarks",
        "license_id": "BENCH",
        "issued": "2026-01-01",
        "expires": None,
        "limits": {},
        "features": ["*"],
    }
    license_file.write_text(sign_license(payload, private), encoding="utf-8")
    return license_file, public


def _populate(engine: Any, meters: int) -> tuple[int, str]:
    """One channel with a month of data, ``meters`` meters, an administrator's token."""
    from meterhub.inventory import roles, tokens, users

    (channel,) = create_channels(engine, 1)
    store = MeterDataStore(engine)
    store.write_intervals([int(channel)], START, load_profile(1, 31))
    rows = [
        {
            "manufacturer": "ACME",
            "serial_number": f"SN-{number:07d}",
            "model": "AM550",
            "driver": "dlms",
            "driver_settings": {},
            "enabled": True,
        }
        for number in range(meters)
    ]
    with engine.begin() as connection:  # bulk rows: the benchmark is about reading them
        for start in range(0, len(rows), 10_000):
            connection.execute(insert(Meter.__table__), rows[start : start + 10_000])
    factory = make_sessionmaker(engine)
    with transaction(factory, user="bench") as session:
        user = users.add_user(session, "bench", "Load-Test-Password-1")
        roles.grant_role(session, user, roles.ensure_administrator_role(session))
        _token, plain = tokens.create_token(session, user, "bench")
    return int(channel), plain


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(
    kind: str, env: dict[str, str], port: int, workers: int, threads: int
) -> subprocess.Popen[bytes]:
    python = sys.executable
    if kind == "gunicorn":
        command = [
            python, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
            "--threads", str(threads), "--worker-class", "gthread", "--log-level", "warning",
            "meterhub.webapi.wsgi:app",
        ]  # fmt: skip
    else:
        command = [str(Path(python).parent / "meterhub"), "serve", "--port", str(port)]
    log = Path(env["METERHUB_DATA_DIR"]) / f"{kind}.log"
    with log.open("wb") as sink:  # a file, not a pipe: a full pipe would stall the server
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=sink)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{kind} ended: {log.read_text()[-800:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{kind} did not listen on port {port}")


async def _client(
    port: int, request: bytes, stop: float, latencies: list[float], errors: list[int]
) -> None:
    """One closed-loop client on a keep-alive connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop:
            sent = time.perf_counter()
            writer.write(request)
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - sent)
            if not status_line.startswith(b"HTTP/1.1 200"):
                errors.append(int(status_line.split()[1]))
    finally:
        writer.close()


async def _load(port: int, request: bytes, seconds: float) -> tuple[list[float], list[int], float]:
    latencies: list[float] = []
    errors: list[int] = []
    started = time.perf_counter()
    stop = started + seconds
    await asyncio.gather(*(_client(port, request, stop, latencies, errors) for _ in range(CLIENTS)))
    return latencies, errors, time.perf_counter() - started


def _request(path: str, token: str) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        "Accept: application/json\r\n\r\n"
    ).encode()


def run(backend: str, server: str, args: argparse.Namespace, folder: Path) -> None:
    with database(backend, folder) as (url, engine):
        note(f"{backend}: {args.meters} meters, one channel-month of data")
        channel, token = _populate(engine, args.meters)
        license_file, public_key = _license(folder)
        env = {
            **os.environ,
            "METERHUB_DATABASE_URL": url,
            "METERHUB_DATA_DIR": str(folder),
            "METERHUB_LICENSE_FILE": str(license_file),
            "METERHUB_LICENSE_PUBLIC_KEY": str(public_key),
            "METERHUB_LOG_LEVEL": "WARNING",
        }
        start = START.isoformat().replace("+00:00", "Z")
        end = MONTH_END.isoformat().replace("+00:00", "Z")
        cases = {
            "data": f"/api/v1/meter-data/intervals?channels={channel}&start={start}&end={end}",
            "list": "/api/v1/meters?page=2&page_size=50&sort=serial_number",
            "search": "/api/v1/search?q=SN-00123&limit=20",
        }
        store = MeterDataStore(engine)
        for _ in range(20):
            store.read_intervals([channel], START, MONTH_END)
        store_times = []
        for _ in range(200):
            began = time.perf_counter()
            store.read_intervals([channel], START, MONTH_END)
            store_times.append(time.perf_counter() - began)
        store_ms = statistics.median(store_times) * 1000
        port = _free_port()
        process = _start_server(server, env, port, args.workers, args.threads)
        shape = (
            f"{args.workers} processes x {args.threads} threads"
            if server == "gunicorn"
            else "1 process x 8 threads"
        )
        try:
            for case, path in cases.items():
                request = _request(path, token)
                asyncio.run(_load(port, request, min(2.0, args.seconds)))  # warm-up
                runs = [asyncio.run(_load(port, request, args.seconds)) for _ in range(args.repeat)]
                rates = [len(lat) / took for lat, _err, took in runs]
                best = sorted(range(len(runs)), key=lambda i: rates[i])[len(runs) // 2]
                latencies, errors, took = runs[best]
                if errors:
                    raise RuntimeError(
                        f"{case}: {len(errors)} answers were not 200 (e.g. {errors[0]})"
                    )
                ms = np.array(latencies) * 1000
                record: dict[str, Any] = {
                    "case": f"{case} via {server}",
                    "backend": backend,
                    "server": f"{server}, {shape}",
                    "clients": CLIENTS,
                    "n": len(latencies),
                    "seconds": round(took, 2),
                    "requests_per_s": round(statistics.median(rates), 1),
                    "p50_ms": round(float(np.percentile(ms, 50)), 2),
                    "p95_ms": round(float(np.percentile(ms, 95)), 2),
                }
                if case == "data":
                    record |= {
                        "store_ms": round(store_ms, 3),
                        "ratio_vs_reference": round(store_ms / record["p50_ms"], 3),
                        "reference": "the store's own read of the same month (median, one thread)",
                        "values": 31 * 96,
                    }
                if case == "search":
                    record["meters"] = args.meters
                emit(BENCH, **record)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backends", default="sqlite")
    parser.add_argument("--server", choices=["gunicorn", "waitress", "both"], default="gunicorn")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--meters", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    folder = workdir()
    servers = ["gunicorn", "waitress"] if args.server == "both" else [args.server]
    for backend in args.backends.split(","):
        if backend == "postgresql" and (why := pg_unreachable()):
            emit(BENCH, backend=backend, skipped=why)
            continue
        for server in servers:
            run(backend, server, args, folder)


if __name__ == "__main__":
    main()
