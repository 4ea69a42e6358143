"""Meters heard on air: every sender of a telegram stream recorded with what came of it, in the
writer's transaction; listed by ``meterhub wmbus heard``; a meter added from the list has its
next telegrams stored."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from meterhub.acquisition.heard import HeardTelegrams, heard_from, list_heard, record_heard
from meterhub.acquisition.telegrams import StreamLine, TelegramStream
from meterhub.credential_keys import open_cipher
from meterhub.db import transaction
from meterhub.demo import populate_demo
from meterhub.model.heard import HeardMeter
from meterhub.model.meters import Meter
from meterhub.plugins.drivers.mbus.simulator.air import build_telegram, meter_key
from meterhub.plugins.drivers.mbus.simulator.model import MANUFACTURER, WATER, MeterSpec
from meterhub.plugins.drivers.mbus.wireless.keys import import_keys, read_key_file

AT = int(datetime(2026, 11, 30, 12, tzinfo=UTC).timestamp())
SPECS = [MeterSpec(f"3200000{n}", WATER) for n in (1, 2, 3, 4)]
KNOWN, WRONG, STRANGER, NOKEY = (s.identification for s in SPECS)


def _add(runtime, endpoints, keyless: tuple[str, ...] = ()) -> dict[str, int]:
    """Meters of ``endpoints`` in the inventory, their keys (but ``keyless``'s) from a key
    file."""
    cipher = open_cipher(runtime.settings.effective_credential_key_file, runtime.sessions)
    bare = [replace(e, settings={k: v for k, v in e.settings.items() if k != "key"})
            for e in endpoints]  # fmt: skip
    rows = "\n".join(
        f"{e.serial};{meter_key(e.serial).hex()}" for e in endpoints if e.serial not in keyless
    )
    with transaction(runtime.sessions, user="tester") as session:
        populate_demo(session, bare, runtime.plugins.drivers(), cipher)
        import_keys(session, cipher, read_key_file(f"meter_id;key\n{rows}".encode()),
                    drivers=runtime.plugins.drivers())  # fmt: skip
        return {m.serial_number: m.id for m in session.scalars(select(Meter))}


def _virtual_meter(runtime, channels) -> int:
    """A virtual meter with the channels a simulated meter offers, served by no meter."""
    from meterhub.inventory.elements import create_element
    from meterhub.inventory.metering import (
        add_channel,
        create_metering_point,
        create_virtual_meter,
    )

    with transaction(runtime.sessions, user="tester") as session:
        element = create_element(session, template="Consumer", name="New neighbour")
        point = create_metering_point(session, element=element, name="Water")
        virtual = create_virtual_meter(session, metering_point=point, name="main")
        for obis, unit, kind in channels:
            add_channel(session, virtual_meter=virtual, obis=obis, kind=kind, unit=unit,
                        interval_minutes=15 if kind == "profile" else None)  # fmt: skip
        return virtual.id


def _line(spec: MeterSpec, at: int, access: int, key: bytes | None = None) -> str:
    telegram = build_telegram(spec, at, access=access, security=5,
                              key=key or meter_key(spec.identification))  # fmt: skip
    return f"{datetime.fromtimestamp(at, UTC):%Y-%m-%dT%H:%M:%SZ} {telegram.hex().upper()}"


def _receive(engine, lines: list[str]):
    line = StreamLine(io.BytesIO(("\n".join(lines) + "\n").encode()), "air.log")
    # one telegram a batch: the rows are added to across many of the writer's transactions
    stats = TelegramStream(engine, line, batch_size=1).run()
    assert engine.writer is not None and engine.writer.wait_idle(10)
    return stats


def _values(runtime, meter_id: int) -> int:
    from meterhub.model.metering import Channel
    from meterhub.model.meters import MeterAssignment

    with runtime.sessions() as session:
        (assignment,) = session.scalars(
            select(MeterAssignment).where(MeterAssignment.meter_id == meter_id)
        )
        channels = list(session.scalars(select(Channel.id).where(
            Channel.virtual_meter_id == assignment.virtual_meter_id, Channel.kind == "register"
        )))  # fmt: skip
    data = runtime.store.read_registers(
        channels, datetime.fromtimestamp(AT - 10, UTC), datetime.fromtimestamp(AT + 100, UTC)
    )
    return len(data.values)


def _cli(runtime, database_url: str, *args: str, code: int = 0) -> str:
    from meterhub.cli import cli

    env = {"METERHUB_DATA_DIR": str(runtime.settings.data_dir),
           "METERHUB_DATABASE_URL": database_url}  # fmt: skip
    result = CliRunner().invoke(cli, ["wmbus", *args], env=env)
    assert result.exit_code == code, result.output
    return result.output


@pytest.mark.timeout(90)
def test_senders_are_recorded_with_their_status_and_listed(
    runtime, start_engine, database_url
) -> None:
    simulator = runtime.plugins.simulators()["wmbus"]()
    with simulator.start(4, options={"interval": "3600", "media": "water"}) as fleet:
        endpoints = {e.serial: e for e in fleet.endpoints}
        assert sorted(endpoints) == [KNOWN, WRONG, STRANGER, NOKEY]
        meters = _add(runtime, [endpoints[s] for s in (KNOWN, WRONG, NOKEY)], keyless=(NOKEY,))
    engine = start_engine(runtime, workers=0, schedule=False, lease=False)
    known, wrong, stranger, nokey = SPECS
    stats = _receive(engine, [
        _line(known, AT, access=10),
        _line(stranger, AT, access=1),  # not in the inventory
        _line(wrong, AT + 1, access=20, key=b"\x01" * 16),  # a wrong key
        _line(nokey, AT + 1, access=7),  # in the inventory, but its key is not
        _line(known, AT + 2, access=10),  # the same access number again: a replay
        _line(stranger, AT + 3, access=2),
        _line(known, AT + 4, access=11),
        _line(known, AT + 5, access=11),  # a replay last
    ])  # fmt: skip
    assert (stats.telegrams, stats.stored, stats.unknown, stats.refused) == (8, 2, 2, 4)
    # values of the known meter only: two telegrams, never the replays nor the wrong key
    assert _values(runtime, meters[KNOWN]) > 0
    assert _values(runtime, meters[WRONG]) == 0 and _values(runtime, meters[NOKEY]) == 0
    with runtime.sessions() as session:
        rows = {
            h.identification: (h.telegrams, h.last_status, h.first_heard, h.last_heard)
            for h in session.scalars(select(HeardMeter))
        }
        (heard,) = session.scalars(select(HeardMeter).where(HeardMeter.identification == KNOWN))
        assert (heard.driver, heard.manufacturer, heard.version, heard.device_type) == (
            "wmbus",
            MANUFACTURER,
            1,
            WATER,
        )
        assert heard.address == f"{MANUFACTURER} {KNOWN} 01 {WATER:02X}"
        assert heard.medium == "water" and heard.source == "air.log" and heard.rssi is None
    at = lambda seconds: datetime.fromtimestamp(AT + seconds, UTC)  # noqa: E731
    assert rows == {
        KNOWN: (4, "replay", at(0), at(5)),
        WRONG: (1, "wrong key", at(1), at(1)),
        NOKEY: (1, "no key", at(1), at(1)),
        STRANGER: (2, "unknown meter", at(0), at(3)),
    }
    with runtime.sessions() as session:
        listed = list_heard(session, unknown_only=True)
    assert [(r.identification, r.meter_id) for r in listed] == [(STRANGER, None)]

    # the command lists them, most recent first, with whether each is in the inventory
    table = _cli(runtime, database_url, "heard").splitlines()
    assert table[0].split()[:3] == ["address", "manufacturer", "identification"]
    assert [line.split()[5] for line in table[1:]] == [KNOWN, STRANGER, WRONG, NOKEY]
    assert "replay" in table[1] and " yes " in table[1]
    assert "unknown meter" in table[2] and " no " in table[2]
    unknown = json.loads(_cli(runtime, database_url, "heard", "--unknown-only", "--json"))
    assert [(u["identification"], u["telegrams"], u["in_inventory"], u["last_status"])
            for u in unknown] == [(STRANGER, 2, False, "unknown meter")]  # fmt: skip
    assert unknown[0]["last_heard"] == at(3).isoformat()

    # added from the list (its key from a key file), the meter's next telegrams are stored
    with simulator.start(4, options={"interval": "3600", "media": "water"}) as fleet:
        (endpoint,) = [e for e in fleet.endpoints if e.serial == STRANGER]
    virtual_meter_id = _virtual_meter(runtime, endpoint.channels)
    vm = str(virtual_meter_id)
    out = _cli(runtime, database_url, "add-heard", "39999999", "--virtual-meter", vm, code=1)
    assert "no meter heard at '39999999'" in out
    out = _cli(runtime, database_url, "add-heard", KNOWN, "--virtual-meter", vm, code=1)
    assert f"meter {KNOWN} is in the inventory already" in out
    out = _cli(runtime, database_url, "add-heard", STRANGER, "--virtual-meter", "999999", code=1)
    assert "no virtual meter 999999" in out
    out = _cli(runtime, database_url, "add-heard", STRANGER, "--virtual-meter",
               str(virtual_meter_id))  # fmt: skip
    assert f"meter {MANUFACTURER} {STRANGER} added" in out
    cipher = open_cipher(runtime.settings.effective_credential_key_file, runtime.sessions)
    with transaction(runtime.sessions, user="tester") as session:
        rows = f"meter_id;key\n{STRANGER};{meter_key(STRANGER).hex()}".encode()
        imported = import_keys(session, cipher, read_key_file(rows),
                               drivers=runtime.plugins.drivers())  # fmt: skip
        assert imported.imported == [STRANGER]
        meters = {m.serial_number: m.id for m in session.scalars(select(Meter))}
        added = session.get(Meter, meters[STRANGER])
        assert added is not None and (added.driver, added.manufacturer) == ("wmbus", MANUFACTURER)
        assert added.driver_settings == {"meter_id": STRANGER, "manufacturer": MANUFACTURER}
    stats = _receive(engine, [_line(stranger, AT + 10, access=3)])
    assert (stats.stored, stats.unknown) == (1, 0)
    assert _values(runtime, meters[STRANGER]) > 0
    assert json.loads(_cli(runtime, database_url, "heard", "--unknown-only", "--json")) == []
    with runtime.sessions() as session:
        (heard,) = session.scalars(select(HeardMeter).where(HeardMeter.identification == STRANGER))
        assert (heard.telegrams, heard.last_status, heard.last_heard) == (3, "stored", at(10))


def test_rows_keep_the_first_time_and_take_the_latest_telegram(runtime, database_url) -> None:
    """Batches add up; a batch of older telegrams (a receiver's log read late) leaves the
    latest status, receiver and signal strength alone."""
    assert _cli(runtime, database_url, "heard").strip() == "no meters heard"
    assert json.loads(_cli(runtime, database_url, "heard", "--json")) == []
    t = lambda seconds: datetime.fromtimestamp(AT + seconds, UTC)  # noqa: E731

    def heard(seconds: int, status: str, **extra) -> HeardTelegrams:
        return HeardTelegrams("wmbus", "MHB 32000009 01 07", "32000009", t(seconds), t(seconds),
                              status, manufacturer="MHB", **extra)  # fmt: skip

    def row() -> tuple:
        with runtime.sessions() as session:
            (h,) = session.scalars(select(HeardMeter))
            return (h.telegrams, h.first_heard, h.last_heard, h.last_status, h.source, h.rssi)

    with runtime.engine.begin() as connection:
        # two of the same sender in one batch are one row
        assert record_heard(connection, [heard(10, "stored", source="a", rssi=-60.0),
                                         heard(5, "wrong key", source="a")]) == 1  # fmt: skip
    assert row() == (2, t(5), t(10), "stored", "a", -60.0)
    with runtime.engine.begin() as connection:
        record_heard(connection, [heard(3, "replay", source="old")])
    assert row() == (3, t(3), t(10), "stored", "a", -60.0)
    with runtime.engine.begin() as connection:
        record_heard(connection, [heard(20, "no key", source="b")])
    assert row() == (4, t(3), t(20), "no key", "b", None)
    with pytest.raises(ValueError, match="not a heard status: 'lost'"):
        heard_from(None, "wmbus", None, "lost")  # type: ignore[arg-type]
