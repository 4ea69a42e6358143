from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from meterhub.timeseries import Flag, MeterDataStore

PRAGUE = ZoneInfo("Europe/Prague")
NEW_YORK = ZoneInfo("America/New_York")
JAN = datetime(2026, 1, 1, tzinfo=UTC)


def test_many_channels_round_trip_raw_and_normalized(store: MeterDataStore, channels) -> None:
    ids = channels(5)
    rng = np.random.default_rng(1)
    values = rng.integers(0, 3000, (5, 96 * 3)).astype(float)
    status = np.zeros(values.shape, dtype=np.uint32)
    status[2, 7] = 0x80
    report = store.write_intervals(ids, JAN, values, status)
    assert report.raw_new == values.size
    assert report.raw_blocks_inserted == 15
    assert report.normalized_versions == 15
    raw = store.read_intervals(ids, JAN, JAN + timedelta(days=3), layer="raw")
    assert np.array_equal(raw.values, values)
    assert np.array_equal(raw.flags, status)
    assert not raw.conflict.any()
    norm = store.read_intervals(ids, JAN, JAN + timedelta(days=3))
    assert np.array_equal(norm.values, values)
    assert norm.flags[2, 7] == 0x80  # meter status low byte carried into the flags
    assert norm.units == ("Wh",) * 5
    norm.values[0, 0] = -1.0  # results are the caller's own, writable arrays
    norm.flags[0, 0] = 1
    # a window inside the blocks, in reverse channel order
    part = store.read_intervals(ids[::-1], JAN + timedelta(hours=5), JAN + timedelta(hours=30))
    assert np.array_equal(part.values, values[::-1, 20:120])
    assert part.utc_times()[0] == np.datetime64("2026-01-01T05:00")


def test_per_row_starts_and_gaps(store: MeterDataStore, channels) -> None:
    a, b = channels(2)
    values = np.arange(8, dtype=float).reshape(2, 4) + 1
    present = np.array([[True, False, True, True], [True, True, True, True]])
    starts = [JAN + timedelta(hours=23, minutes=30), JAN + timedelta(hours=1)]
    store.write_intervals([a, b], starts, values, present=present)
    data = store.read_intervals([a, b], JAN, JAN + timedelta(days=2))
    assert np.count_nonzero(data.present[0]) == 3
    assert data.values[0, 94] == 1 and np.isnan(data.values[0, 95]) and data.values[0, 97] == 4
    assert list(data.values[1, 4:8]) == [5, 6, 7, 8]


@pytest.mark.parametrize(
    ("zone", "day", "slots"),
    [
        ("Europe/Prague", date(2026, 3, 29), 92),
        ("Europe/Prague", date(2026, 10, 25), 100),
        ("America/New_York", date(2026, 3, 8), 92),
        ("America/New_York", date(2026, 11, 1), 100),
    ],
)
def test_dst_days_write_and_read(store: MeterDataStore, channels, zone, day, slots) -> None:
    (cid,) = channels(1)
    values = np.arange(slots, dtype=float).reshape(1, slots)
    store.write_local_days([cid], day, values, tz=zone)
    data = store.read_local_days([cid], day, tz=zone)
    assert data.slots == slots
    assert np.array_equal(data.values, values)
    local = data.local_times()
    assert local[0] == np.datetime64(f"{day.isoformat()}T00:00")
    assert local[-1] == np.datetime64(f"{day.isoformat()}T23:45")
    stamps = data.timestamps()
    assert len(stamps) == slots
    assert len({s.astimezone(UTC) for s in stamps}) == slots  # every instant distinct
    offsets = data.utc_offsets()
    assert len(np.unique(offsets)) == 2  # the day changes its offset
    # the neighbouring days still have 96 slots and do not overlap
    before = store.read_local_days([cid], day - timedelta(days=1), tz=zone)
    assert before.slots == 96 and not before.present.any()


def test_autumn_hour_twice_is_two_distinct_slots(store: MeterDataStore, channels) -> None:
    (cid,) = channels(1)
    day = date(2026, 10, 25)
    values = np.arange(100, dtype=float)
    store.write_local_days([cid], day, values, tz="Europe/Prague")
    data = store.read_local_days([cid], day, tz="Europe/Prague")
    local = data.local_times()
    two_thirty = np.flatnonzero(local == np.datetime64("2026-10-25T02:30"))
    assert len(two_thirty) == 2
    assert list(data.values[0, two_thirty]) == [10.0, 14.0]
    first, second = (data.timestamps()[i] for i in two_thirty)
    assert first.utcoffset() == timedelta(hours=2) and second.utcoffset() == timedelta(hours=1)


