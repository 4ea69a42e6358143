"""Every refused input leaves the database as it was (all or nothing per call)."""

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from meterhub.errors import InvalidValue
from meterhub.timeseries import Formula, MeterDataStore
from meterhub.timeseries.tables import ALL_TABLES

JAN = datetime(2026, 1, 1, tzinfo=UTC)


def ts_row_counts(engine) -> dict[str, int]:
    from sqlalchemy import func, select

    with engine.connect() as connection:
        return {
            table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in ALL_TABLES
        }


def refused(store: MeterDataStore, action: Callable[[], object], field: str, match: str) -> None:
    before = ts_row_counts(store.engine)
    with pytest.raises(InvalidValue, match=match) as info:
        action()
    assert info.value.field == field
    assert ts_row_counts(store.engine) == before


@pytest.fixture
def pair(store: MeterDataStore, channels) -> list[int]:
    ids = channels(2)
    store.write_intervals(ids, JAN, np.ones((2, 96)))  # something stored already
    return ids


def test_unknown_channel(store: MeterDataStore, pair) -> None:
    refused(
        store,
        lambda: store.write_intervals([pair[0], 987654], JAN, np.ones((2, 4))),
        "channel_ids",
        "unknown channel ids: 987654",
    )
    refused(
        store,
        lambda: store.read_intervals([987654], JAN, JAN + timedelta(hours=1)),
        "channel_ids",
        "unknown",
    )


def test_timestamp_off_the_grid(store: MeterDataStore, pair) -> None:
    refused(
        store,
        lambda: store.write_intervals(pair, JAN + timedelta(minutes=7), np.ones((2, 4))),
        "start",
        "not on the 15-minute grid",
    )
    starts = [JAN + timedelta(days=2), JAN + timedelta(days=2, seconds=1)]
    refused(store, lambda: store.write_intervals(pair, starts, np.ones((2, 4))), "start", "grid")


def test_daily_value_not_at_local_midnight(store: MeterDataStore, channels) -> None:
    (cid,) = channels(1, interval=1440)
    refused(
        store,
        lambda: store.write_intervals([cid], JAN, [[1.0]], tz="Europe/Prague"),
        "start",
        "daily grid",
    )


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf(store: MeterDataStore, pair, bad: float) -> None:
    values = np.ones((2, 8))
    values[1, 5] = bad
    refused(
        store,
        lambda: store.write_intervals(pair, JAN + timedelta(days=1), values),
        "values",
        "not accepted",
    )
    refused(
        store,
        lambda: store.write_normalized(pair, JAN, values, user="u", reason="manual"),
        "values",
        "not accepted",
    )


def test_wrong_block_length(store: MeterDataStore, pair) -> None:
    # 96 values for the spring-forward day in Prague, which has 92 quarter-hours
    refused(
        store,
        lambda: store.write_local_days(
            pair, date(2026, 3, 29), np.ones((2, 96)), tz="Europe/Prague"
        ),
        "values",
        "needs 92 values",
    )
    refused(
        store,
        lambda: store.write_intervals(pair, JAN, np.ones((2, 5)), end=JAN + timedelta(hours=1)),
        "values",
        "wrong block length",
    )
    refused(
        store,
        lambda: store.write_intervals(pair, JAN, np.ones((2, 4)), np.zeros((2, 3), np.uint32)),
        "status",
        "shape",
    )
    refused(store, lambda: store.write_intervals(pair, JAN, np.ones((3, 4))), "values", "one row")


def test_unknown_zone(store: MeterDataStore, pair) -> None:
    refused(
        store,
        lambda: store.write_intervals(pair, JAN, np.ones((2, 4)), tz="Europe/Atlantis"),
        "tz",
        "unknown time zone",
    )
    refused(
        store,
        lambda: store.read_local_days(pair, date(2026, 1, 1), tz="Europe/Atlantis"),
        "tz",
        "unknown time zone",
    )


def test_as_of_in_the_future(store: MeterDataStore, pair) -> None:
    future = datetime.now(UTC) + timedelta(minutes=5)
    refused(
        store,
        lambda: store.read_intervals(pair, JAN, JAN + timedelta(hours=1), as_of=future),
        "as_of",
        "in the future",
    )
    refused(
        store,
        lambda: store.restore(pair, JAN, JAN + timedelta(hours=1), future, user="u"),
        "as_of",
        "in the future",
    )


