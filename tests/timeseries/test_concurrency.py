"""Two writers of the same new blocks at once: serialized by the write lock (SQLite) or the loser
of the race for the unique key retries its whole transaction (PostgreSQL)."""

import threading
from datetime import UTC, datetime

import numpy as np

from meterhub.errors import Conflict
from meterhub.timeseries import MeterDataStore

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
