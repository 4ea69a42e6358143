"""Communication statistics through the REST API: a real engine reads meters over main paths
that fail and backup paths that answer, then ``GET /statistics`` answers what the core query
counts, at every level and in hours and days; a user of one data segment sees the rows of
their own virtual meters, devices and paths only and no fleet summary; bad parameters are
refused naming the parameter; a role without the permission gets 403."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_helpers import Login, bearer, make_user
from flask import Flask
from flask.testing import FlaskClient

from meterhub.acquisition.engine import AcquisitionEngine, EngineOptions
from meterhub.acquisition.statistics import communication_statistics, object_names
from meterhub.client import ApiError, Client
from meterhub.config import Settings
from meterhub.db import transaction
from meterhub.inventory import devices, meters
from meterhub.inventory.elements import create_element
from meterhub.inventory.metering import add_channel, create_metering_point, create_virtual_meter
from meterhub.inventory.segments import assign_segment, create_segment
from meterhub.inventory.templates import create_template
from meterhub.runtime import Runtime, build_runtime

START = datetime(2026, 1, 1, tzinfo=UTC)
LEVELS = ("virtual_meter", "device", "path")


@pytest.fixture
def runtime(settings_for: Callable[..., Settings]) -> Iterator[Runtime]:
    """A runtime whose engine writes its results in short batches."""
    runtime = build_runtime(settings_for(acquisition_batch_seconds=0.05))
    yield runtime
    runtime.close()


@pytest.fixture
def acquisition_engine(runtime: Runtime) -> Iterator[AcquisitionEngine]:
    """A real acquisition engine on the API's database."""
    started = AcquisitionEngine(runtime, options=EngineOptions(poll_seconds=0.05)).start()
    yield started
    started.stop()


def _segment(runtime: Runtime, name: str, count: int) -> dict[str, list[int]]:
    """``count`` simulated meters in segment ``name``, each with a main path that loses the
    link and a backup path that answers; returns the ids per level and of the meters."""
    ids: dict[str, list[int]] = {"meter": [], "virtual_meter": [], "device": [], "path": []}
    with transaction(runtime.sessions, user="tester") as session:
        create_template(session, f"{name} site")
        element = create_element(session, template=f"{name} site", name=f"{name} site")
        create_segment(session, name)
        assign_segment(session, element, name)
        for index in range(count):
            point = create_metering_point(session, element=element, name=f"{name} point {index}")
            virtual = create_virtual_meter(session, metering_point=point, name="main")
            add_channel(session, virtual_meter=virtual, obis="1-0:1.29.0", interval_minutes=15)
            meter = meters.create_meter(
                session, manufacturer="Sim", serial_number=f"{name}-{index:03d}",
                driver="simulated", drivers=runtime.plugins.drivers(),
            )  # fmt: skip
            meters.assign_meter(session, virtual, meter, START)
            for priority, settings in enumerate(({"unreachable": "true"}, {}), start=1):
                device = devices.create_device(
                    session, name=f"{name}-{index:03d} modem {priority}", kind="ip",
                    host="127.0.0.1", port=4059,
                )  # fmt: skip
                path = devices.add_path(
                    session, meter, device, priority, address=index + 1, settings=settings
                )
                session.flush()
                ids["device"].append(device.id)
                ids["path"].append(path.id)
            session.flush()
            ids["meter"].append(meter.id)
            ids["virtual_meter"].append(virtual.id)
    return ids


def _call(client: FlaskClient, login: Login, **query: Any) -> tuple[int, Any]:
    answer = client.get("/api/v1/statistics", query_string=query, headers=bearer(login))
    return answer.status_code, answer.get_json(silent=True)


def _run_all(client: FlaskClient, admin: Login, meter_ids: list[int]) -> None:
    """A job reading every meter's clock, run by the engine to its end."""
    job = client.post(
        "/api/v1/jobs",
        json={"name": "clocks", "actions": [{"action": "read_clock"}], "meters": meter_ids},
        headers=bearer(admin),
    ).get_json()
    run = client.post(f"/api/v1/jobs/{job['id']}/runs", headers=bearer(admin)).get_json()
    deadline = time.monotonic() + 60
    while True:
        body = client.get(f"/api/v1/runs/{run['id']}", headers=bearer(admin)).get_json()
        if body["finished_at"] is not None:
            assert body["tasks_succeeded"] == len(meter_ids), body
            return
        assert time.monotonic() < deadline, f"the run did not end: {body}"
        time.sleep(0.05)


@pytest.fixture
def fleet(
    app: Flask, runtime: Runtime, admin: Login, acquisition_engine: AcquisitionEngine
) -> dict[str, dict[str, list[int]]]:
    """Two segments' meters, every one read once by the engine."""
    north, south = _segment(runtime, "North", 2), _segment(runtime, "South", 1)
    _run_all(app.test_client(), admin, north["meter"] + south["meter"])
    return {"north": north, "south": south}


def _expected(runtime: Runtime, level: str, since: datetime, **options: Any) -> list[Any]:
    with runtime.sessions() as session:
        rows = communication_statistics(session, level, since=since, **options)
        names = object_names(session, level, {r.key for r in rows if r.key is not None})
    expected = []
    for row in rows:
        data = row.as_dict()
        data |= {"name": names.get(row.key) if row.key is not None else None,
                 "failed": row.failed, "mean_seconds": row.mean_seconds}  # fmt: skip
        expected.append(data)
    return expected


