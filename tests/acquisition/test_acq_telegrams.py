"""Received wireless M-Bus telegrams stored through the engine: identified by their M-Bus
address, deciphered with the keys ``meterhub wmbus import-keys`` stored, committed in batches
by the engine's writer, replays and strangers refused."""

from __future__ import annotations

import io
import logging
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from meterhub.acquisition.telegrams import StreamLine, TelegramStream
from meterhub.credential_keys import open_cipher
from meterhub.db import transaction
from meterhub.demo import populate_demo
from meterhub.model.metering import Channel
from meterhub.model.meters import Meter, MeterAssignment
from meterhub.model.sessionstate import SessionState
from meterhub.plugins.drivers.mbus.simulator.air import build_telegram, meter_key
from meterhub.plugins.drivers.mbus.simulator.model import HEAT, WATER, MeterSpec
from meterhub.plugins.drivers.mbus.wireless.driver import WmbusDriver
from meterhub.plugins.drivers.mbus.wireless.keys import import_keys, read_key_file

SPECS = [MeterSpec("32000001", WATER), MeterSpec("32000002", HEAT)]


def _register(runtime, fleet) -> dict[str, int]:
    """The fleet's meters without their keys; then the keys from a manufacturer's key file."""
    cipher = open_cipher(runtime.settings.effective_credential_key_file, runtime.sessions)
    endpoints = [
        replace(e, settings={k: v for k, v in e.settings.items() if k != "key"})
        for e in fleet.endpoints
    ]
    rows = "\n".join(f"{s.identification};{meter_key(s.identification).hex()}" for s in SPECS)
    with transaction(runtime.sessions, user="tester") as session:
        populate_demo(session, endpoints, runtime.plugins.drivers(), cipher)
        imported = import_keys(session, cipher, read_key_file(f"meter_id;key\n{rows}".encode()),
                               drivers=runtime.plugins.drivers())  # fmt: skip
        assert sorted(imported.imported) == [s.identification for s in SPECS]
        return {m.serial_number: m.id for m in session.scalars(select(Meter))}


def _line(spec: MeterSpec, at: int, access: int, key: bytes | None = None) -> str:
    telegram = build_telegram(spec, at, access=access, security=5,
                              key=key or meter_key(spec.identification))  # fmt: skip
    stamp = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{stamp} {telegram.hex().upper()}"


def _stored(runtime, meter_id: int, at: int) -> dict[str, float]:
    with runtime.sessions() as session:
        (assignment,) = session.scalars(
            select(MeterAssignment).where(MeterAssignment.meter_id == meter_id)
        )
        channels = {
            c.id: c.obis
            for c in session.scalars(
                select(Channel).where(
                    Channel.virtual_meter_id == assignment.virtual_meter_id,
                    Channel.kind == "register",
                )
            )
        }
    data = runtime.store.read_registers(
        list(channels), datetime.fromtimestamp(at, UTC), datetime.fromtimestamp(at + 1, UTC)
    )
    return {
        channels[c]: v for c, v in zip(data.channel_ids.tolist(), data.values.tolist(), strict=True)
    }


def _expected(tmp_path: Path, line: str, spec: MeterSpec, obis: list[str]) -> dict[str, float]:
    """What a session of the driver reads from the same telegram (the reference decode)."""
    log = tmp_path / f"{spec.identification}.log"
    log.write_text(line + "\n")
    settings = {"meter_id": spec.identification, "key": meter_key(spec.identification).hex(),
                "listen": "1"}  # fmt: skip
    with WmbusDriver().connect(f"file:{log}", settings) as connection:
        readings = connection.read_registers(obis)
    return {r.obis: r.scaled for r in readings if r.scaled is not None}


