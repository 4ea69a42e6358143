"""Benchmark of the acquisition engine (embedded mode): engine bound, storage, real protocol.

Four cases, one JSON line per measurement (``../shared/BENCHMARKS.md``), progress on stderr:

* ``engine`` — M simulated meters, each reading taking R round trips of RTT seconds (the
  simulated driver waits as a real meter does), C lines in the default pool. The ideal time is
  M × R × RTT / C; ``ratio_vs_reference`` = ideal / actual, where *actual* runs from the job's
  start (the run and its tasks created) to the commit of the last task's state. Every reading
  returns one day of 15-minute profile (2 channels), which is stored. ``rss_mb`` is the peak
  resident memory of the process; ``--rss-series 1000,10000`` runs each size in a process of
  its own to show that memory stays flat.
* ``storage`` — M meters × 4 channels × one day of quarter-hours, no latency: values stored per
  second from the driver's return to the committed batch, against one bulk ``write_intervals``
  of the same values in the same run (``ratio_vs_reference``), on ``--storage-capacity`` (4)
  lines (``lines``). The path measured is what happens to the values after the driver
  returned them: mapping them to channels (CPU time of
  the workers in it) and committing the batches (CPU time of the writer thread: the 2-D writes
  through the unit of work with the engine's own rows); the driver's production time
  (``driver_seconds``) is reported apart, and so is the CPU time of the thread that loads meter
  plans and the facts of their channels ahead of the sessions (``plans_seconds``: before the
  driver is called, not on the values' path). On PostgreSQL the server's work is in another process
  and not in this CPU time, so there the writer is counted by the wall time of its commits
  (``commit_seconds``) instead. ``wall_values_per_s`` is the whole job for comparison: values ÷
  (wall time − driver time), session set-up and dispatch included.
* ``telegrams`` — wireless M-Bus reception: N telegrams (AES mode 5, of M ``wmbus`` meters
  whose keys ``import_keys`` stored) as hex lines in a stream, read, identified, deciphered,
  mapped and committed by the engine's writer (``meterhub.acquisition.telegrams``);
  ``telegrams_per_s`` from the first read to the commit of the last telegram, ``cpu_ms`` per
  telegram (all threads of the process).
* ``statistics`` (not run by default) — the communication statistics the writer adds to each
  batch: ``record_statistics`` per batch of 500 sessions, two levels (summary, virtual meter)
  and four (device and path too), against ``insert_sessions`` of the same batch (``p50_ms``;
  ``ratio_vs_reference`` = the session rows' time ÷ the statistics' time).
* ``broker`` (not in the default cases) — the ``engine`` case scaled out: a ``meterhub
  scheduler`` and ``--workers`` (2) ``meterhub worker`` processes of C / workers lines each,
  through RabbitMQ (``--broker-url``), on the database of ``--backends`` (use ``postgresql``);
  the time runs from the run's creation to its end as the database records them, and every
  value is read back from the store.
* ``dlms`` — a fleet of DLMS simulators (``meterhub simulate`` in a process of its own) read
  over loopback with the real driver through the engine: one day of profile, clock and
  registers per meter; ``meters_per_min``.

Each repetition uses a new database (setting up the fleet is not measured); the figure is the
median of ``--repeat`` repetitions after a warm-up.

    .venv/bin/python bench/acquisition.py [--cases engine,storage,dlms,broker] [--backends sqlite]
        [--meters 2000] [--round-trips 6] [--rtt 0.2] [--capacity 200]
        [--storage-meters 2000] [--dlms-meters 20] [--repeat 3] [--rss-series 1000,10000]
        [--telegram-meters 500] [--telegrams 5000]

The full size of issue 9: ``--meters 10000 --capacity 1000 --storage-meters 10000``.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from _common import database, emit, note, rss_mb
from sqlalchemy import Engine, insert

from meterhub.acquisition.engine import AcquisitionEngine, EngineOptions
from meterhub.acquisition.observers import BatchReport
from meterhub.config import load_settings
from meterhub.db import transaction
from meterhub.extensions.driver import Driver, LoadProfile
from meterhub.inventory import jobs
from meterhub.inventory.elements import create_element
from meterhub.inventory.templates import create_template
from meterhub.model.metering import NO_INTERVAL, Channel, MeteringPoint, VirtualMeter
from meterhub.model.meters import Meter, MeterAssignment
from meterhub.runtime import Runtime, build_runtime

START = datetime(2026, 1, 1, tzinfo=UTC)
PROFILE_OBIS = ("1-0:1.29.0*255", "1-0:3.29.0*255", "1-0:2.29.0*255", "1-0:4.29.0*255")

__all__ = ["main"]


# -- the fleet --------------------------------------------------------------------------------


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB: ``VmHWM`` (Linux keeps ``ru_maxrss`` of
    the parent across fork and exec, so a child's own peak must come from /proc)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return rss_mb()


def reset_peak_rss() -> bool:
    """Start the peak (``VmHWM``) afresh, so it covers the run and not the set-up (Linux)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def create_fleet(
    engine: Engine, runtime: Runtime, meters: int, channels: int, settings: Mapping[str, str]
) -> None:
    """M simulated meters, each serving one virtual meter with ``channels`` profile channels.

    The tree's root comes from the inventory operations; the fleet itself is inserted in bulk
    (the operations check and audit every object, which is not what is measured here).
    """
    with transaction(runtime.sessions, user="bench") as session:
        create_template(session, "Site")
        element_id = create_element(session, template="Site", name="bench site").id
    points, virtuals, channel_rows, meter_rows, assignments = [], [], [], [], []
    for number in range(1, meters + 1):
        points.append({"id": number, "element_id": element_id, "name": f"p{number}",
                       "medium": "electricity", "enabled": True})  # fmt: skip
        virtuals.append(
            {"id": number, "metering_point_id": number, "name": "main", "enabled": True}
        )
        for index, obis in enumerate(PROFILE_OBIS[:channels]):
            channel_rows.append(
                {"id": (number - 1) * 4 + index + 1, "virtual_meter_id": number, "obis": obis,
                 "name": obis, "unit": None, "scaler": 0, "interval_minutes": 15,
                 "kind": "profile", "enabled": True}
            )  # fmt: skip
        meter_rows.append(
            {"id": number, "manufacturer": "Bench", "serial_number": f"B{number:06d}",
             "model": None, "driver": "simulated", "driver_settings": dict(settings),
             "credentials_encrypted": None, "enabled": True}
        )  # fmt: skip
        assignments.append({"id": number, "virtual_meter_id": number, "meter_id": number,
                            "valid_from": START, "valid_to": None})  # fmt: skip
    with engine.begin() as connection:
        for model, rows in (
            (MeteringPoint, points),
            (VirtualMeter, virtuals),
            (Channel, channel_rows),
            (Meter, meter_rows),
            (MeterAssignment, assignments),
        ):
            for start in range(0, len(rows), 5000):
                connection.execute(insert(model.__table__), rows[start : start + 5000])  # type: ignore[arg-type]