def test_the_endpoint_answers_what_the_core_counts(
    app: Flask, runtime: Runtime, admin: Login, fleet: dict[str, Any]
) -> None:
    client = app.test_client()
    since = datetime.now(UTC) - timedelta(hours=3)
    status, summary = _call(client, admin, since=since.isoformat())
    assert status == 200, summary
    assert summary["rows"] == _expected(runtime, "summary", since)
    # three meters, each: the main path lost the link, the backup answered after a failover
    totals = summary["rows"]
    assert sum(r["attempts"] for r in totals) == 6
    assert sum(r["successes"] for r in totals) == 3
    assert sum(r["failures"].get("link", 0) for r in totals) == 3
    assert sum(r["backup"] for r in totals) == 3 and sum(r["failovers"] for r in totals) == 3
    for level in LEVELS:
        status, body = _call(client, admin, level=level.replace("_", "-"), since=since.isoformat())
        assert status == 200, body
        assert body["level"] == level
        assert body["rows"] == _expected(runtime, level, since)
        everyone = fleet["north"][level] + fleet["south"][level]
        assert {r["key"] for r in body["rows"]} == set(everyone)
        assert all(r["name"] for r in body["rows"])
    main_path = fleet["north"]["path"][0]
    status, body = _call(client, admin, level="path", key=main_path, since=since.isoformat())
    assert [(r["key"], r["name"], r["failures"]) for r in body["rows"]] == [
        (main_path, "North-000 main", {"link": 1})
    ]
    # days in a zone, and the default period (the last 24 hours)
    status, days = _call(client, admin, bucket="day", zone="Europe/Prague", level="device")
    assert status == 200, days
    assert days["rows"] == _expected(
        runtime, "device", datetime.now(UTC) - timedelta(days=7), bucket="day",
        zone="Europe/Prague",
    )  # fmt: skip
    assert days["rows"][0]["bucket"].endswith(("+01:00", "+02:00"))
    status, recent = _call(client, admin)
    assert recent["rows"] == totals
    # and the Python client
    hub = Client("http://testserver", admin.token, transport=_transport(app))
    assert hub.statistics("virtual-meter", since=since) == _expected(
        runtime, "virtual_meter", since
    )


def _transport(app: Flask) -> Any:
    import httpx

    return httpx.WSGITransport(app=app)


def test_a_segment_user_sees_own_rows_and_no_fleet_summary(
    app: Flask, runtime: Runtime, fleet: dict[str, Any]
) -> None:
    client = app.test_client()
    north = make_user(
        runtime, "nora", role="Statistics", permissions={"statistic": ["view"]},
        segments=["North"],
    )  # fmt: skip
    since = (datetime.now(UTC) - timedelta(hours=3)).isoformat()
    for level in LEVELS:
        status, body = _call(client, north, level=level, since=since)
        assert status == 200, body
        assert {r["key"] for r in body["rows"]} == set(fleet["north"][level])
        assert all("South" not in (r["name"] or "") for r in body["rows"])
        # an object of the other segment is answered like one without sessions
        status, body = _call(client, north, level=level, key=fleet["south"][level][0], since=since)
        assert (status, body["rows"]) == (200, [])
    status, body = _call(client, north, since=since)
    assert status == 403 and "all_segments" in body["detail"], body
    # a bad summary query is still a bad query
    status, body = _call(client, north, bucket="week")
    assert status == 422
    # with all_segments the summary is there
    everywhere = make_user(
        runtime, "eve", role="Fleet statistics", permissions={"statistic": ["view"]},
        functions=["all_segments"],
    )  # fmt: skip
    status, body = _call(client, everywhere, since=since)
    assert status == 200 and sum(r["attempts"] for r in body["rows"]) == 6


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"level": "meter"}, "level"),
        ({"bucket": "week"}, "bucket"),
        ({"bucket": "day", "zone": "Mars/Olympus"}, "zone"),
        ({"since": "2026-03-01T00:00:00"}, "since"),
        ({"since": "1900-03-01T00:00:00+00:00"}, "since"),
        ({"since": "2026-03-02T00:00:00+00:00", "until": "2026-03-01T00:00:00+00:00"}, "until"),
        ({"key": 0, "level": "path"}, "key"),
        ({"hour": 1}, "hour"),
    ],
)
def test_bad_parameters_are_refused_naming_them(
    app: Flask, admin: Login, query: dict[str, Any], field: str
) -> None:
    status, body = _call(app.test_client(), admin, **query)
    assert status == 422, body
    named = {error["field"].split(".")[-1] for error in body.get("errors", [])}
    assert field in named, body


def test_a_role_without_the_permission_gets_403(app: Flask, runtime: Runtime) -> None:
    reader = make_user(
        runtime, "mia", role="Meters", permissions={"meter": ["view"]}, functions=["all_segments"]
    )
    status, body = _call(app.test_client(), reader)
    assert status == 403, body
    with pytest.raises(ApiError) as refused:
        Client("http://testserver", reader.token, transport=_transport(app)).statistics()
    assert refused.value.status == 403
