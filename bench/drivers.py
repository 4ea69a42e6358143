"""Benchmark of the protocol drivers against their simulators over loopback sockets and ptys.

For each protocol, ``meterhub simulate`` serves N meters in a separate process (so the CPU
figure is the head-end's alone); this process finds drivers and media through the plugin host
and reads every meter in turn: one day of 15-minute load profile (2 channels), the clock and 4
registers. Modbus has no standard load profile: its case reads the clock and the registers of
the ``int32-lw`` map only, and says so in the case name.

Prints one JSON line per protocol (``meters_per_s``, ``cpu_s_per_meter``, ``p50_ms`` per meter,
median of ``--repeat`` runs after a warm-up), progress on stderr. A protocol whose simulator or
driver is not available is reported as ``skipped`` with the reason. The ``p1`` protocol (push
meters, not in the default list) reads the clock and 4 registers of a DSMR 5.0 meter pushing
every 50 ms: its rate is bound by the push interval, not by the driver.

The ``parse`` cases measure the IEC 62056-21 and P1 decoding alone, in this process: a 4.5 KB
mode C readout (30 billing periods) parsed into readings, billing values and measurements
(``readouts_per_s``, ``values_per_s``), and one telegram per P1 version checked (CRC16),
parsed and mapped to the electricity meter and its M-Bus meters (``telegrams_per_s``).

**DLMS against a plain gurux-dlms client.** With ``dlms`` among the protocols, two more lines
measure one short session — association, clock, one register (scaler and value), release —
against the same simulated meter: the reference is gurux-dlms' ``GXDLMSClient`` over a plain
blocking socket (the simplest fast loop, in this file), the other the ``dlms`` driver found
through the plugin host, opening its own TCP medium. The runs alternate, ``--dlms-sessions``
sessions each, ``--repeat`` times. Since the simulator (another process) takes part of the wall
time, the comparison is the CPU of this process: ``ratio_vs_reference`` = the reference's CPU
ms per session ÷ the driver's (higher is better; 1.0 = as cheap as the plain client).

    .venv/bin/python bench/drivers.py [--meters 10] [--repeat 3]
        [--protocols modbus,iec62056-21,dlms,mbus,wmbus] [--cases read,parse]
        [--dlms-sessions 300] [--dlms-setting get_with_list=false] [--full]

The M-Bus cases (``mbus``: a bus paced at 2400 Bd, readout and secondary search; ``wmbus``:
the bulk decoder) are described in ``bench/mbus_cases.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
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
from meterhub.extensions.driverkit import line_settings
from meterhub.licensing import development_license
from meterhub.pluginhost import build_plugin_host

MACHINE = f"{os.cpu_count()} cpu, Python {platform.python_version()}, {platform.machine()}"
METERHUB = str(Path(sys.executable).with_name("meterhub"))
REGISTERS = {
    "modbus": ["1-0:1.8.0*255", "1-0:3.8.0*255", "1-0:32.7.0*255", "1-0:1.7.0*255"],
    "iec62056-21": ["1-0:1.8.0*255", "1-0:3.8.0*255", "1-0:32.7.0*255", "1-0:1.7.0*255"],
    "dlms": ["1-0:1.8.0*255", "1-0:3.8.0*255", "1-0:32.7.0*255", "1-0:1.7.0*255"],
    "p1": ["1-0:1.8.1*255", "1-0:1.8.2*255", "1-0:32.7.0*255", "1-0:1.7.0*255"],
}
OPTIONS = {
    "modbus": ["--option", "map=int32-lw"],
    "p1": ["--option", "version=5.0", "--option", "interval=0.05"],
}
CASES_WITHOUT_PROFILE = {
    "modbus": "clock + 4 registers (no load profile in plain Modbus)",
    "p1": "clock + 4 registers of a pushed DSMR 5.0 telegram (push every 50 ms)",
}


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
    # The medium takes only its own settings (a driver's, such as DLMS credentials, it refuses).
    line = line_settings(endpoint["medium"], endpoint["settings"])
    medium = host.media()[endpoint["medium"]](endpoint["address"], line)
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
            else CASES_WITHOUT_PROFILE.get(protocol, "clock + 4 registers")
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


def _timed(work: Any, count: int, repeat: int) -> tuple[float, float]:
    """Median wall seconds and CPU seconds of ``count`` calls of ``work``, after a warm-up."""
    work()
    walls, cpus = [], []
    for _ in range(repeat):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(count):
            work()
        walls.append(time.perf_counter() - wall0)
        cpus.append(time.process_time() - cpu0)
    return statistics.median(walls), statistics.median(cpus)


def bench_parsing(repeat: int) -> None:
    """IEC 62056-21 readout and P1 telegram decoding, without a line."""
    try:
        from meterhub.extensions.driverkit import SimulatedMeter
        from meterhub.plugins.drivers.iec62056_21.p1.compose import telegram
        from meterhub.plugins.drivers.iec62056_21.p1.meters import TelegramMeters
        from meterhub.plugins.drivers.iec62056_21.p1.telegram import parse_telegram
        from meterhub.plugins.drivers.iec62056_21.protocol import parse_data_block
        from meterhub.plugins.drivers.iec62056_21.simreadout import readout_body, readout_lines
        from meterhub.plugins.drivers.iec62056_21.values import Readout
    except ImportError as exc:
        emit(case="parse", backend="iec62056-21", skipped=f"driver not installed: {exc}")
        return
    at = int(datetime(2026, 3, 2, 12, tzinfo=UTC).timestamp())
    start, end = datetime(2023, 1, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC)
    body = readout_body(
        readout_lines(SimulatedMeter("IEC-0001"), at, at, billing_periods=30), "standard"
    )

    def decode_readout() -> int:
        readout = Readout(parse_data_block(body), UTC, datetime.now(UTC))
        found = [readout.register(code) for code in REGISTERS["iec62056-21"]]
        found += readout.instantaneous()
        found.append(readout.clock())
        return len(found) + len(readout.billing(start, end).readings)

    values = decode_readout()
    count = 200
    seconds, cpu = _timed(decode_readout, count, repeat)
    emit(
        case=f"mode C readout of {len(body)} B (30 billing periods) parsed to readings",
        backend="iec62056-21",
        n=count,
        values_per_readout=values,
        seconds=round(seconds, 4),
        readouts_per_s=round(count / seconds, 1),
        values_per_s=round(count * values / seconds),
        cpu_ms=round(cpu / count * 1000, 3),
    )
    for version in ("2.2", "4.2", "5.0", "emucs"):
        raw = telegram(version, "P1-0001", at)

        def decode_telegram(raw: bytes = raw) -> int:
            parsed = parse_telegram(raw)
            meters = TelegramMeters(parsed.datasets, UTC, datetime.now(UTC))
            found = meters.instantaneous()
            found.append(meters.clock())
            return len(found) + sum(len(sub.readings) for sub in meters.submeters())

        count = 1000
        seconds, cpu = _timed(decode_telegram, count, repeat)
        emit(
            case=f"P1 telegram {version} of {len(raw)} B: CRC, parse, meters and sub-meters",
            backend="p1",
            n=count,
            seconds=round(seconds, 4),
            telegrams_per_s=round(count / seconds, 1),
            cpu_ms=round(cpu / count * 1000, 3),
        )
        note(f"p1 {version}: {count / seconds:.0f} telegrams/s")


# -- DLMS: the driver against a plain gurux-dlms client -----------------------------------------

DLMS_SESSION = "association + clock + 1 register (scaler, value) + release"


def plain_gurux_session(host: str, port: int, client_address: int, server_address: int) -> int:
    """The reference session: gurux-dlms' client over a plain socket; returns the register."""
    from gurux_dlms import GXByteBuffer, GXReplyData
    from gurux_dlms.enums import Authentication, InterfaceType
    from gurux_dlms.GXDLMSClient import GXDLMSClient
    from gurux_dlms.objects import GXDLMSClock, GXDLMSRegister

    client = GXDLMSClient(
        True, client_address, server_address, Authentication.NONE, None, InterfaceType.WRAPPER
    )
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def exchange(frame: bytes) -> Any:
            reply, received = GXReplyData(), GXByteBuffer()
            sock.sendall(frame)
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    raise ConnectionError("the meter closed the connection")
                received.set(chunk)
                if client.getData(received, reply, GXReplyData()):
                    if not reply.isMoreData():
                        return reply
                    sock.sendall(client.receiverReady(reply))
                    received = GXByteBuffer()

        client.parseAareResponse(exchange(client.aarqRequest()[0]).data)
        clock = GXDLMSClock("0.0.1.0.0.255")
        client.updateValue(clock, 2, exchange(client.read(clock, 2)[0]).value)
        register = GXDLMSRegister("1.0.1.8.0.255")
        client.updateValue(register, 3, exchange(client.read(register, 3)[0]).value)
        value = exchange(client.read(register, 2)[0]).value
        exchange(client.releaseRequest()[0])
    return int(value)