class RunWatcher:
    """An observer that notes when a run ended and how many values were stored."""

    def __init__(self) -> None:
        self.values = 0
        self.cpu_seconds = 0.0
        self.commit_seconds = 0.0
        self.batches = 0
        self.ended: dict[int, float] = {}
        self.event = threading.Event()

    def batch_committed(self, report: BatchReport) -> None:
        self.values += report.values_stored
        self.commit_seconds += report.commit_seconds
        self.batches += 1
        for job in report.finished_runs:
            if job.run_id is not None:
                self.ended[job.run_id] = time.perf_counter()
                self.event.set()


def bench_license(workdir: Path) -> dict[str, Path]:
    """A license of the bench's own key pair without limits (as tests sign theirs): a fleet
    larger than the development license's 50 virtual meters is registered through the
    inventory operations."""
    from meterhub.licensing import generate_keypair, sign_license

    private, public = workdir / "bench-vendor.pem", workdir / "bench-vendor.pub.pem"
    generate_keypair(private, public)
    payload = {"customer": "bench", "license_id": "BENCH", "issued": "2026-01-01",
               "expires": None, "limits": {}, "features": ["*"]}  # fmt: skip
    license_file = workdir / "bench-license.json"
    license_file.write_text(sign_license(payload, private), encoding="utf-8")
    return {"license_file": license_file, "license_public_key": public}


def runtime_for(url: str, workdir: Path, capacity: int) -> Runtime:
    settings = load_settings(
        **bench_license(workdir),
        data_dir=workdir / "data",
        database_url=url,
        acquisition_default_capacity=capacity,
        acquisition_batch_size=1000,
        acquisition_batch_seconds=0.25,
        log_level="WARNING",
    )
    return build_runtime(settings)


def run_once(
    runtime: Runtime,
    watcher: RunWatcher,
    engine: AcquisitionEngine,
    actions: list[Any],
    meter_ids: Any,
) -> tuple[float, int]:
    """Start a job on ``meter_ids`` and wait until it ended; (seconds, run id)."""
    with transaction(runtime.sessions, user="bench") as session:
        job = jobs.create_job(session, name=f"bench {time.time_ns()}", actions=actions,
                              meters=meter_ids)  # fmt: skip
        job_id = job.id
    watcher.event.clear()
    started = time.perf_counter()
    cpu = time.process_time()
    with transaction(runtime.sessions, user="bench") as session:
        run_id = jobs.run_job(session, job_id, user="bench").id
    engine.wake()
    while run_id not in watcher.ended:
        if not watcher.event.wait(600):
            raise RuntimeError(f"run {run_id} did not end within 10 minutes")
        watcher.event.clear()
    watcher.cpu_seconds = time.process_time() - cpu
    return watcher.ended[run_id] - started, run_id


def check_run(runtime: Runtime, run_id: int, expected: int) -> None:
    with runtime.sessions() as session:
        progress = jobs.run_progress(session, run_id)
    if progress["succeeded"] != expected:
        raise RuntimeError(f"run {run_id}: {progress}")


# -- the cases --------------------------------------------------------------------------------


PROFILE_DAY = {"action": "read_load_profile", "parameters": {"range": "previous_day"}}


