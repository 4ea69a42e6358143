from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from meterhub.errors import InvalidValue
from meterhub.timeseries import MeterDataStore

JAN = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = JAN + timedelta(hours=1)


def _history(store: MeterDataStore, channels, clock) -> tuple[int, list[datetime]]:
    (cid,) = channels(1)
    store.write_intervals([cid], JAN, [[1.0, 2.0]])
    times = [clock.advance(10)]
    for value in (5.0, 6.0, 7.0):
        clock.advance(10)
        store.write_normalized([cid], JAN, [[value]], user="u", reason="manual")
        times.append(clock.advance(10))
    return cid, times


def test_archive_keeps_as_of_working(clocked_store: MeterDataStore, channels, clock) -> None:
    store = clocked_store
    cid, times = _history(store, channels, clock)
    moved = store.prune_versions(times[2])
    assert moved == 2  # versions 1 and 2 were replaced before the horizon
    versions = store.versions(cid, JAN, HOUR)
    assert [(v.version, v.archived) for v in versions] == [
        (1, True),
        (2, True),
        (3, False),
        (4, False),
    ]
    assert store.read_intervals([cid], JAN, HOUR, as_of=times[0]).values[0, 0] == 1.0
    assert store.read_intervals([cid], JAN, HOUR, as_of=times[3]).values[0, 0] == 7.0
    assert store.read_intervals([cid], JAN, HOUR).values[0, 0] == 7.0
    assert [h.new_value for h in store.value_history(cid, JAN)] == [1.0, 5.0, 6.0, 7.0]


def test_drop_keeps_raw_and_current(clocked_store: MeterDataStore, channels, clock) -> None:
    store = clocked_store
    cid, times = _history(store, channels, clock)
    assert store.prune_versions(times[3], archive=False) == 3
    assert [v.version for v in store.versions(cid, JAN, HOUR)] == [4]
    assert store.read_intervals([cid], JAN, HOUR).values[0, :2].tolist() == [7.0, 2.0]
    raw = store.read_intervals([cid], JAN, HOUR, layer="raw")
    assert raw.values[0, :2].tolist() == [1.0, 2.0]
    with pytest.raises(InvalidValue, match="dropped by retention") as info:
        store.read_intervals([cid], JAN, HOUR, as_of=times[0])
    assert info.value.field == "as_of"
    assert store.read_intervals([cid], JAN, HOUR, as_of=times[3]).values[0, 0] == 7.0
    assert np.isfinite(store.read_intervals([cid], JAN, HOUR, as_of=clock.now).values[:, :2]).all()


def test_horizon_in_the_future_is_refused(clocked_store: MeterDataStore, clock) -> None:
    with pytest.raises(InvalidValue, match="future"):
        clocked_store.prune_versions(clock.now + timedelta(days=1))