def test_other_refusals(store: MeterDataStore, pair, channels) -> None:
    (register,) = channels(1, kind="register")
    refused(
        store,
        lambda: store.write_intervals([pair[0], register], JAN, np.ones((2, 4))),
        "channel_ids",
        "not a profile",
    )
    refused(
        store,
        lambda: store.write_intervals([pair[0], pair[0]], JAN, np.ones((2, 4))),
        "channel_ids",
        "twice",
    )
    refused(
        store,
        lambda: store.write_normalized(pair, JAN, np.ones((2, 4)), user="", reason="x"),
        "user",
        "who",
    )
    naive_status = np.full((2, 4), -1)
    refused(
        store,
        lambda: store.write_intervals(pair, JAN, np.ones((2, 4)), naive_status),
        "status",
        "unsigned",
    )
    refused(
        store,
        lambda: store.write_registers([register], [JAN], [float("nan")]),
        "values",
        "not accepted",
    )
    refused(
        store,
        lambda: store.read_intervals(
            pair, JAN, JAN + timedelta(hours=1), tz=ZoneInfo("UTC"), label="middle"
        ),
        "label",
        "start",
    )


# -- normalization overflow, zero slots --------------------------------------------------------


def test_normalized_value_beyond_float64_is_refused(store: MeterDataStore, channels) -> None:
    profile = channels(1)
    register = channels(1, kind="register", obis="1-0:1.8.0*255")
    store.define_formula(Formula("x40", ct=(200, 5)))
    store.assign_formula("x40", profile + register)
    big = np.ones((1, 4))
    big[0, 2] = 1e308
    refused(
        store,
        lambda: store.write_intervals(profile, JAN, big),
        "values",
        rf"channel {profile[0]}: 1e\+308 × 40 is beyond the range of a float64",
    )
    refused(
        store,
        lambda: store.write_registers(register, [JAN], [-1e308]),
        "values",
        "beyond the range",
    )
    # raw * num overflows but the normalized value does not: it is stored
    store.define_formula(Formula("/1000", pulse_constant=1000, pulse_unit="kWh"))
    (small,) = channels(1, unit="imp")
    store.assign_formula("/1000", [small])
    store.write_intervals([small], JAN, [[1e308]])
    assert store.read_intervals([small], JAN, JAN + timedelta(minutes=15)).values[0, 0] == 1e305


def test_recalculation_that_would_overflow_is_refused(store: MeterDataStore, channels) -> None:
    (cid,) = channels(1)
    store.write_intervals([cid], JAN, [[1.0, 1e307]])
    store.define_formula(Formula("x40", ct=(200, 5)))
    store.assign_formula("x40", [cid])
    refused(
        store,
        lambda: store.recalculate([cid], JAN, JAN + timedelta(hours=1), user="ann"),
        "values",
        "beyond the range",
    )
    assert store.read_intervals([cid], JAN, JAN + timedelta(minutes=30)).values.tolist() == [
        [1.0, 1e307]
    ]


def test_a_write_of_zero_slots_is_refused(store: MeterDataStore, pair) -> None:
    refused(store, lambda: store.write_intervals(pair, JAN, np.ones((2, 0))), "values", "no slots")
    refused(
        store,
        lambda: store.write_intervals(pair[:1], JAN, np.ones(0)),
        "values",
        "no slots",
    )
    refused(
        store,
        lambda: store.write_normalized(pair, JAN, np.ones((2, 0)), user="u", reason="r"),
        "values",
        "no slots",
    )
    refused(
        store,
        lambda: store.write_normalized(
            pair, JAN, flags=np.zeros((2, 0), np.uint32), user="u", reason="r"
        ),
        "values",
        "no slots",
    )


# -- wall-clock times a DST change skips or repeats --------------------------------------------


def test_a_wall_clock_time_that_does_not_exist_is_refused(store: MeterDataStore, pair) -> None:
    skipped = datetime(2026, 3, 29, 2, 30)  # Prague jumps from 02:00 to 03:00
    for start in (skipped, np.datetime64("2026-03-29T02:30")):
        refused(
            store,
            lambda start=start: store.write_intervals(
                pair, start, np.ones((2, 2)), tz="Europe/Prague"
            ),
            "start",
            "does not exist in Europe/Prague",
        )
    refused(
        store,
        lambda: store.read_intervals(
            pair, skipped, skipped + timedelta(hours=2), tz="Europe/Prague"
        ),
        "start",
        "does not exist",
    )