def engine_case(backend: str, args: argparse.Namespace, meters: int) -> dict[str, Any]:
    """One repetition of the engine-bound case in a fresh database."""
    workdir = Path(tempfile.mkdtemp(prefix="acq-bench-", dir=args.workdir))
    settings = {
        "latency": str(args.rtt),
        "connect_round_trips": str(args.round_trips - 1),
        "round_trips": "1",
        "channels": "2",
    }
    with database(backend, workdir) as (url, engine):
        runtime = runtime_for(url, workdir, args.capacity)
        try:
            create_fleet(engine, runtime, meters, 2, settings)
            gc.collect()
            reset_peak_rss()
            watcher = RunWatcher()
            acquisition = AcquisitionEngine(
                runtime, options=EngineOptions(workers=args.capacity), observers=[watcher]
            ).start()
            try:
                seconds, run_id = run_once(
                    runtime, watcher, acquisition, [PROFILE_DAY], list(range(1, meters + 1))
                )
            finally:
                acquisition.stop()
            check_run(runtime, run_id, meters)
        finally:
            runtime.close()
    expected_values = meters * 2 * 96
    if watcher.values != expected_values:
        raise RuntimeError(f"stored {watcher.values} values, expected {expected_values}")
    return {"seconds": seconds, "values": watcher.values, "cpu_seconds": watcher.cpu_seconds}