@pytest.mark.timeout(60)
def test_received_telegrams_are_stored_through_the_writer(runtime, start_engine, tmp_path, caplog):
    simulator = runtime.plugins.simulators()["wmbus"]()
    with simulator.start(2, options={"interval": "3600", "media": "water,heat"}) as fleet:
        meters = _register(runtime, fleet)
    engine = start_engine(runtime, workers=0, schedule=False, lease=False)
    at = int(time.time()) - 60
    stranger = MeterSpec("39999999", WATER)
    lines = [
        _line(SPECS[0], at, access=10),
        _line(SPECS[1], at, access=20),
        _line(stranger, at, access=1),  # a neighbour's meter: not ours
        _line(SPECS[0], at + 1, access=10),  # the same access number again: a replay
        _line(SPECS[1], at + 2, access=21, key=b"\x01" * 16),  # a wrong key
        "this is not a telegram",
        _line(SPECS[0], at + 5, access=11),
    ]
    line = StreamLine(io.BytesIO(("\n".join(lines) + "\n").encode()), "air.log")
    with caplog.at_level(logging.WARNING, logger="meterhub.acquisition.telegrams"):
        stats = TelegramStream(engine, line).run()
    assert engine.writer is not None and engine.writer.wait_idle(10)
    assert (stats.telegrams, stats.stored, stats.unknown, stats.refused) == (6, 3, 1, 2)
    assert "telegram of meter 32000001 refused" in caplog.text and "replay" in caplog.text.lower()
    assert "telegram of meter 32000002 refused" in caplog.text
    for spec, stamp, text in ((SPECS[0], at, lines[0]), (SPECS[1], at, lines[1]),
                              (SPECS[0], at + 5, lines[6])):  # fmt: skip
        stored = _stored(runtime, meters[spec.identification], stamp)
        assert stored, f"nothing stored for {spec.identification} at {stamp}"
        expected = _expected(tmp_path, text, spec, list(stored))
        assert stored == pytest.approx(expected, rel=1e-12)
    assert _stored(runtime, meters["32000001"], at + 1) == {}
    # the replay state went with the values: a new engine refuses the old telegrams too
    with runtime.sessions() as session:
        state = {(s.meter_id, s.name): s.value for s in session.scalars(select(SessionState))}
    assert state[(meters["32000001"], "last_access_number")] == "11"
    assert state[(meters["32000002"], "last_access_number")] == "20"


def test_a_stream_of_many_telegrams_is_committed_in_batches(runtime, start_engine):
    simulator = runtime.plugins.simulators()["wmbus"]()
    with simulator.start(2, options={"interval": "3600", "media": "water,heat"}) as fleet:
        meters = _register(runtime, fleet)
    commits: list[int] = []

    class Count:
        def batch_committed(self, report) -> None:
            commits.append(report.values_stored)

    from meterhub.acquisition.engine import AcquisitionEngine, EngineOptions

    engine = AcquisitionEngine(
        runtime, options=EngineOptions(workers=0, schedule=False, lease=False),
        observers=[Count()],
    ).start()  # fmt: skip
    try:
        at = int(time.time()) - 3600
        text = "\n".join(_line(SPECS[n % 2], at + n, access=(n // 2 + 1) % 256) for n in range(200))
        stats = TelegramStream(engine, StreamLine(io.BytesIO(text.encode()))).run()
        assert engine.writer is not None and engine.writer.wait_idle(10)
    finally:
        engine.stop()
    assert stats.stored == 200 and stats.refused == 0
    assert 1 <= len(commits) < 200 and sum(commits) == stats.values
    assert _stored(runtime, meters["32000002"], at + 199)


def test_meterhub_wmbus_receive_stores_a_file_and_standard_input(
    runtime, meterhub, database_url, tmp_path
):
    simulator = runtime.plugins.simulators()["wmbus"]()
    with simulator.start(2, options={"interval": "3600", "media": "water,heat"}) as fleet:
        meters = _register(runtime, fleet)
    at = int(time.time()) - 120
    air = tmp_path / "air.log"
    air.write_text("\n".join([_line(SPECS[0], at, 1), _line(SPECS[1], at, 1), "garbage"]) + "\n")
    done = meterhub("wmbus", "receive", f"file:{air}", METERHUB_DATABASE_URL=database_url)
    assert done.returncode == 0, done.stderr
    assert "2 telegrams: 2 stored" in done.stdout and "0 refused" in done.stdout
    assert _stored(runtime, meters["32000002"], at)
    piped = meterhub("wmbus", "receive", "-", input=_line(SPECS[0], at + 9, 2) + "\n",
                     METERHUB_DATABASE_URL=database_url)  # fmt: skip
    assert piped.returncode == 0, piped.stderr
    assert "1 telegrams: 1 stored" in piped.stdout
    assert _stored(runtime, meters["32000001"], at + 9)
    missing = meterhub("wmbus", "receive", f"file:{tmp_path / 'nope'}",
                       METERHUB_DATABASE_URL=database_url)  # fmt: skip
    assert missing.returncode != 0 and "is not a file" in missing.stderr
