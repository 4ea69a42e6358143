"""Concurrent writers: serialized by the write lock (SQLite) or by the row locks of their
channels (PostgreSQL), so no merge is based on a state another writer is changing."""

import threading
import time
from datetime import UTC, datetime, timedelta

import numpy as np

from meterhub.errors import Conflict
from meterhub.timeseries import MeterDataStore
from meterhub.timeseries.sql import Runner

JAN = datetime(2026, 1, 1, tzinfo=UTC)


def test_concurrent_writers_never_corrupt_a_block(store: MeterDataStore, channels) -> None:
    ids = channels(20)
    results: list[object] = []
    barrier = threading.Barrier(2)

    def writer(value: float) -> None:
        own = MeterDataStore(store.engine)
        barrier.wait()
        try:
            results.append(own.write_intervals(ids, JAN, np.full((20, 96 * 2), value)))
        except Conflict as error:
            results.append(error)

    threads = [threading.Thread(target=writer, args=(v,)) for v in (1.0, 2.0)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2
    assert not any(isinstance(r, Conflict) for r in results)
    raw = store.read_intervals(ids, JAN, datetime(2026, 1, 3, tzinfo=UTC), layer="raw")
    # one writer's values everywhere; the other's are identical re-reads or conflicts
    assert len(np.unique(raw.values)) == 1
    norm = store.read_intervals(ids, JAN, datetime(2026, 1, 3, tzinfo=UTC))
    assert np.array_equal(norm.values, raw.values)
    assert raw.conflict.all()  # the second writer's values became conflict records


QUARTER = timedelta(minutes=15)
HOUR = JAN + timedelta(hours=1)


def pause_inside(monkeypatch, statement: str, thread_name: str, seconds: float) -> threading.Event:
    """Make the thread ``thread_name`` stop for ``seconds`` right after it fetched the rows of
    ``statement`` (once); the event is set when it stops."""
    reached = threading.Event()
    original = Runner.fetch

    def fetch(self, name, params, ids=None):
        rows = original(self, name, params, ids)
        if name == statement and threading.current_thread().name == thread_name:
            if not reached.is_set():
                reached.set()
                time.sleep(seconds)
        return rows

    monkeypatch.setattr(Runner, "fetch", fetch)
    return reached


def run_while_paused(store: MeterDataStore, action, statement: str, monkeypatch, write) -> None:
    """Run ``action(own_store)`` in a thread that pauses after reading ``statement``; while it
    is paused, ``write(other_store)`` stores new raw values from this thread."""
    reached = pause_inside(monkeypatch, statement, "editor", 0.5)
    errors: list[BaseException] = []

    def edit() -> None:
        try:
            action(MeterDataStore(store.engine))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    thread = threading.Thread(target=edit, name="editor")
    thread.start()
    try:
        assert reached.wait(10), "the editor never read"
        write(MeterDataStore(store.engine))  # waits for the editor's lock, then merges
    finally:
        thread.join()
    assert not errors, errors


def test_recalculate_never_blanks_raw_stored_while_it_runs(
    store: MeterDataStore, channels, monkeypatch
) -> None:
    (cid,) = channels(1)
    store.write_intervals([cid], JAN, [[1.0, 2.0]])  # two of the hour's four slots
    run_while_paused(
        store,
        lambda own: own.recalculate([cid], JAN, HOUR, user="ann", keep_edits=False),
        "raw_blocks",
        monkeypatch,
        lambda other: other.write_intervals([cid], JAN + 2 * QUARTER, [[3.0, 4.0]]),
    )
    assert store.read_intervals([cid], JAN, HOUR, layer="raw").values.tolist() == [[1, 2, 3, 4]]
    assert store.read_intervals([cid], JAN, HOUR).values.tolist() == [[1, 2, 3, 4]]


def test_restore_never_blanks_raw_stored_while_it_runs(
    store: MeterDataStore, channels, monkeypatch
) -> None:
    (cid,) = channels(1)
    store.write_intervals([cid], JAN, [[1.0, 2.0]])
    time.sleep(0.01)
    good = datetime.now(UTC)
    time.sleep(0.01)
    store.write_normalized([cid], JAN, [[9.0]], user="bob", reason="manual")
    run_while_paused(
        store,
        lambda own: own.restore([cid], JAN, HOUR, good, user="ann"),
        "norm_as_of_read",
        monkeypatch,
        lambda other: other.write_intervals([cid], JAN + 2 * QUARTER, [[3.0, 4.0]]),
    )
    assert store.read_intervals([cid], JAN, HOUR).values.tolist() == [[1, 2, 3, 4]]
    assert [v.user for v in store.versions(cid, JAN, HOUR)] == [
        "acquisition",
        "bob",
        "ann",
        "acquisition",
    ]


def test_concurrent_units_of_work_on_the_same_meters_all_land(
    store: MeterDataStore, channels
) -> None:
    """Four units of work fill different slots of the same two channels' blocks at once: every
    slot lands (no lost update of a raw block, no lost normalized version)."""
    ids = channels(2)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def unit(part: int) -> None:
        own = MeterDataStore(store.engine)
        barrier.wait()
        try:
            for _ in range(3):
                own.run_unit_of_work(
                    lambda uow: uow.write_intervals(
                        ids[::-1] if part % 2 else ids,
                        JAN + part * 24 * QUARTER,
                        np.full((2, 24), float(part + 1)),
                    )
                )
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=unit, args=(part,)) for part in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    expected = np.repeat(np.arange(1.0, 5.0), 24)
    day = store.read_intervals(ids, JAN, JAN + timedelta(days=1), layer="raw")
    assert np.array_equal(day.values, np.stack([expected, expected]))
    assert not day.conflict.any()
    normalized = store.read_intervals(ids, JAN, JAN + timedelta(days=1))
    assert np.array_equal(normalized.values, day.values)


def test_a_read_sees_one_snapshot_in_all_its_statements(
    store: MeterDataStore, channels, monkeypatch
) -> None:
    """A raw read paused between its block and its conflict statements: a write committed in
    between (a new slot and a differing re-read) shows in neither or in both."""
    (cid,) = channels(1)
    store.write_intervals([cid], JAN, [[1.0, 2.0]])
    reached = pause_inside(monkeypatch, "raw_blocks", "reader", 0.5)
    seen: list[object] = []

    def read() -> None:
        seen.append(MeterDataStore(store.engine).read_intervals([cid], JAN, HOUR, layer="raw"))

    thread = threading.Thread(target=read, name="reader")
    thread.start()
    try:
        assert reached.wait(10)
        MeterDataStore(store.engine).write_intervals([cid], JAN, [[5.0, 2.0, 3.0]])
    finally:
        thread.join()
    (raw,) = seen
    assert np.array_equal(raw.values, [[1.0, 2.0, np.nan, np.nan]], equal_nan=True)
    assert not raw.conflict.any()  # the conflict recorded meanwhile is not in this snapshot
    after = store.read_intervals([cid], JAN, HOUR, layer="raw")
    assert after.values[0, 2] == 3.0 and after.conflict[0, 0]