def test_an_ambiguous_wall_clock_time_follows_fold_or_is_refused(
    store: MeterDataStore, channels
) -> None:
    (cid,) = channels(1)
    twice = datetime(2026, 10, 25, 2, 30)  # Prague: first at 00:30 UTC, again at 01:30 UTC
    store.write_intervals([cid], twice, [[1.0]], tz="Europe/Prague")  # fold=0: the first
    store.write_intervals([cid], twice.replace(fold=1), [[2.0]], tz="Europe/Prague")
    utc = store.read_intervals(
        [cid], datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 1, 45, tzinfo=UTC)
    )
    assert np.array_equal(utc.values, [[1.0, np.nan, np.nan, np.nan, 2.0]], equal_nan=True)
    refused(
        store,
        lambda: store.write_intervals(
            [cid], np.datetime64("2026-10-25T02:30"), [[3.0]], tz="Europe/Prague"
        ),
        "start",
        "occurs twice in Europe/Prague",
    )


def test_datetime64_is_wall_clock_time_in_tz(store: MeterDataStore, channels) -> None:
    (cid,) = channels(1)
    (register,) = channels(1, kind="register", obis="1-0:1.8.0*255")
    store.write_intervals([cid], np.datetime64("2026-01-01T00:00"), [[5.0]], tz="Europe/Prague")
    utc = store.read_intervals([cid], JAN - timedelta(hours=1), JAN)
    assert np.array_equal(utc.values, [[5.0, np.nan, np.nan, np.nan]], equal_nan=True)  # 23:00Z
    store.write_registers(
        [register], np.array(["2026-07-01T12:00"], "datetime64[us]"), [1.0], tz="Europe/Prague"
    )
    data = store.read_registers([register], JAN, JAN + timedelta(days=365))
    assert data.times[0] == np.datetime64("2026-07-01T10:00")  # summer time: UTC+2
    (daily,) = channels(1, interval=1440, unit="kWh")
    store.write_intervals([daily], np.datetime64("2026-03-29"), [[7.0]], tz="Europe/Prague")
    one = store.read_local_days([daily], date(2026, 3, 29), tz="Europe/Prague")
    assert one.values.tolist() == [[7.0]]


# -- zones whose offset is not whole hours -----------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "offset"), [("Asia/Kolkata", "05:30"), ("Asia/Kathmandu", "05:45")]
)
def test_quarter_hours_work_in_half_and_three_quarter_hour_zones(
    store: MeterDataStore, channels, zone: str, offset: str
) -> None:
    (cid,) = channels(1)
    day = date(2026, 7, 1)
    values = np.arange(96, dtype=float).reshape(1, 96)
    store.write_local_days([cid], day, values, tz=zone)
    data = store.read_local_days([cid], day, tz=zone)
    assert np.array_equal(data.values, values)
    assert data.local_times()[0] == np.datetime64("2026-07-01T00:00")
    assert data.timestamps()[0].isoformat() == f"2026-07-01T00:00:00+{offset}"


@pytest.mark.parametrize(
    ("zone", "interval", "offset"),
    [
        ("Asia/Kolkata", 60, "+05:30"),
        ("Asia/Kathmandu", 60, "+05:45"),
        ("Asia/Kathmandu", 30, "+05:45"),
    ],
)
def test_local_hours_off_the_utc_grid_are_refused_with_the_reason(
    store: MeterDataStore, channels, zone: str, interval: int, offset: str
) -> None:
    (cid,) = channels(1, interval=interval)
    slots = 1440 // interval
    refused(
        store,
        lambda: store.write_local_days([cid], date(2026, 7, 1), np.ones((1, slots)), tz=zone),
        "start",
        rf"is not on the {interval}-minute grid: .* {zone} is UTC\{offset}, so its local "
        rf"{interval}-minute boundaries never lie on that grid",
    )


def test_half_hours_work_in_kolkata(store: MeterDataStore, channels) -> None:
    (cid,) = channels(1, interval=30)
    store.write_local_days([cid], date(2026, 7, 1), np.ones((1, 48)), tz="Asia/Kolkata")
    assert store.read_local_days([cid], date(2026, 7, 1), tz="Asia/Kolkata").present.all()