def driver_session(driver: Any, address: str, settings: dict[str, str]) -> int:
    """The same session through the ``dlms`` driver's public API."""
    with driver.connect(address, settings) as connection:
        connection.read_clock()
        reading = connection.read_registers(["1-0:1.8.0"])[0]
    return int(reading.value)


def bench_dlms_reference(
    host: Any, sessions: int, repeat: int, extra: dict[str, str] | None = None
) -> None:
    """CPU per session of the driver and of a plain gurux-dlms client, alternating runs.

    ``extra``: driver settings on top of the endpoint's (``get_with_list=false``, ...).
    """
    if "dlms" not in host.simulators() or "dlms" not in host.drivers():
        emit(case=DLMS_SESSION, backend="dlms", skipped="the dlms driver or simulator is missing")
        return
    try:
        process, endpoints = start_fleet("dlms", 1)
    except Exception as exc:  # noqa: BLE001 - reported as skipped
        emit(case=DLMS_SESSION, backend="dlms", skipped=str(exc))
        return
    try:
        endpoint = endpoints[0]
        address = endpoint["address"]
        settings = {**endpoint["settings"], **(extra or {})}
        peer_host, port = address.rsplit(":", 1)
        client_address = int(settings.get("client_address", "16"))
        driver = host.drivers()["dlms"]()
        runs: dict[str, Any] = {
            "reference": lambda: plain_gurux_session(peer_host, int(port), client_address, 1),
            "driver": lambda: driver_session(driver, address, settings),
        }
        values = {name: run() for name, run in runs.items()}
        if abs(values["reference"] - values["driver"]) > 10:
            raise AssertionError(f"the two sessions read different registers: {values}")
        for _ in range(max(sessions // 10, 20)):  # warm-up
            for run in runs.values():
                run()
        cpu: dict[str, list[float]] = {name: [] for name in runs}
        wall: dict[str, list[float]] = {name: [] for name in runs}
        for rep in range(repeat):
            for name, run in runs.items():
                cpu0, wall0 = time.process_time(), time.perf_counter()
                for _ in range(sessions):
                    run()
                wall[name].append(time.perf_counter() - wall0)
                cpu[name].append(time.process_time() - cpu0)
            note(
                f"dlms reference run {rep + 1}/{repeat}: "
                + ", ".join(f"{n} {cpu[n][-1] / sessions * 1000:.3f} ms CPU" for n in runs)
            )
        figures = {
            name: (
                statistics.median(cpu[name]) / sessions * 1000,
                sessions / statistics.median(wall[name]),
            )
            for name in runs
        }
        reference_cpu, reference_rate = figures["reference"]
        emit(
            case=f"dlms session: {DLMS_SESSION}",
            backend="dlms",
            role="reference",
            reference="plain gurux-dlms GXDLMSClient over a blocking socket",
            n=sessions,
            sessions_per_s=round(reference_rate, 1),
            cpu_ms=round(reference_cpu, 4),
            cpu_runs_ms=[round(c / sessions * 1000, 4) for c in cpu["reference"]],
        )
        driver_cpu, driver_rate = figures["driver"]
        emit(
            case=f"dlms session: {DLMS_SESSION}",
            backend="dlms",
            role="driver",
            driver_settings=extra or {},
            reference="plain gurux-dlms GXDLMSClient over a blocking socket",
            n=sessions,
            sessions_per_s=round(driver_rate, 1),
            cpu_ms=round(driver_cpu, 4),
            cpu_runs_ms=[round(c / sessions * 1000, 4) for c in cpu["driver"]],
            ratio_vs_reference=round(reference_cpu / driver_cpu, 3),
            target=0.7,
        )
    finally:
        stop_fleet(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--meters", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--protocols", default="modbus,iec62056-21,dlms,mbus,wmbus")
    parser.add_argument("--cases", default="read,parse", help="read, parse or both")
    parser.add_argument("--dlms-sessions", type=int, default=300)
    parser.add_argument(
        "--dlms-setting",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a driver setting for the DLMS reference comparison (get_with_list=false, ...)",
    )
    parser.add_argument("--full", action="store_true", help="M-Bus: read and search all 250")
    parser.add_argument("--mbus-read", type=int, default=20, help="meters read on the bus")
    parser.add_argument(
        "--mbus-search-bus", type=int, default=12, help="meters on the bus searched"
    )
    parser.add_argument("--wmbus-telegrams", type=int, default=40_000)
    args = parser.parse_args()
    cases = {case.strip() for case in args.cases.split(",")}
    host = build_plugin_host(development_license(), load_settings())
    protocols = [protocol.strip() for protocol in args.protocols.split(",")]
    if "read" in cases:
        for protocol in protocols:
            if protocol == "mbus":
                read = 250 if args.full else args.mbus_read
                search = 250 if args.full else args.mbus_search_bus
                mbus_cases.wired(emit, note, start_fleet, stop_fleet, 250, read, search)
            elif protocol == "wmbus":
                mbus_cases.wireless(emit, note, args.wmbus_telegrams, max(args.repeat, 3))
            else:
                bench_protocol(host, protocol, args.meters, max(args.repeat, 3))
        if "dlms" in protocols:
            extra = dict(item.split("=", 1) for item in args.dlms_setting)
            bench_dlms_reference(host, args.dlms_sessions, max(args.repeat, 3), extra)
    if "parse" in cases:
        bench_parsing(max(args.repeat, 3))


if __name__ == "__main__":
    main()
