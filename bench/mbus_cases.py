"""M-Bus cases of ``bench/drivers.py``: a paced wired bus and the wireless decode path.

* ``mbus read``: a bus of ``--mbus-bus`` meters (default 250) behind the simulator's TCP
  gateway, paced at 2400 Bd (11 bits per byte), in a separate ``meterhub simulate`` process.
  SND_NKE + REQ_UD2 readout of ``--mbus-read`` meters (default 20; ``--full``: all), meters per
  minute beside the physical bound: the same frames' bytes at 2400 Bd with no gap.
* ``mbus search``: the secondary-address search over a bus of ``--mbus-search-bus`` meters
  (default 8; ``--full``: 250), meters found per minute beside the bound of the bytes sent and
  received (the search's silent probes each cost a time-out on top, which no bus avoids).
* ``wmbus decode``: telegrams decoded, decrypted and mapped per second by the bulk decoder,
  security modes 5 and 7, 2,000 meters, in batches of 10,000; reference: pymbusparser decoding
  and decrypting the same mode 5 telegrams one by one (``ratio_vs_reference`` = ours / theirs).
  Telegrams *stored* per second waits for the acquisition engine's batched writes.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

BAUD = 2400
BITS = 11


def _bound_per_minute(bytes_per_meter: float) -> float:
    return 60 / (bytes_per_meter * BITS / BAUD)


def wired(
    emit: Callable[..., None],
    note: Callable[[str], None],
    start_fleet: Callable[..., Any],
    stop_fleet: Callable[[Any], None],
    bus: int,
    read: int,
    search_bus: int,
) -> None:
    from meterhub.extensions.trace import Direction, FrameTrace
    from meterhub.plugins.drivers.mbus.wired import MbusDriver
    from meterhub.plugins.media.tcp import TcpMedium

    process, endpoints = start_fleet("mbus", bus, ["--option", f"baudrate={BAUD}"])
    try:
        address = endpoints[0]["address"]
        trace = FrameTrace()
        medium = TcpMedium(address, None, trace)
        medium.open(5)
        try:
            started = time.perf_counter()
            for endpoint in endpoints[:read]:
                settings = {**endpoint["settings"], "timeout": "0.5"}
                MbusDriver().connect(address, settings, medium).read_instantaneous()
            seconds = time.perf_counter() - started
        finally:
            medium.close()
        moved = sum(
            len(e.data) for e in trace.entries if e.direction in (Direction.TX, Direction.RX)
        )
        per_meter = moved / read
        bound = _bound_per_minute(per_meter)
        measured = read / seconds * 60
        note(f"mbus read: {read} meters in {seconds:.1f} s, {per_meter:.0f} bytes per meter")
        emit(
            case=f"mbus read (SND_NKE + REQ_UD2, {bus}-meter bus, TCP gateway at {BAUD} Bd)",
            backend="mbus",
            n=read,
            seconds=round(seconds, 3),
            meters_per_min=round(measured, 1),
            bound_meters_per_min=round(bound, 1),
            bytes_per_meter=round(per_meter, 1),
            ratio_vs_reference=round(measured / bound, 3),
            reference="bytes at 2400 Bd",
        )
    finally:
        stop_fleet(process)
    process, endpoints = start_fleet("mbus", search_bus, ["--option", f"baudrate={BAUD}"])
    try:
        address = endpoints[0]["address"]
        with MbusDriver().connect(address, {"timeout": "0.25"}) as connection:
            result = connection.search()
        found = len(result.meters)
        moved = result.bytes_sent + result.bytes_received
        bound = found / (moved * BITS / BAUD) * 60
        measured = found / result.seconds * 60
        note(
            f"mbus search: {found}/{search_bus} meters, {result.probes} probes, "
            f"{result.collisions} collisions, {result.seconds:.1f} s"
        )
        emit(
            case=f"mbus secondary search ({search_bus}-meter bus at {BAUD} Bd, 0.25 s time-out)",
            backend="mbus",
            n=found,
            seconds=round(result.seconds, 3),
            probes=result.probes,
            collisions=result.collisions,
            meters_per_min=round(measured, 1),
            bound_meters_per_min=round(bound, 1),
            ratio_vs_reference=round(measured / bound, 3),
            reference="bytes at 2400 Bd (silent probes excluded)",
        )
    finally:
        stop_fleet(process)


def wireless(
    emit: Callable[..., None], note: Callable[[str], None], telegrams: int, repeat: int
) -> None:
    import pymbusparser

    from meterhub.plugins.drivers.mbus.simulator.air import build_telegram, meter_key
    from meterhub.plugins.drivers.mbus.simulator.model import HEAT, WATER, MeterSpec
    from meterhub.plugins.drivers.mbus.wireless.decoder import TelegramDecoder

    meters = 2000
    specs = [MeterSpec(f"{40000000 + n:08d}", HEAT if n % 2 else WATER) for n in range(meters)]
    keys = {spec.identification: meter_key(spec.identification) for spec in specs}
    at = 1_772_452_800
    rounds = max(telegrams // meters, 1)
    for security in (5, 7):
        frames = [
            build_telegram(
                spec,
                at + 900 * k,
                access=k + 1,
                security=security,
                key=keys[spec.identification],
                counter=k + 1,
            )
            for k in range(rounds)
            for spec in specs
        ]
        runs, values = [], 0
        for _ in range(repeat + 1):  # the first run is the warm-up (layouts compiled there)
            decoder = TelegramDecoder(keys, link_crc="a")
            started = time.perf_counter()
            taken = 0
            for offset in range(0, len(frames), 10_000):
                batch = decoder.decode(frames[offset : offset + 10_000])
                taken += batch.count(0)
                values += len(batch.value)
            runs.append(time.perf_counter() - started)
            assert taken == len(frames), "every telegram must be taken"
        seconds = statistics.median(runs[1:])
        rate = len(frames) / seconds
        fields: dict[str, Any] = {}
        if security == 5:
            sample = frames[:2000]
            started = time.perf_counter()
            for frame in sample:
                spec_id = frame[4:8][::-1].hex()
                pymbusparser.parse(frame, key=keys[spec_id])
            reference = len(sample) / (time.perf_counter() - started)
            fields = {
                "ratio_vs_reference": round(rate / reference, 2),
                "reference": f"pymbusparser.parse with key, one by one: {reference:.0f}/s",
            }
        note(f"wmbus mode {security}: {len(frames)} telegrams in {seconds:.2f} s")
        emit(
            case=f"wmbus decode+decrypt+map (mode {security}, {meters} meters, batches of 10000)",
            backend="wmbus",
            n=len(frames),
            seconds=round(seconds, 4),
            telegrams_per_s=round(rate),
            values_per_s=round(values / (repeat + 1) / seconds),
            **fields,
        )