def test_end_labels(store: MeterDataStore, channels) -> None:
    (cid,) = channels(1)
    # the value labelled 00:15 (end) is the energy of 00:00-00:15
    store.write_intervals([cid], JAN + timedelta(minutes=15), [[1.0, 2.0]], label="end")
    by_start = store.read_intervals([cid], JAN, JAN + timedelta(minutes=30))
    assert list(by_start.values[0]) == [1.0, 2.0]
    by_end = store.read_intervals(
        [cid], JAN + timedelta(minutes=15), JAN + timedelta(minutes=45), label="end"
    )
    assert list(by_end.values[0]) == [1.0, 2.0]
    assert by_end.utc_times()[0] == np.datetime64("2026-01-01T00:15")


@pytest.mark.parametrize("interval", [1, 5, 10, 30, 60])
def test_other_intervals(store: MeterDataStore, channels, interval: int) -> None:
    (cid,) = channels(1, interval=interval)
    per_day = 1440 // interval
    values = np.arange(per_day * 2, dtype=float).reshape(1, -1)
    start = JAN + timedelta(minutes=interval * 3)
    store.write_intervals([cid], start, values)
    data = store.read_intervals([cid], start, start + timedelta(minutes=interval * per_day * 2))
    assert np.array_equal(data.values, values)


def test_daily_values_are_keyed_by_local_date(store: MeterDataStore, channels) -> None:
    (cid,) = channels(1, interval=1440, unit="kWh")
    start = datetime(2026, 3, 20, tzinfo=PRAGUE)
    values = np.arange(1, 41, dtype=float).reshape(1, 40)
    store.write_intervals([cid], start, values, tz=PRAGUE)
    data = store.read_intervals(
        [cid], datetime(2026, 3, 28, tzinfo=PRAGUE), datetime(2026, 4, 1, tzinfo=PRAGUE), tz=PRAGUE
    )
    assert list(data.values[0]) == [9.0, 10.0, 11.0, 12.0]
    stamps = data.timestamps()
    assert [s.hour for s in stamps] == [0, 0, 0, 0]
    assert stamps[2] - stamps[1] == timedelta(days=1)
    assert stamps[2].astimezone(UTC) - stamps[1].astimezone(UTC) == timedelta(hours=23)
    one = store.read_local_days([cid], date(2026, 3, 29), tz="Europe/Prague")
    assert one.slots == 1 and one.values[0, 0] == 10.0


def test_partial_writes_fill_in_and_identical_rereads_are_no_ops(
    store: MeterDataStore, channels
) -> None:
    (cid,) = channels(1)
    store.write_intervals([cid], JAN, [[1.0, 2.0]])
    report = store.write_intervals([cid], JAN + timedelta(minutes=30), [[3.0, 4.0]])
    assert report.raw_blocks_updated == 1 and report.raw_new == 2
    again = store.write_intervals([cid], JAN, [[1.0, 2.0, 3.0, 4.0]])
    assert again.raw_new == 0 and again.raw_identical == 4 and again.normalized_versions == 0
    data = store.read_intervals([cid], JAN, JAN + timedelta(hours=1))
    assert list(data.values[0]) == [1.0, 2.0, 3.0, 4.0]
    assert len(store.versions(cid, JAN, JAN + timedelta(days=1))) == 2


def test_conflicting_reread_keeps_the_first_value_and_records_a_conflict(
    store: MeterDataStore, channels
) -> None:
    (cid,) = channels(1)
    store.write_intervals([cid], JAN, [[1.0, 2.0, 3.0]], [[0, 0, 0]])
    report = store.write_intervals([cid], JAN, [[1.0, 5.0, 3.0, 7.0]], [[0, 0, 4, 0]])
    assert report.conflicts == 2 and report.raw_new == 1 and report.raw_identical == 1
    raw = store.read_intervals([cid], JAN, JAN + timedelta(hours=1), layer="raw")
    assert list(raw.values[0]) == [1.0, 2.0, 3.0, 7.0]  # raw never overwritten
    assert list(raw.conflict[0]) == [False, True, True, False]
    records = store.conflicts([cid], JAN, JAN + timedelta(hours=1))
    assert len(records) == 2
    assert list(records.values) == [5.0, 3.0] and list(records.stored_values) == [2.0, 3.0]
    assert list(records.status) == [0, 4]
    assert records.times[0] == np.datetime64("2026-01-01T00:15")
    norm = store.read_intervals([cid], JAN, JAN + timedelta(hours=1))
    assert list(norm.values[0]) == [1.0, 2.0, 3.0, 7.0]
    assert list((norm.flags[0] & Flag.CONFLICT) != 0) == [False, True, True, False]
    # the same differing re-read again adds no second record
    store.write_intervals([cid], JAN, [[1.0, 5.0]])
    assert len(store.conflicts([cid], JAN, JAN + timedelta(hours=1))) == 2