def broker_case(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    """One repetition of the engine-bound case scaled out: ``meterhub scheduler`` and
    ``--workers`` ``meterhub worker`` processes (C / workers lines each) through RabbitMQ.

    The time runs from the run's creation to its end as the database records them (the
    processes are started and connected before, as a deployment's are)."""
    import os
    import uuid

    from sqlalchemy import select

    from meterhub.model.jobs import JobRun

    workdir = Path(tempfile.mkdtemp(prefix="acq-bench-", dir=args.workdir))
    settings = {
        "latency": str(args.rtt),
        "connect_round_trips": str(args.round_trips - 1),
        "round_trips": "1",
        "channels": "2",
    }
    meters = args.meters
    queue = f"meterhub.bench.{uuid.uuid4().hex[:10]}"
    processes: list[subprocess.Popen[bytes]] = []
    with database(backend, workdir) as (url, engine):
        runtime = runtime_for(url, workdir, args.capacity)
        license_paths = {
            "license_file": workdir / "bench-license.json",
            "license_public_key": workdir / "bench-vendor.pub.pem",
        }  # written by runtime_for
        env = (
            {k: v for k, v in os.environ.items() if not k.startswith("METERHUB_")}
            | {
                "METERHUB_DATABASE_URL": url,
                "METERHUB_DATA_DIR": str(workdir / "data"),
                "METERHUB_LICENSE_FILE": str(license_paths["license_file"]),
                "METERHUB_LICENSE_PUBLIC_KEY": str(license_paths["license_public_key"]),
                "METERHUB_BROKER_URL": args.broker_url,
                "METERHUB_BROKER_QUEUE": queue,
                "METERHUB_ACQUISITION_BATCH_SIZE": "1000",
                "METERHUB_ACQUISITION_BATCH_SECONDS": "0.25",
                "METERHUB_LOG_LEVEL": os.environ.get("ACQ_BENCH_LOG_LEVEL", "WARNING"),
            }
            | {  # settings of the processes to compare (ACQ_BENCH_SET_ACQUISITION_...=value)
                "METERHUB_" + key.removeprefix("ACQ_BENCH_SET_"): value
                for key, value in os.environ.items()
                if key.startswith("ACQ_BENCH_SET_")
            }
        )
        command = str(Path(sys.executable).with_name("meterhub"))
        lines = max(1, args.capacity // args.workers)
        note(f"broker {backend}: logs of the processes in {workdir}")
        try:
            create_fleet(engine, runtime, meters, 2, settings)
            logs = []
            for name, extra in [("scheduler", [])] + [
                (
                    "worker",
                    ["--capacity", str(lines)]
                    + (["--prefetch", str(args.prefetch)] if args.prefetch else []),
                )
                for _ in range(args.workers)
            ]:
                log_file = (workdir / f"{name}-{len(logs)}.log").open("w")
                logs.append(log_file)
                processes.append(
                    subprocess.Popen(
                        [command, name, *extra],
                        env=env,
                        cwd=workdir,
                        stdout=subprocess.DEVNULL,
                        stderr=log_file,
                    )  # fmt: skip
                )
            deadline = time.monotonic() + 120
            while not all(
                ("active" if log.name.split("/")[-1].startswith("scheduler") else "running")
                in Path(log.name).read_text()
                for log in logs
            ):
                if time.monotonic() > deadline:
                    raise RuntimeError("the scheduler and workers did not start in 120 s")
                time.sleep(0.2)
            with transaction(runtime.sessions, user="bench") as session:
                job = jobs.create_job(session, name="bench", actions=[PROFILE_DAY],
                                      meters=list(range(1, meters + 1)))  # fmt: skip
                run_id = jobs.run_job(session, job, user="bench").id
            deadline = time.monotonic() + 1800
            while True:
                with runtime.sessions() as session:
                    run = session.scalars(select(JobRun).where(JobRun.id == run_id)).one()
                if run.finished_at is not None:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"run {run_id} did not end within 30 minutes")
                time.sleep(0.2)
            seconds = (run.finished_at - run.created_at).total_seconds()
            check_run(runtime, run_id, meters)
            from meterhub.model.tasks import SessionLog

            with runtime.sessions() as session:
                spans = session.execute(select(SessionLog.started_at, SessionLog.finished_at)).all()
            starts = sorted((start - run.created_at).total_seconds() for start, _ in spans)
            lengths = np.asarray([(end - start).total_seconds() for start, end in spans])
            note(
                f"broker {backend}: sessions last {lengths.mean():.3f} s on average (median "
                f"{np.median(lengths):.3f}, 90th percentile {np.percentile(lengths, 90):.3f}); "
                f"the lines were in sessions {lengths.sum() / (args.capacity * seconds):.0%} "
                "of the run"
            )
            adopted = (run.started_at - run.created_at).total_seconds()
            note(
                f"broker {backend}: run created {run.created_at:%H:%M:%S.%f}, "
                f"adopted after {adopted:.2f} s, sessions started from "
                f"{starts[0]:.2f} s to {starts[-1]:.2f} s, per second: "
                + str(np.bincount(np.asarray(starts, dtype=int)).tolist())
            )
            day = datetime.combine(
                run.created_at.date() - timedelta(days=1), datetime.min.time(), UTC
            )
            channel_ids = [(n - 1) * 4 + i + 1 for n in range(1, meters + 1) for i in range(2)]
            values = 0
            for start in range(0, len(channel_ids), 2000):
                data = runtime.store.read_intervals(
                    channel_ids[start : start + 2000], day, day + timedelta(days=1), layer="raw"
                )
                values += int((~np.isnan(data.values)).sum())
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(60)
                except subprocess.TimeoutExpired:
                    process.kill()
            runtime.close()
    expected_values = meters * 2 * 96
    if values != expected_values:
        raise RuntimeError(f"stored {values} values, expected {expected_values}")
    return {"seconds": seconds, "values": values}


class TimedDriver(Driver):
    """The simulated driver, with the time spent producing profiles summed up."""

    name = "simulated"

    def __init__(self, inner: Driver) -> None:
        self.inner = inner
        self.settings_model = inner.settings_model  # type: ignore[misc]
        self.seconds = 0.0
        self.lock = threading.Lock()
        self._classes: dict[type, type] = {}

    @classmethod
    def info(cls):  # type: ignore[no-untyped-def]
        from meterhub.plugins.drivers.simulated import SimulatedDriver

        return SimulatedDriver.info()

    def connect(self, address, settings, medium=None):  # type: ignore[no-untyped-def]
        started = time.thread_time()
        connection = self.inner.connect(address, settings, medium)
        self._add(time.thread_time() - started)
        connection.__class__ = self._timed_class(type(connection))
        return connection

    def _timed_class(self, base: type) -> type:
        cached = self._classes.get(base)
        if cached is None:
            timed = self

            class Timed(base):  # type: ignore[misc, valid-type]
                def read_load_profile(self, start, end) -> LoadProfile:  # type: ignore[no-untyped-def]
                    begun = time.thread_time()
                    profile = super().read_load_profile(start, end)
                    timed._add(time.thread_time() - begun)
                    return profile

            cached = self._classes[base] = Timed
        return cached

    def _add(self, seconds: float) -> None:
        with self.lock:
            self.seconds += seconds


class MappingTimer:
    """Times ``map_profile`` (the first step after the driver returned) in CPU seconds."""

    def __init__(self) -> None:
        import meterhub.acquisition.performers as performers

        self.module = performers
        self.original = performers.map_profile
        self.seconds = 0.0
        self.lock = threading.Lock()

    def __enter__(self) -> MappingTimer:
        original = self.original

        def timed(*args: Any) -> Any:
            begun = time.thread_time()
            try:
                return original(*args)
            finally:
                spent = time.thread_time() - begun
                with self.lock:
                    self.seconds += spent

        self.module.map_profile = timed  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        self.module.map_profile = self.original  # type: ignore[assignment]


def thread_cpu(thread: threading.Thread) -> float:
    """CPU seconds a running thread has used so far (Linux, through its CPU clock)."""
    assert thread.ident is not None
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


def storage_case(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    """One repetition of the storage case: the engine, then the bulk reference."""
    from meterhub.plugins.drivers.simulated import SimulatedDriver

    meters = args.storage_meters
    workdir = Path(tempfile.mkdtemp(prefix="acq-bench-", dir=args.workdir))
    with database(backend, workdir) as (url, engine):
        runtime = runtime_for(url, workdir, args.storage_capacity)
        try:
            create_fleet(engine, runtime, meters, 4, {"channels": "4"})
            watcher = RunWatcher()
            driver = TimedDriver(SimulatedDriver())
            acquisition = AcquisitionEngine(
                runtime,
                options=EngineOptions(workers=args.storage_capacity),
                observers=[watcher],
                drivers={"simulated": driver},
            ).start()
            assert acquisition.writer is not None
            writer_thread = acquisition.writer._thread
            plans_thread = acquisition.plans._thread
            assert plans_thread is not None
            try:
                with MappingTimer() as mapping:
                    writer_before = thread_cpu(writer_thread)
                    plans_before = thread_cpu(plans_thread)
                    seconds, run_id = run_once(
                        runtime, watcher, acquisition, [PROFILE_DAY], list(range(1, meters + 1))
                    )
                    writer_seconds = thread_cpu(writer_thread) - writer_before
                    plans_seconds = thread_cpu(plans_thread) - plans_before
            finally:
                acquisition.stop()
            check_run(runtime, run_id, meters)
            values = watcher.values
            # the reference: the same values in one bulk write, into fresh channels
            day = datetime.combine((datetime.now(UTC) - timedelta(days=1)).date(),
                                   datetime.min.time(), UTC)  # fmt: skip
            ids = list(range(1, meters * 4 + 1))
            stored = runtime.store.read_intervals(ids, day, day + timedelta(days=1), layer="raw")
            matrix = stored.values
            create_more = meters * 4
            offset = create_fleet_offset(engine, meters)
            ref_ids = list(range(offset + 1, offset + create_more + 1))
            begun = time.perf_counter()
            runtime.store.write_intervals(ref_ids, day, matrix)
            reference = time.perf_counter() - begun
        finally:
            runtime.close()
    if values != meters * 4 * 96:
        raise RuntimeError(f"stored {values} values, expected {meters * 4 * 96}")
    return {
        "seconds": seconds,
        "driver_seconds": driver.seconds,
        "values": values,
        "reference_seconds": reference,
        "commit_seconds": watcher.commit_seconds,
        "batches": watcher.batches,
        "mapping_seconds": mapping.seconds,
        "writer_seconds": writer_seconds,
        "plans_seconds": plans_seconds,
        "storage_seconds": mapping.seconds
        + (writer_seconds if backend == "sqlite" else watcher.commit_seconds),
    }


def create_fleet_offset(engine: Engine, meters: int) -> int:
    """Channels for the reference write (same shape, fresh virtual meters); the first id - 1."""
    base = meters * 4
    rows = [
        {"id": base + index + 1, "virtual_meter_id": (index // 4) + 1,
         "obis": f"1-0:{index % 4 + 5}.29.0*255", "name": f"reference {index}",
         "unit": None, "scaler": 0, "interval_minutes": 15, "kind": "profile", "enabled": True}
        for index in range(meters * 4)
    ]  # fmt: skip
    with engine.begin() as connection:
        for start in range(0, len(rows), 5000):
            connection.execute(insert(Channel.__table__), rows[start : start + 5000])  # type: ignore[arg-type]
    return base


def dlms_case(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    """One repetition of the real-protocol case."""
    from drivers import start_fleet, stop_fleet

    from meterhub.credential_keys import open_cipher
    from meterhub.demo import populate_demo
    from meterhub.extensions.simulator import SimulatedEndpoint

    process, endpoints = start_fleet("dlms", args.dlms_meters)
    try:
        workdir = Path(tempfile.mkdtemp(prefix="acq-bench-", dir=args.workdir))
        with database(backend, workdir) as (url, _engine):
            runtime = runtime_for(url, workdir, args.dlms_capacity)
            try:
                cipher = open_cipher(
                    runtime.settings.effective_credential_key_file, runtime.sessions
                )
                with transaction(runtime.sessions, user="bench") as session:
                    populate_demo(
                        session, [SimulatedEndpoint(**e) for e in endpoints],
                        runtime.plugins.drivers(), cipher,
                    )  # fmt: skip
                watcher = RunWatcher()
                acquisition = AcquisitionEngine(
                    runtime, options=EngineOptions(workers=args.dlms_capacity), observers=[watcher]
                ).start()
                try:
                    actions = [PROFILE_DAY, "read_clock", "read_registers"]
                    seconds, run_id = run_once(
                        runtime, watcher, acquisition, actions,
                        list(range(1, len(endpoints) + 1)),
                    )  # fmt: skip
                finally:
                    acquisition.stop()
                check_run(runtime, run_id, 3 * len(endpoints))
            finally:
                runtime.close()
    finally:
        stop_fleet(process)
    return {"seconds": seconds, "values": watcher.values, "meters": len(endpoints)}


def create_wmbus_fleet(engine: Engine, runtime: Runtime, meters: int) -> list[Any]:
    """M water and heat ``wmbus`` meters with their register channels (inserted in bulk), and
    their keys stored by ``import_keys`` as a key file would (the credential store)."""
    from meterhub.credential_keys import open_cipher
    from meterhub.plugins.drivers.mbus.simulator.air import meter_key
    from meterhub.plugins.drivers.mbus.simulator.fleet import DEMO_CHANNELS
    from meterhub.plugins.drivers.mbus.simulator.model import HEAT, WATER, MeterSpec
    from meterhub.plugins.drivers.mbus.wireless.keys import KeyEntry, import_keys

    specs = [
        MeterSpec(f"{33000000 + number:08d}", (WATER, HEAT)[number % 2])
        for number in range(1, meters + 1)
    ]
    with transaction(runtime.sessions, user="bench") as session:
        create_template(session, "Site")
        element_id = create_element(session, template="Site", name="bench site").id
    points, virtuals, channel_rows, meter_rows, assignments = [], [], [], [], []
    channel_id = 0
    for number, spec in enumerate(specs, start=1):
        points.append({"id": number, "element_id": element_id, "name": f"w{number}",
                       "medium": "water", "enabled": True})  # fmt: skip
        virtuals.append(
            {"id": number, "metering_point_id": number, "name": "main", "enabled": True}
        )
        for obis, unit, kind in DEMO_CHANNELS[spec.medium]:
            channel_id += 1
            channel_rows.append(
                {"id": channel_id, "virtual_meter_id": number, "obis": obis, "name": obis,
                 "unit": unit, "scaler": 0, "interval_minutes": NO_INTERVAL, "kind": kind,
                 "enabled": True}
            )  # fmt: skip
        meter_rows.append(
            {"id": number, "manufacturer": spec.manufacturer,
             "serial_number": spec.identification, "model": None, "driver": "wmbus",
             "driver_settings": {"meter_id": spec.identification},
             "credentials_encrypted": None, "enabled": True}
        )  # fmt: skip
        assignments.append({"id": number, "virtual_meter_id": number, "meter_id": number,
                            "valid_from": START, "valid_to": None})  # fmt: skip
    with engine.begin() as connection:
        for model, rows in (
            (MeteringPoint, points),
            (VirtualMeter, virtuals),
            (Channel, channel_rows),
            (Meter, meter_rows),
            (MeterAssignment, assignments),
        ):
            for start in range(0, len(rows), 5000):
                connection.execute(insert(model.__table__), rows[start : start + 5000])  # type: ignore[arg-type]
    cipher = open_cipher(runtime.settings.effective_credential_key_file, runtime.sessions)
    entries = [
        KeyEntry(spec.identification, meter_key(spec.identification).hex().upper(), None, "")
        for spec in specs
    ]
    with transaction(runtime.sessions, user="bench") as session:
        result = import_keys(session, cipher, entries, drivers=runtime.plugins.drivers())
    if len(result.imported) != meters:
        raise RuntimeError(f"keys not imported: {result.unknown[:5]}")
    return specs


def telegram_case(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    """One repetition of the wireless M-Bus reception case."""
    import io

    from meterhub.acquisition.telegrams import StreamLine, TelegramStream
    from meterhub.plugins.drivers.mbus.simulator.air import build_telegram, meter_key

    workdir = Path(tempfile.mkdtemp(prefix="acq-bench-", dir=args.workdir))
    with database(backend, workdir) as (url, engine):
        runtime = runtime_for(url, workdir, 4)
        try:
            specs = create_wmbus_fleet(engine, runtime, args.telegram_meters)
            at = int(datetime.now(UTC).timestamp()) - args.telegrams - 60
            lines = []
            for number in range(args.telegrams):
                spec = specs[number % len(specs)]
                round_ = number // len(specs)
                stamp = datetime.fromtimestamp(at + number, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                telegram = build_telegram(
                    spec, at + number, access=(round_ + 1) % 256, security=5,
                    key=meter_key(spec.identification), storages=0,
                )  # fmt: skip
                lines.append(f"{stamp} {telegram.hex().upper()}")
            data = ("\n".join(lines) + "\n").encode()
            watcher = RunWatcher()
            acquisition = AcquisitionEngine(
                runtime, options=EngineOptions(workers=0, schedule=False, lease=False),
                observers=[watcher],
            ).start()  # fmt: skip
            try:
                gc.collect()
                started = time.perf_counter()
                cpu = time.process_time()
                stats = TelegramStream(acquisition, StreamLine(io.BytesIO(data))).run()
                assert acquisition.writer is not None
                acquisition.writer.flush()
                if not acquisition.writer.wait_idle(600):
                    raise RuntimeError("the writer did not commit within 10 minutes")
                seconds = time.perf_counter() - started
                cpu_seconds = time.process_time() - cpu
            finally:
                acquisition.stop()
            if stats.stored != args.telegrams or watcher.values != stats.values:
                raise RuntimeError(f"telegrams not all stored: {stats}, {watcher.values} values")
        finally:
            runtime.close()
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "values": stats.values,
            "batches": watcher.batches}  # fmt: skip


# -- driving ------------------------------------------------------------------------------------


def statistics_case(backend: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    """The writer's communication statistics alone: ``record_statistics`` for batches of
    ``--statistics-sessions`` sessions (one per meter) inside a transaction, at two levels
    (summary and virtual meter: meters without a device) and four (device and path too),
    against the writer's own ``insert_sessions`` of the same batch."""
    from meterhub.acquisition.bookkeeping import insert_sessions
    from meterhub.acquisition.observers import SessionRecord
    from meterhub.acquisition.plans import PathPlan
    from meterhub.acquisition.results import SessionDraft, SessionResult
    from meterhub.acquisition.statistics import record_statistics

    size = args.statistics_sessions
    hour = datetime(2026, 12, 1, 10, tzinfo=UTC)
    out = []
    for levels in (2, 4):
        workdir = Path(tempfile.mkdtemp(prefix="acq-stats-", dir=args.workdir))
        with database(backend, workdir) as (_, engine):
            ours: list[float] = []
            reference: list[float] = []
            rows = 0
            for number in range(2 + max(3, args.repeat)):
                base = (number % 2) * size  # every other batch: the same keys (updates)
                results, records = [], []
                for index in range(size):
                    key = base + index + 1
                    path = PathPlan(key, 1, key, "tcp", "x", {}, "default") if levels == 4 else None
                    start = hour + timedelta(seconds=index % 3600)
                    draft = SessionDraft(
                        meter_id=key, attempt=1, path=path, started=start,
                        finished=start + timedelta(seconds=1.2), outcome="succeeded",
                        bytes_sent=300, bytes_received=2000, task_ids=(key,),
                    )  # fmt: skip
                    results.append(SessionResult(key, None, [], sessions=[draft]))
                    records.append(
                        SessionRecord(
                            0, key, key, (key,), 1, path.path_id if path else None,
                            1 if path else None, path.device_id if path else None, "tcp",
                            "default", start, draft.finished, "succeeded", None, 300, 2000,
                        )
                    )  # fmt: skip
                with engine.begin() as connection:
                    started = time.perf_counter()
                    rows = record_statistics(connection, results, records)
                    middle = time.perf_counter()
                    insert_sessions(connection, results)
                    ended = time.perf_counter()
                if number >= 2:  # after a warm-up of one insert and one update batch
                    ours.append(middle - started)
                    reference.append(ended - middle)
            seconds = statistics.median(ours)
            note(f"statistics {backend} levels={levels}: {[round(1000 * t, 1) for t in ours]} ms")
            out.append(
                {
                    "levels": levels, "rows": rows, "seconds": seconds,
                    "reference_seconds": statistics.median(reference),
                }
            )  # fmt: skip
    return out


def repeat(label: str, count: int, action: Any) -> list[dict[str, Any]]:
    note(f"{label}: warm-up")
    action()
    results = []
    for number in range(count):
        result = action()
        shown = {k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}
        note(f"{label}: run {number + 1}: {json.dumps(shown)}")
        results.append(result)
    return results


def median_of(results: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(result[key] for result in results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default="engine,storage,dlms,telegrams")
    parser.add_argument("--backends", default="sqlite")
    parser.add_argument("--meters", type=int, default=2000)
    parser.add_argument("--round-trips", type=int, default=6)
    parser.add_argument("--rtt", type=float, default=0.2)
    parser.add_argument("--capacity", type=int, default=200)
    parser.add_argument("--storage-meters", type=int, default=2000)
    parser.add_argument("--storage-capacity", type=int, default=4)
    parser.add_argument("--dlms-meters", type=int, default=20)
    parser.add_argument("--dlms-capacity", type=int, default=8)
    parser.add_argument("--telegram-meters", type=int, default=500)
    parser.add_argument("--telegrams", type=int, default=5000)
    parser.add_argument("--statistics-sessions", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="worker processes (broker case)")
    parser.add_argument("--prefetch", type=int, default=None, help="per worker (broker case)")
    parser.add_argument("--broker-url", default="amqp://guest:guest@127.0.0.1:5672//")
    parser.add_argument("--rss-series", default="", help="e.g. 1000,10000 (engine case)")
    parser.add_argument("--only-rss", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    cases = [case.strip() for case in args.cases.split(",") if case.strip()]
    backends = [backend.strip() for backend in args.backends.split(",") if backend.strip()]
    if args.only_rss:
        result = engine_case(backends[0], args, args.meters)
        print(json.dumps({"seconds": result["seconds"], "rss_mb": peak_rss_mb()}), flush=True)
        return
    for backend in backends:
        try:
            probe = Path(tempfile.mkdtemp(prefix="acq-probe-", dir=args.workdir))
            with database(backend, probe):
                pass
        except Exception as exc:  # a backend that is not there is reported, not dropped
            emit("acquisition", backend=backend, skipped=str(exc).splitlines()[0])
            continue
        if "engine" in cases:
            ideal = args.meters * args.round_trips * args.rtt / args.capacity
            results = repeat(
                f"engine {backend}", args.repeat,
                lambda b=backend: engine_case(b, args, args.meters),
            )  # fmt: skip
            seconds = median_of(results, "seconds")
            emit(
                "acquisition", case="engine", backend=backend, n=args.meters,
                round_trips=args.round_trips, rtt_s=args.rtt, capacity=args.capacity,
                seconds=round(seconds, 3), ideal_seconds=round(ideal, 3),
                meters_per_s=round(args.meters / seconds, 1),
                values_per_s=round(results[0]["values"] / seconds),
                ratio_vs_reference=round(ideal / seconds, 3),
                reference="ideal M×R×RTT/C", runs=[round(r["seconds"], 3) for r in results],
                cpu_ms=round(1000 * median_of(results, "cpu_seconds") / args.meters, 3),
                rss_mb=peak_rss_mb(),
            )  # fmt: skip
            for size in [int(s) for s in args.rss_series.split(",") if s.strip()]:
                command = [sys.executable, __file__, "--only-rss", "--meters", str(size),
                           "--backends", backend, "--round-trips", str(args.round_trips),
                           "--rtt", str(args.rtt), "--capacity", str(args.capacity)]  # fmt: skip
                if args.workdir:
                    command += ["--workdir", args.workdir]
                note(f"engine {backend}: peak memory with {size} meters (a process of its own)")
                out = subprocess.run(command, capture_output=True, text=True, check=True)
                child = json.loads(out.stdout.strip().splitlines()[-1])
                ideal = size * args.round_trips * args.rtt / args.capacity
                emit(
                    "acquisition", case="engine-rss", backend=backend, n=size,
                    capacity=args.capacity, seconds=round(child["seconds"], 3),
                    ratio_vs_reference=round(ideal / child["seconds"], 3),
                    reference="ideal M×R×RTT/C", rss_mb=child["rss_mb"],
                )  # fmt: skip
        if "broker" in cases:
            ideal = args.meters * args.round_trips * args.rtt / args.capacity
            results = repeat(
                f"broker {backend}", args.repeat, lambda b=backend: broker_case(b, args)
            )
            seconds = median_of(results, "seconds")
            emit(
                "acquisition", case="engine-broker", backend=backend, n=args.meters,
                round_trips=args.round_trips, rtt_s=args.rtt, capacity=args.capacity,
                workers=args.workers, seconds=round(seconds, 3), ideal_seconds=round(ideal, 3),
                meters_per_s=round(args.meters / seconds, 1),
                values_per_s=round(results[0]["values"] / seconds),
                ratio_vs_reference=round(ideal / seconds, 3),
                reference="ideal M×R×RTT/C", runs=[round(r["seconds"], 3) for r in results],
            )  # fmt: skip
        if "storage" in cases:
            results = repeat(
                f"storage {backend}", args.repeat, lambda b=backend: storage_case(b, args)
            )
            values = results[0]["values"]
            ours = values / median_of(results, "storage_seconds")
            reference = values / median_of(results, "reference_seconds")
            wall = [r["seconds"] - r["driver_seconds"] for r in results]
            emit(
                "acquisition", case="storage", backend=backend, n=values,
                meters=args.storage_meters, lines=args.storage_capacity,
                seconds=round(median_of(results, "seconds"), 3),
                driver_seconds=round(median_of(results, "driver_seconds"), 3),
                mapping_seconds=round(median_of(results, "mapping_seconds"), 3),
                writer_seconds=round(median_of(results, "writer_seconds"), 3),
                plans_seconds=round(median_of(results, "plans_seconds"), 3),
                commit_seconds=round(median_of(results, "commit_seconds"), 3),
                writer_counted="cpu" if backend == "sqlite" else "commit wall time",
                values_per_s=round(ours), reference_values_per_s=round(reference),
                ratio_vs_reference=round(ours / reference, 3),
                reference="one bulk write_intervals of the same values",
                wall_values_per_s=round(values / statistics.median(wall)),
                runs=[round(r["storage_seconds"], 3) for r in results], rss_mb=peak_rss_mb(),
            )  # fmt: skip
        if "telegrams" in cases:
            results = repeat(
                f"telegrams {backend}", args.repeat, lambda b=backend: telegram_case(b, args)
            )
            seconds = median_of(results, "seconds")
            emit(
                "acquisition", case="telegrams", backend=backend, n=args.telegrams,
                meters=args.telegram_meters, seconds=round(seconds, 3),
                telegrams_per_s=round(args.telegrams / seconds, 1),
                values_per_s=round(results[0]["values"] / seconds, 1),
                cpu_ms=round(1000 * median_of(results, "cpu_seconds") / args.telegrams, 3),
                batches=results[0]["batches"],
                runs=[round(r["seconds"], 3) for r in results], rss_mb=peak_rss_mb(),
            )  # fmt: skip
        if "statistics" in cases:
            for result in statistics_case(backend, args):
                emit(
                    "acquisition", case="statistics", backend=backend,
                    n=args.statistics_sessions, levels=result["levels"],
                    rows=result["rows"], p50_ms=round(1000 * result["seconds"], 2),
                    rows_per_s=round(result["rows"] / result["seconds"]),
                    ratio_vs_reference=round(result["reference_seconds"] / result["seconds"], 3),
                    reference="insert_sessions of the same batch",
                )  # fmt: skip
        if "dlms" in cases:
            results = repeat(f"dlms {backend}", args.repeat, lambda b=backend: dlms_case(b, args))
            seconds = median_of(results, "seconds")
            meters = results[0]["meters"]
            emit(
                "acquisition", case="dlms", backend=backend, n=meters,
                capacity=args.dlms_capacity, seconds=round(seconds, 3),
                meters_per_min=round(60 * meters / seconds, 1),
                runs=[round(r["seconds"], 3) for r in results], rss_mb=peak_rss_mb(),
            )  # fmt: skip


if __name__ == "__main__":
    main()
