"""Meter data through the API and the client: columnar JSON, CSV, Parquet, time zones, flags,
as-of reads, value history, substitutes, recalculation, restore, conflicts, registers."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pytest
from api_helpers import Login, bearer
from flask import Flask

from meterhub.client import ApiError, Client
from meterhub.runtime import Runtime
from meterhub.timeseries import Flag

DAY = datetime(2026, 3, 2, tzinfo=UTC)


@pytest.fixture
def channels(hub: Client, runtime: Runtime) -> list[int]:
    template = hub.create("templates", name="Area")
    element = hub.create("elements", name="Area 1", template_id=template["id"])
    point = hub.create("metering-points", element_id=element["id"], name="P")
    virtual = hub.create("virtual-meters", metering_point_id=point["id"], name="VM")
    ids = [
        hub.create(
            "channels", virtual_meter_id=virtual["id"], obis=obis, interval_minutes=15, unit="Wh"
        )["id"]
        for obis in ("1.8.0", "2.8.0")
    ]
    values = np.vstack([np.arange(96, dtype=np.float64), np.arange(96, dtype=np.float64) * 2])
    values[1, 5] = np.nan
    present = ~np.isnan(values)
    runtime.store.write_intervals(ids, DAY, np.nan_to_num(values), present=present)
    return ids


def test_columnar_json_into_numpy(hub: Client, channels: list[int]) -> None:
    data = hub.intervals(channels, "2026-03-02T00:00", "2026-03-03T00:00")
    assert data.values.shape == (2, 96) and data.interval_minutes == 15
    assert data.values[0, 10] == 10.0 and np.isnan(data.values[1, 5])
    assert data.times()[0] == np.datetime64("2026-03-02T00:00")
    assert list(data.channel_ids) == channels and data.units == ("Wh", "Wh")


def test_the_answer_is_columns_not_objects(app: Flask, admin: Login, channels: list[int]) -> None:
    body = (
        app.test_client()
        .get(
            "/api/v1/meter-data/intervals",
            query_string={
                "channels": f"{channels[0]}",
                "start": "2026-03-02T01:00",
                "end": "2026-03-02T02:00",
                "tz": "Europe/Prague",
            },
            headers=bearer(admin),
        )
        .get_json()
    )
    assert body["start"] == "2026-03-02T01:00:00+01:00"  # wall-clock time in the zone
    assert body["channels"][0]["values"] == [0.0, 1.0, 2.0, 3.0]
    assert body["channels"][0]["flags"] == [0, 0, 0, 0]


def test_csv_and_parquet_for_bulk_reads(
    app: Flask, admin: Login, hub: Client, channels: list[int]
) -> None:
    table = hub.intervals(channels, DAY, datetime(2026, 3, 3, tzinfo=UTC), as_arrow=True)
    assert isinstance(table, pa.Table) and table.num_rows == 192
    assert table.column_names == ["channel_id", "time", "value", "flags"]
    assert table.column("value").null_count == 1
    answer = app.test_client().get(
        "/api/v1/meter-data/intervals",
        query_string={
            "channels": ",".join(map(str, channels)),
            "start": "2026-03-02T00:00",
            "end": "2026-03-02T00:30",
            "format": "csv",
        },
        headers=bearer(admin),
    )
    assert answer.mimetype == "text/csv"
    lines = answer.get_data(as_text=True).splitlines()
    assert lines[0] == '"channel_id","time","value","flags"'
    assert len(lines) == 5


def test_substitutes_history_as_of_and_restore(hub: Client, channels: list[int]) -> None:
    first = channels[0]
    before = datetime.now(UTC)
    report = hub.substitute(
        [first],
        "2026-03-02T00:00:00+00:00",
        [[None, 50.5]],
        reason="meter fault",
        comment="checked on site",
    )
    assert report["normalized_versions"] == 1
    data = hub.intervals([first], DAY, datetime(2026, 3, 2, 1, tzinfo=UTC))
    assert list(data.values[0]) == [0.0, 50.5, 2.0, 3.0]
    assert data.flags[0, 1] & Flag.SUBSTITUTED and data.flags[0, 1] & Flag.MANUAL
    assert data.flags[0, 0] == 0
    history = hub.value_history(first, "2026-03-02T00:15:00+00:00")
    assert [(h["user"], h["reason"], h["old_value"], h["new_value"]) for h in history][-1] == (
        "admin",
        "meter fault",
        1.0,
        50.5,
    )
    old = hub.intervals([first], DAY, datetime(2026, 3, 2, 1, tzinfo=UTC), as_of=before)
    assert old.values[0, 1] == 1.0
    only_edits = hub.intervals(
        [first], DAY, datetime(2026, 3, 2, 1, tzinfo=UTC), flags_any=int(Flag.SUBSTITUTED)
    )
    assert np.isnan(only_edits.values[0, 0]) and only_edits.values[0, 1] == 50.5
    hub.restore([first], DAY, datetime(2026, 3, 3, tzinfo=UTC), before, reason="undo")
    assert hub.intervals([first], DAY, datetime(2026, 3, 2, 1, tzinfo=UTC)).values[0, 1] == 1.0
    actions = [row["action"] for row in hub.list("audit-log", object_type="channel", sort="id")]
    assert actions[-2:] == ["values_edited", "restored"]
    assert {
        row["changed_by"] for row in hub.list("audit-log", object_type="channel", action="restored")
    } == {"admin"}


def test_recalculate_and_raw_layer(hub: Client, channels: list[int]) -> None:
    report = hub.recalculate(channels, DAY, datetime(2026, 3, 3, tzinfo=UTC), reason="new formula")
    assert report["normalized_versions"] == 0  # nothing changed: no new version
    raw = hub.intervals(channels, DAY, datetime(2026, 3, 2, 0, 30, tzinfo=UTC), layer="raw")
    assert raw.conflict is not None and not raw.conflict.any()


def test_bad_meter_data_requests_name_the_field(hub: Client, channels: list[int]) -> None:
    with pytest.raises(ApiError) as refused:
        hub.intervals(channels, DAY, datetime(2026, 3, 3, tzinfo=UTC), tz="Mars/Olympus")
    assert refused.value.status == 422 and refused.value.errors[0]["field"] == "tz"
    with pytest.raises(ApiError) as refused:
        hub.intervals([999999], DAY, datetime(2026, 3, 3, tzinfo=UTC))
    assert refused.value.status == 404
    with pytest.raises(ApiError) as refused:
        hub.request(
            "POST",
            "meter-data/substitutes",
            json={
                "channels": channels,
                "start": DAY.isoformat(),
                "values": [[1.0], [1.0, 2.0]],
                "reason": "x",
            },
        )
    assert (refused.value.status, refused.value.errors[0]["field"]) == (422, "values")


def test_registers_as_arrays(hub: Client, runtime: Runtime) -> None:
    template = hub.create("templates", name="Area")
    element = hub.create("elements", name="Area 1", template_id=template["id"])
    point = hub.create("metering-points", element_id=element["id"], name="P")
    virtual = hub.create("virtual-meters", metering_point_id=point["id"], name="VM")
    channel = hub.create("channels", virtual_meter_id=virtual["id"], obis="1.8.0", kind="register")
    runtime.store.write_registers([channel["id"]], [DAY], np.array([1234.5]))
    data = hub.registers([channel["id"]], DAY, datetime(2026, 3, 3, tzinfo=UTC))
    assert list(data["value"]) == [1234.5]
    assert data["time"][0] == np.datetime64("2026-03-02T00:00")
    table = hub.registers([channel["id"]], DAY, datetime(2026, 3, 3, tzinfo=UTC), as_arrow=True)
    assert table.num_rows == 1


def test_reading_needs_the_meter_data_permission(
    runtime: Runtime, client_for, channels: list[int]
) -> None:
    from api_helpers import make_user

    viewer = make_user(runtime, "viewer", role="Tree", permissions={"channel": ["view"]})
    with pytest.raises(ApiError) as refused:
        client_for(viewer).intervals(channels, DAY, datetime(2026, 3, 3, tzinfo=UTC))
    assert refused.value.status == 403
