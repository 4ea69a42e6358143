from datetime import UTC, datetime, timedelta

import numpy as np

from meterhub.timeseries import Formula, MeterDataStore

JAN = datetime(2026, 1, 1, tzinfo=UTC)


def test_registers_round_trip_normalize_and_conflicts(store: MeterDataStore, channels) -> None:
    a, b = channels(2, kind="register", unit="Wh", obis="1-0:1.8.0*255")
    store.define_formula(Formula("to kWh", target_unit="kWh"))
    store.assign_formula("to kWh", [a])
    times = np.array(["2026-01-01T00:00", "2026-01-02T00:00", "2026-01-01T00:00"], "datetime64[us]")
    report = store.write_registers(
        [a, a, b],
        times,
        [1_234_567.0, 1_240_000.0, 10.0],
        [0, 8, 0],
        capture_times=[None, JAN + timedelta(hours=5), None],
    )
    assert report.raw_new == 3
    data = store.read_registers([a, b], JAN, JAN + timedelta(days=2))
    assert data.channel_ids.tolist() == [a, a, b]
    assert data.values.tolist() == [1_234_567.0, 1_240_000.0, 10.0]
    assert data.normalized.tolist() == [1234.567, 1240.0, 10.0]
    assert data.status.tolist() == [0, 8, 0]
    assert data.times[1] == np.datetime64("2026-01-02T00:00")
    assert data.capture_times[1] == np.datetime64("2026-01-01T05:00")
    assert data.units == {a: "kWh", b: "Wh"}
    again = store.write_registers(
        [a, a], [JAN, JAN + timedelta(days=1)], [1_234_567.0, 5.0], [0, 8]
    )
    assert (again.raw_new, again.raw_identical, again.conflicts) == (0, 1, 1)
    assert store.read_registers([a], JAN, JAN + timedelta(days=2)).values.tolist()[1] == 1_240_000
    records = store.conflicts([a], JAN, JAN + timedelta(days=2))
    assert records.values.tolist() == [5.0] and records.stored_values.tolist() == [1_240_000.0]


def test_register_time_in_a_zone(store: MeterDataStore, channels) -> None:
    (cid,) = channels(1, kind="register")
    store.write_registers([cid], [datetime(2026, 3, 29, 0, 0)], [1.0], tz="Europe/Prague")
    data = store.read_registers([cid], JAN, JAN + timedelta(days=100))
    assert data.times[0] == np.datetime64("2026-03-28T23:00")


def test_events(store: MeterDataStore, channels) -> None:
    (log,) = channels(1, kind="event", unit=None, obis="1-0:99.98.0*255")
    times = [JAN, JAN + timedelta(minutes=3), JAN + timedelta(minutes=3)]
    report = store.write_events([log] * 3, times, [1, 2, 17], [None, 230.5, None])
    assert report.raw_new == 3
    again = store.write_events([log], [JAN], [1])
    assert again.raw_new == 0 and again.raw_identical == 1
    data = store.read_events([log], JAN, JAN + timedelta(hours=1))
    assert data.codes.tolist() == [1, 2, 17]
    assert np.isnan(data.values[0]) and data.values[1] == 230.5
    assert data.times[1] == np.datetime64("2026-01-01T00:03")
    assert len(store.read_events([log], JAN + timedelta(minutes=1), JAN + timedelta(hours=1))) == 2


def test_register_versions_as_of_and_history(
    clocked_store: MeterDataStore, channels, clock
) -> None:
    from meterhub.timeseries import Flag

    store = clocked_store
    (cid,) = channels(1, kind="register", unit="Wh", obis="1-0:1.8.0*255")
    store.write_registers([cid], [JAN], [1000.0])
    first = clock.advance(10)
    clock.advance(10)
    report = store.write_register_normalized(
        [cid], [JAN], [990.0], [int(Flag.MANUAL)], user="ann", reason="manual", comment="typo"
    )
    assert report.normalized_versions == 1
    second = clock.advance(10)
    clock.advance(10)
    store.write_registers([cid], [JAN], [1001.0])  # a differing re-read: conflict
    window = (JAN, JAN + timedelta(days=1))
    now = store.read_registers([cid], *window)
    assert now.values.tolist() == [1000.0]  # raw never changes
    assert now.normalized.tolist() == [990.0]
    assert int(now.flags[0]) == Flag.MANUAL | Flag.CONFLICT
    assert store.read_registers([cid], *window, as_of=first).normalized.tolist() == [1000.0]
    assert store.read_registers([cid], *window, as_of=second).normalized.tolist() == [990.0]
    before = store.read_registers([cid], *window, as_of=datetime(2026, 6, 1, 11, tzinfo=UTC))
    assert len(before) == 0
    history = store.register_history(cid, JAN)
    assert [(h.old_value, h.new_value, h.user, h.reason) for h in history] == [
        (None, 1000.0, "acquisition", "ingest"),
        (1000.0, 990.0, "ann", "manual"),
        (990.0, 990.0, "acquisition", "ingest"),
    ]
    assert history[2].new_flags == Flag.MANUAL | Flag.CONFLICT


def test_register_substitute_for_a_missing_reading_is_refused(
    store: MeterDataStore, channels
) -> None:
    import pytest

    from meterhub.errors import InvalidValue

    (cid,) = channels(1, kind="register")
    with pytest.raises(InvalidValue, match="no reading") as info:
        store.write_register_normalized([cid], [JAN], [1.0], user="ann", reason="manual")
    assert info.value.field == "times"
