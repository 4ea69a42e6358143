"""Benchmark of the protocol drivers against their simulators over loopback sockets and ptys.

For each protocol, ``meterhub simulate`` serves N meters in a separate process (so the CPU
figure is the head-end's alone); this process finds drivers and media through the plugin host
and reads every meter in turn: one day of 15-minute load profile (2 channels), the clock and 4
registers. Modbus has no standard load profile: its case reads the clock and the registers of
the ``int32-lw`` map only, and says so in the case name.

Prints one JSON line per protocol (``meters_per_s``, ``cpu_s_per_meter``, ``p50_ms`` per meter,
median of ``--repeat`` runs after a warm-up), progress on stderr. A protocol whose simulator or
driver is not available is reported as ``skipped`` with the reason.

    .venv/bin/python bench/drivers.py [--meters 10] [--repeat 3]
        [--protocols modbus,iec62056-21,dlms,mbus,wmbus] [--full]

The M-Bus cases (``mbus``: a bus paced at 2400 Bd, readout and secondary search; ``wmbus``:
the bulk decoder) are described in ``bench/mbus_cases.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import mbus_cases

from meterhub.config import load_settings
from meterhub.extensions.driver import Action
from meterhub.licensing import development_license
from meterhub.pluginhost import build_plugin_host

MACHINE = f"{os.cpu_count()} cpu, Python {platform.python_version()}, {platform.machine()}"
METERHUB = str(Path(sys.executable).with_name("meterhub"))
REGISTERS = {
    "modbus": ["1-0:1.8.0*255", "1-0:3.8.0*255", "1-0:32.7.0*255", "1-0:1.7.0*255"],
    "iec62056-21": ["1-0:1.8.0*255", "1-0:3.8.0*255", "1-0:32.7.0*255", "1-0:1.7.0*255"],
    "dlms": ["1-0:1.8.0*255", "1-0:3.8.0*255", "1-0:32.7.0*255", "1-0:1.7.0*255"],
}
OPTIONS = {"modbus": ["--option", "map=int32-lw"]}


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def emit(**fields: Any) -> None:
    print(json.dumps({"bench": "drivers", **fields, "machine": MACHINE}), flush=True)


def start_fleet(
    protocol: str, meters: int, options: list[str] | None = None
) -> tuple[subprocess.Popen[str], list[dict[str, Any]]]:
    command = [METERHUB, "simulate", "--protocol", protocol, "--meters", str(meters), "--json"]
    process = subprocess.Popen(
        [*command, *OPTIONS.get(protocol, []), *(options or [])],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "METERHUB_LOG_LEVEL": "ERROR"},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        error = process.stderr.read() if process.stderr else ""
        process.wait(timeout=10)
        raise RuntimeError(f"meterhub simulate failed: {error.strip()[-300:]}")
    return process, json.loads(line)


def stop_fleet(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def read_meter(host: Any, endpoint: dict[str, Any], protocol: str) -> int:
    """One complete reading of one meter; returns the number of values read."""
    driver = host.drivers()[endpoint["driver"]]()
    medium = host.media()[endpoint["medium"]](endpoint["address"], endpoint["settings"])
    medium.open(5)
    values = 0
    try:
        connection = driver.connect(endpoint["address"], endpoint["settings"], medium)
        with connection:
            actions = driver.info().actions
            if Action.READ_LOAD_PROFILE in actions:
                end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
                profile = connection.read_load_profile(end - timedelta(days=1), end)
                values += len(profile.readings)
            clock = connection.read_clock()
            values += clock.value is not None
            readings = connection.read_registers(REGISTERS[protocol])
            values += sum(r.value is not None for r in readings)
    finally:
        medium.close()
    return values


def bench_protocol(host: Any, protocol: str, meters: int, repeat: int) -> None:
    if protocol not in host.simulators():
        emit(case="read", backend=protocol, skipped=f"no simulator {protocol!r} is installed")
        return
    try:
        process, endpoints = start_fleet(protocol, meters)
    except Exception as exc:  # noqa: BLE001 - reported as skipped
        emit(case="read", backend=protocol, skipped=str(exc))
        return
    try:
        driver = host.drivers().get(endpoints[0]["driver"])
        if driver is None:
            emit(case="read", backend=protocol, skipped=f"no driver {endpoints[0]['driver']!r}")
            return
        has_profile = Action.READ_LOAD_PROFILE in driver.info().actions
        case = (
            "1 day 15-min load profile (2 ch) + clock + 4 registers"
            if has_profile
            else "clock + 4 registers (no load profile in plain Modbus)"
        )
        try:
            values = read_meter(host, endpoints[0], protocol)  # warm-up
        except Exception as exc:  # noqa: BLE001 - reported as skipped
            emit(case=case, backend=protocol, skipped=f"{type(exc).__name__}: {exc}")
            return
        note(f"{protocol}: warm-up read {values} values from one meter")
        runs, cpus, per_meter = [], [], []
        for rep in range(repeat):
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for endpoint in endpoints:
                started = time.perf_counter()
                read_meter(host, endpoint, protocol)
                per_meter.append(time.perf_counter() - started)
            runs.append(time.perf_counter() - wall0)
            cpus.append(time.process_time() - cpu0)
            note(f"{protocol}: run {rep + 1}/{repeat}: {runs[-1]:.3f} s for {meters} meters")
        seconds = statistics.median(runs)
        emit(
            case=case,
            backend=protocol,
            n=meters,
            values_per_meter=values,
            seconds=round(seconds, 4),
            meters_per_s=round(meters / seconds, 2),
            cpu_s_per_meter=round(statistics.median(cpus) / meters, 5),
            p50_ms=round(statistics.median(per_meter) * 1000, 2),
            p95_ms=round(sorted(per_meter)[int(0.95 * (len(per_meter) - 1))] * 1000, 2),
        )
    finally:
        stop_fleet(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--meters", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--protocols", default="modbus,iec62056-21,dlms,mbus,wmbus")
    parser.add_argument("--full", action="store_true", help="M-Bus: read and search all 250")
    parser.add_argument("--mbus-read", type=int, default=20, help="meters read on the bus")
    parser.add_argument(
        "--mbus-search-bus", type=int, default=12, help="meters on the bus searched"
    )
    parser.add_argument("--wmbus-telegrams", type=int, default=40_000)
    args = parser.parse_args()
    host = build_plugin_host(development_license(), load_settings())
    for protocol in args.protocols.split(","):
        protocol = protocol.strip()
        if protocol == "mbus":
            read = 250 if args.full else args.mbus_read
            search = 250 if args.full else args.mbus_search_bus
            mbus_cases.wired(emit, note, start_fleet, stop_fleet, 250, read, search)
        elif protocol == "wmbus":
            mbus_cases.wireless(emit, note, args.wmbus_telegrams, max(args.repeat, 3))
        else:
            bench_protocol(host, protocol, args.meters, max(args.repeat, 3))


if __name__ == "__main__":
    main()
