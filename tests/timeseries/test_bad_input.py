"""Every refused input leaves the database as it was (all or nothing per call)."""

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from meterhub.errors import InvalidValue
from meterhub.timeseries import MeterDataStore
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
