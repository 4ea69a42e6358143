"""The store fires ``readings_stored`` and ``values_edited`` into a real plugin host, after the
commit, once per transaction, and never for a write that was refused or rolled back."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from meterhub import hookimpl
from meterhub.config import load_settings
from meterhub.errors import InvalidValue
from meterhub.timeseries import Flag, Formula, MeterDataStore

JAN = datetime(2026, 1, 1, tzinfo=UTC)
QUARTER = timedelta(minutes=15)


def test_ingest_fires_readings_stored_after_the_commit(
    notifying_store: MeterDataStore, channels, listener
) -> None:
    ids = channels(3)
    notifying_store.write_intervals(ids, JAN + QUARTER, np.ones((3, 8)))
    assert listener.calls == [
        (
            "readings_stored",
            {
                "channel_ids": tuple(sorted(ids)),
                "start": JAN + QUARTER,
                "end": JAN + 9 * QUARTER,
                "kind": "raw",
            },
        )
    ]
    start = listener.calls[0][1]["start"]
    assert start.tzinfo is not None and start.utcoffset() == timedelta(0)


def test_only_what_changed_is_reported(notifying_store: MeterDataStore, channels, listener) -> None:
    a, b = channels(2)
    notifying_store.write_intervals([a, b], JAN, np.ones((2, 4)))
    listener.calls.clear()
    # a re-reads identically, b gets two new slots at the end and one differing re-read
    values = np.ones((2, 6))
    values[1, 1] = 5.0
    present = np.ones((2, 6), dtype=bool)
    present[0, 4:] = False
    notifying_store.write_intervals([a, b], JAN, values, present=present)
    assert listener.calls == [
        (
            "readings_stored",
            {"channel_ids": (b,), "start": JAN + QUARTER, "end": JAN + 6 * QUARTER, "kind": "raw"},
        )
    ]
    listener.calls.clear()
    notifying_store.write_intervals([a, b], JAN, np.ones((2, 4)))  # nothing new at all
    assert listener.calls == []


def test_refused_writes_fire_nothing(
    notifying_store: MeterDataStore, channels, listener, clock
) -> None:
    (cid,) = channels(1)
    with pytest.raises(InvalidValue):
        notifying_store.write_intervals([cid], JAN, [[1.0, np.nan]])
    notifying_store.define_formula(Formula("x40", ct=(200, 5)))
    notifying_store.assign_formula("x40", [cid])
    with pytest.raises(InvalidValue, match="beyond the range"):
        notifying_store.write_intervals([cid], JAN, [[1.0, 1e308]])
    with pytest.raises(InvalidValue):
        notifying_store.write_normalized([cid], JAN, [[1.0]], user="", reason="manual")
    assert listener.calls == []


def test_a_rolled_back_unit_of_work_fires_nothing(
    notifying_store: MeterDataStore, channels, listener
) -> None:
    a, b = channels(2)
    with pytest.raises(RuntimeError, match="caller gave up"):
        with notifying_store.unit_of_work() as uow:
            uow.write_intervals([a], JAN, np.ones((1, 4)))
            uow.write_normalized([b], JAN, [[1.0]], user="ann", reason="manual")
            raise RuntimeError("caller gave up")
    assert listener.calls == []
    assert not notifying_store.read_intervals([a, b], JAN, JAN + QUARTER * 4).present.any()


def test_unit_of_work_fires_once_after_commit_merged(
    notifying_store: MeterDataStore, channels, listener
) -> None:
    meter_1, meter_2 = channels(2), channels(2)
    with notifying_store.unit_of_work() as uow:
        uow.write_intervals(meter_1, JAN, np.ones((2, 96)))
        uow.write_intervals(meter_2, JAN, np.ones((2, 96)))
        uow.write_intervals(meter_1[:1], JAN + timedelta(days=1), np.ones((1, 4)))
        assert listener.calls == []  # nothing before the commit
    assert listener.calls == [
        (
            "readings_stored",
            {
                "channel_ids": tuple(sorted([meter_1[1], *meter_2])),
                "start": JAN,
                "end": JAN + timedelta(days=1),
                "kind": "raw",
            },
        ),
        (
            "readings_stored",
            {
                "channel_ids": (meter_1[0],),
                "start": JAN,
                "end": JAN + timedelta(days=1, hours=1),
                "kind": "raw",
            },
        ),
    ]


def test_edits_fire_values_edited_per_channel(
    notifying_store: MeterDataStore, channels, listener, clock
) -> None:
    a, b = channels(2)
    notifying_store.write_intervals([a, b], JAN, np.ones((2, 8)))
    before = clock.advance(10)
    clock.advance(10)
    listener.calls.clear()
    where = np.zeros((2, 8), dtype=bool)
    where[0, 2:4] = True
    where[1, 6] = True
    notifying_store.write_normalized(
        [a, b], JAN, np.full((2, 8), 3.0), where=where, user="ann", reason="typo"
    )
    assert listener.calls == [
        (
            "values_edited",
            {
                "channel_id": a,
                "start": JAN + 2 * QUARTER,
                "end": JAN + 4 * QUARTER,
                "user": "ann",
                "reason": "typo",
            },
        ),
        (
            "values_edited",
            {
                "channel_id": b,
                "start": JAN + 6 * QUARTER,
                "end": JAN + 7 * QUARTER,
                "user": "ann",
                "reason": "typo",
            },
        ),
    ]
    listener.calls.clear()
    clock.advance(10)
    notifying_store.restore([a], JAN, JAN + 8 * QUARTER, before, user="bob", comment="undo")
    assert listener.calls == [
        (
            "values_edited",
            {
                "channel_id": a,
                "start": JAN + 2 * QUARTER,
                "end": JAN + 4 * QUARTER,
                "user": "bob",
                "reason": "restore",
            },
        )
    ]
    listener.calls.clear()
    notifying_store.define_formula(Formula("x2", ct=(10, 5)))
    notifying_store.assign_formula("x2", [b])
    notifying_store.recalculate([a, b], JAN, JAN + 8 * QUARTER, user="carl", keep_edits=False)
    assert listener.calls == [
        (
            "values_edited",
            {
                "channel_id": b,
                "start": JAN,
                "end": JAN + 8 * QUARTER,
                "user": "carl",
                "reason": "recalculation",
            },
        )
    ]


def test_validation_and_estimation_fire_readings_stored_of_their_kind(
    notifying_store: MeterDataStore, channels, listener
) -> None:
    a, b = channels(2)
    notifying_store.write_intervals([a, b], JAN, np.ones((2, 4)))
    listener.calls.clear()
    flags = np.full((2, 4), int(Flag.VALIDATED), dtype=np.uint32)
    notifying_store.write_normalized(
        [a, b], JAN, flags=flags, user="vee", reason="validation", kind="validated"
    )
    notifying_store.write_normalized(
        [a],
        JAN + 4 * QUARTER,
        [[2.0]],
        [[int(Flag.ESTIMATED)]],
        user="vee",
        reason="estimation",
        kind="estimated",
    )
    assert [(name, args["kind"], args["channel_ids"]) for name, args in listener.calls] == [
        ("readings_stored", "validated", tuple(sorted([a, b]))),
        ("readings_stored", "estimated", (a,)),
    ]
    with pytest.raises(InvalidValue, match="must be one of") as info:
        notifying_store.write_normalized([a], JAN, [[1.0]], user="u", reason="r", kind="typo")
    assert info.value.field == "kind"


class BrokenListener:
    """A plugin whose event hook raises."""

    @hookimpl
    def readings_stored(self) -> None:
        raise RuntimeError("listener bug")


def test_a_listener_that_raises_does_not_undo_the_write(
    engine, session_factory, channels, listener, make_host, caplog
) -> None:
    host = make_host(BrokenListener(), listener)
    store = MeterDataStore(engine, notify=host.notify)
    (cid,) = channels(1)
    store.write_intervals([cid], JAN, np.ones((1, 4)))
    assert store.read_intervals([cid], JAN, JAN + 4 * QUARTER).present.all()
    assert [name for name, _ in listener.calls] == ["readings_stored"]
    assert "listener bug" in caplog.text


def test_a_sink_that_raises_is_logged_and_the_write_stays(
    engine, session_factory, channels, caplog
) -> None:
    def sink(event: str, **arguments: object) -> None:
        raise TypeError("sink bug")

    store = MeterDataStore(engine, notify=sink)
    (cid,) = channels(1)
    report = store.write_intervals([cid], JAN, np.ones((1, 4)))
    assert report.raw_new == 4
    assert store.read_intervals([cid], JAN, JAN + 4 * QUARTER).present.all()
    assert "sink bug" in caplog.text


def test_runtime_builds_its_store_with_the_plugin_host(
    engine, session_factory, plugin_host, listener, channels, tmp_path
) -> None:
    from meterhub.runtime import Runtime

    runtime = Runtime(
        load_settings(data_dir=tmp_path),
        license=None,  # type: ignore[arg-type]  # the store needs none
        engine=engine,
        sessions=session_factory,
        plugins=plugin_host,
    )
    assert runtime.store is runtime.store
    (cid,) = channels(1)
    runtime.store.write_intervals([cid], JAN, np.ones((1, 4)))
    assert listener.calls == [
        (
            "readings_stored",
            {"channel_ids": (cid,), "start": JAN, "end": JAN + 4 * QUARTER, "kind": "raw"},
        )
    ]
