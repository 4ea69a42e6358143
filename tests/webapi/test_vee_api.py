"""VEE through the REST API: validation profiles (created with their steps checked against the
plugins, changed and deleted with ETags), runs of a profile over a period on real stored data,
customer scripts (versions with If-Match, refused sources named, trials on sample data as
``meterhub script test`` does), and roles that may only read."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from api_helpers import Login, bearer, make_user
from flask import Flask
from flask.testing import FlaskClient

from meterhub.client import Client
from meterhub.runtime import Runtime

DAY0 = datetime(2026, 3, 2, tzinfo=UTC)
SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
VEE_TYPES = ["validation_profile", "vee_run", "script"]
SPIKES = [
    {"kind": "check", "name": "spike", "parameters": {"factor": 3, "min_delta": 0.5}},
    {"kind": "estimate", "name": "linear", "parameters": {"max_gap": 8}},
]


def call(
    client: FlaskClient, login: Login, method: str, url: str, **kwargs: Any
) -> tuple[int, Any, Any]:
    """One request as ``login``: (status, JSON body, headers)."""
    headers = {**bearer(login), **kwargs.pop("headers", {})}
    answer = client.open(f"/api/v1/{url}", method=method, headers=headers, **kwargs)
    return answer.status_code, answer.get_json(silent=True), answer.headers


def fields(body: Any) -> dict[str, str]:
    """The wrong fields of a problem document."""
    return {error["field"]: error["reason"] for error in body.get("errors", [])}


@pytest.fixture
def analyst(runtime: Runtime) -> Login:
    """A user who may do everything with VEE objects and read meter data."""
    permissions = {kind: ["view", "create", "edit", "delete"] for kind in VEE_TYPES}
    permissions |= {"channel": ["view"], "meter_data": ["view"]}
    return make_user(
        runtime, "vera", role="Analyst", permissions=permissions, functions=["all_segments"]
    )


@pytest.fixture
def reader(runtime: Runtime) -> Login:
    """A user who may only look."""
    permissions = {kind: ["view"] for kind in VEE_TYPES}
    return make_user(
        runtime, "rita", role="Reader", permissions=permissions, functions=["all_segments"]
    )


def channel_with_a_spike(hub: Client, runtime: Runtime) -> int:
    """A quarter-hour channel with one day of values, one of them a spike."""
    template = hub.create("templates", name="Site")
    element = hub.create("elements", name="site", template_id=template["id"])
    point = hub.create("metering-points", element_id=element["id"], name="point")
    virtual = hub.create("virtual-meters", metering_point_id=point["id"], name="vm")
    channel = hub.create(
        "channels", virtual_meter_id=virtual["id"], obis="1.29.0", interval_minutes=15
    )
    values = 1.0 + 0.1 * np.sin(np.arange(96) / 10.0)
    values[30] = 9.0
    runtime.store.write_intervals([channel["id"]], DAY0, values[None, :])
    return int(channel["id"])


def test_profiles_are_created_changed_and_deleted_with_etags(
    app: Flask, analyst: Login, admin: Login
) -> None:
    client = app.test_client()
    body = {"name": "nightly", "steps": SPIKES, "schedule": "FREQ=DAILY;BYHOUR=2"}
    status, profile, headers = call(client, analyst, "POST", "validation-profiles", json=body)
    assert status == 201, profile
    assert [step["name"] for step in profile["steps"]] == ["spike", "linear"]
    assert profile["lookback_days"] == 3 and profile["enabled"] is True
    url = f"validation-profiles/{profile['id']}"
    status, read, headers = call(client, analyst, "GET", url)
    etag = headers["ETag"]
    status, _, _ = call(client, analyst, "PATCH", url, json={"lookback_days": 7})
    assert status == 428
    new_steps = [*SPIKES[:1], {"kind": "check", "name": "gaps"}, SPIKES[1]]
    status, changed, headers = call(
        client, analyst, "PATCH", url, json={"steps": new_steps, "lookback_days": 7},
        headers={"If-Match": etag},
    )  # fmt: skip
    assert status == 200, changed
    assert [s["name"] for s in changed["steps"]] == ["spike", "gaps", "linear"]
    assert changed["lookback_days"] == 7
    status, _, _ = call(
        client, analyst, "PATCH", url, json={"enabled": False}, headers={"If-Match": etag}
    )
    assert status == 412
    status, page, _ = call(
        client, analyst, "GET", "validation-profiles", query_string={"q": "NIGHT"}
    )
    assert [p["name"] for p in page["items"]] == ["nightly"]
    status, audit, _ = call(
        client, admin, "GET", "audit-log", query_string={"object_type": "vee_profile"}
    )
    assert {row["changed_by"] for row in audit["items"]} == {"vera"}
    status, _, _ = call(client, analyst, "DELETE", url, headers={"If-Match": headers["ETag"]})
    assert status == 204
    status, _, _ = call(client, analyst, "GET", url)
    assert status == 404


def test_bad_profiles_are_refused_naming_the_field(app: Flask, analyst: Login) -> None:
    client = app.test_client()
    good = {"name": "p", "steps": SPIKES}
    cases = [
        ({"steps": [{"kind": "check", "name": "spikee"}]}, "steps[0].name", "spikee"),
        (
            {"steps": [{"kind": "check", "name": "limits", "parameters": {"min": 5, "max": 1}}]},
            "steps[0].parameters",
            "",
        ),
        ({"schedule": "FREQ=SOMETIMES"}, "schedule", "not an RFC 5545 rule"),
        ({"lookback_days": 0}, "lookback_days", ""),
        ({"calendar_id": 99}, "calendar_id", "no calendar"),
        ({"steps": [{"kind": "magic", "name": "x"}]}, "steps.0.kind", ""),
    ]
    for change, field, reason in cases:
        status, body, _ = call(client, analyst, "POST", "validation-profiles", json=good | change)
        assert status == 422, (change, body)
        wrong = fields(body)
        assert any(name.startswith(field) for name in wrong), (change, body)
        assert any(reason in text for text in wrong.values()), (change, body)
    status, page, _ = call(client, analyst, "GET", "validation-profiles")
    assert page["total"] == 0
    status, _, _ = call(client, analyst, "POST", "validation-profiles", json=good)
    status, body, _ = call(client, analyst, "POST", "validation-profiles", json=good)
    assert status == 409


def test_a_profile_runs_over_a_period_on_stored_data(
    app: Flask, runtime: Runtime, hub: Client, analyst: Login
) -> None:
    channel = channel_with_a_spike(hub, runtime)
    client = app.test_client()
    status, profile, _ = call(
        client, analyst, "POST", "validation-profiles", json={"name": "spikes", "steps": SPIKES}
    )
    period = {"start": DAY0.isoformat(), "end": (DAY0 + timedelta(days=1)).isoformat()}
    status, run, _ = call(
        client, analyst, "POST", f"validation-profiles/{profile['id']}/runs",
        json=period | {"channels": [channel]},
    )  # fmt: skip
    assert status == 201, run
    assert run["status"] == "succeeded" and run["user_name"] == "vera"
    assert run["trigger_kind"] == "demand" and run["profile_id"] == profile["id"]
    assert run["channels_total"] == 1 and run["channels_done"] == 1
    assert run["values_checked"] == 96
    assert run["values_estimated"] == 1  # the spike, replaced by interpolation
    assert run["summary"]["by_step"] == {"spike": 1, "linear": 1}
    assert run["period_start"] == "2026-03-02T00:00:00+00:00"
    # the spike was replaced in a new version of the data
    data = hub.get(
        "meter-data/intervals", channels=[channel], start=period["start"], end=period["end"]
    )
    assert data["channels"][0]["values"][30] == pytest.approx(
        (data["channels"][0]["values"][29] + data["channels"][0]["values"][31]) / 2
    )
    status, got, headers = call(client, analyst, "GET", f"vee-runs/{run['id']}")
    assert got == run and headers["ETag"]
    status, listed, _ = call(
        client, analyst, "GET", "vee-runs", query_string={"profile_id": profile["id"]}
    )
    assert [r["id"] for r in listed["items"]] == [run["id"]]
    # bad periods and channels are named
    bad = [
        ({"end": period["start"]}, "end"),
        ({"end": (DAY0 + timedelta(days=500)).isoformat()}, "end"),
        ({"channels": [999_999]}, "channels[0]"),
        ({"start": "yesterday"}, "start"),
    ]
    for change, field in bad:
        status, body, _ = call(
            client, analyst, "POST", f"validation-profiles/{profile['id']}/runs",
            json=period | change,
        )  # fmt: skip
        assert status == 422 and field in fields(body), (change, body)


def test_scripts_get_versions_and_are_tried_on_sample_data(app: Flask, analyst: Login) -> None:
    client = app.test_client()
    source = (SCRIPTS / "spike_check.py").read_text()
    status, script, headers = call(
        client, analyst, "POST", "scripts",
        json={"name": "spikes", "purpose": "check", "source": source, "note": "first"},
    )  # fmt: skip
    assert status == 201, script
    assert script["version"] == 1 and script["source"] == source
    etag = headers["ETag"]
    # a source that does not compile is refused with the line, and nothing is stored
    status, body, _ = call(
        client, analyst, "PATCH", f"scripts/{script['id']}",
        json={"source": "x = (1,\nimport os\n"}, headers={"If-Match": etag},
    )  # fmt: skip
    assert status == 422 and "line" in fields(body)["source"], body
    status, body, _ = call(
        client, analyst, "PATCH", f"scripts/{script['id']}",
        json={"source": "import os\n"}, headers={"If-Match": etag},
    )  # fmt: skip
    assert status == 422 and "source" in fields(body), body
    status, body, _ = call(
        client, analyst, "PATCH", f"scripts/{script['id']}", json={"source": source}
    )
    assert status == 428
    second = source.replace('get("factor", 3.0)', 'get("factor", 2.0)')
    status, saved, _ = call(
        client, analyst, "PATCH", f"scripts/{script['id']}",
        json={"source": second, "note": "lower factor"}, headers={"If-Match": etag},
    )  # fmt: skip
    assert status == 200, saved
    assert saved["version"] == 2 and saved["source"] == second
    status, body, _ = call(
        client, analyst, "PATCH", f"scripts/{script['id']}",
        json={"source": source}, headers={"If-Match": etag},
    )  # fmt: skip
    assert status == 412  # version 2 was saved since that read
    status, versions, _ = call(client, analyst, "GET", f"scripts/{script['id']}/versions")
    assert [(v["version"], v["note"], v["saved_by"]) for v in versions] == [
        (1, "first", "vera"),
        (2, "lower factor", "vera"),
    ]
    status, body, _ = call(client, analyst, "POST", "scripts", json={
        "name": "spikes", "purpose": "check", "source": source})  # fmt: skip
    assert status == 409
    # a trial on sample data: the spike is found, the values come back per slot
    values = [1.0] * 12
    values[5] = 8.0
    values[9] = None
    sample = {"start": "2026-03-02T00:00:00Z", "interval": 15, "values": values,
              "parameters": {"max_value": 5.0}}  # fmt: skip
    status, trial, _ = call(
        client, analyst, "POST", f"scripts/{script['id']}/test", json={"sample": sample}
    )
    assert status == 200, trial
    assert trial["ok"] is True and trial["version"] == 2
    assert trial["suspect"] == [5]
    assert trial["times"][1] == "2026-03-02T00:15:00+00:00"
    assert trial["values"][9] is None
    assert any("above the customer's limit of 5.0" in r for r in trial["reasons"])
    status, first, _ = call(
        client, analyst, "POST", f"scripts/{script['id']}/test",
        json={"sample": sample, "version": 1},
    )  # fmt: skip
    assert first["version"] == 1 and first["ok"] is True
    # a calculation script on the heat sample, as `meterhub script test` reads it
    heat = json.loads((SCRIPTS / "samples" / "heat.json").read_text())
    status, calc, _ = call(client, analyst, "POST", "scripts", json={
        "name": "heat", "purpose": "calculate",
        "source": (SCRIPTS / "heat_energy.py").read_text()})  # fmt: skip
    status, trial, _ = call(client, analyst, "POST", f"scripts/{calc['id']}/test", json={
        "sample": {k: heat[k] for k in ("start", "interval", "inputs") if k in heat}})  # fmt: skip
    assert status == 200 and trial["ok"], trial
    assert len(trial["result"]) == len(heat["inputs"]["flow"])
    assert trial["result"][0] == 0.0 and trial["result"][5] > 0
    # a script that fails at run time is an answer, not an error
    status, broken, _ = call(client, analyst, "POST", "scripts", json={
        "name": "broken", "purpose": "check", "source": "x = 1 / 0\n"})  # fmt: skip
    status, trial, _ = call(
        client, analyst, "POST", f"scripts/{broken['id']}/test", json={"sample": sample}
    )
    assert status == 200 and trial["ok"] is False
    assert "division by zero" in trial["error"] and trial["line"] == 1
    # bad samples are named
    for change, field in [
        ({"interval": 0}, "sample.interval"),
        ({"values": ["x"]}, "sample.values.0"),
        ({"start": "soon"}, "sample.start"),
    ]:
        status, body, _ = call(
            client, analyst, "POST", f"scripts/{script['id']}/test",
            json={"sample": sample | change},
        )  # fmt: skip
        assert status == 422 and field in fields(body), (change, body)
    for extra, field in [({"version": 9}, "version"), ({"tz": "Moon/Base"}, "tz"),
                         ({"country": "XX"}, "country")]:  # fmt: skip
        status, body, _ = call(
            client, analyst, "POST", f"scripts/{script['id']}/test",
            json={"sample": sample, **extra},
        )  # fmt: skip
        assert status == 422 and field in fields(body), (extra, body)


def test_a_reader_sees_but_cannot_change_run_or_try(
    app: Flask, analyst: Login, reader: Login
) -> None:
    client = app.test_client()
    status, profile, _ = call(
        client, analyst, "POST", "validation-profiles", json={"name": "p", "steps": SPIKES}
    )
    status, script, _ = call(client, analyst, "POST", "scripts", json={
        "name": "s", "purpose": "check", "source": "result.note('hi')\n"})  # fmt: skip
    sid = script["id"]
    for url in ["validation-profiles", f"validation-profiles/{profile['id']}", "vee-runs",
                "scripts", f"scripts/{sid}", f"scripts/{sid}/versions"]:  # fmt: skip
        status, body, _ = call(client, reader, "GET", url)
        assert status == 200, (url, body)
    _, _, profile_headers = call(client, reader, "GET", f"validation-profiles/{profile['id']}")
    _, _, script_headers = call(client, reader, "GET", f"scripts/{script['id']}")
    period = {"start": DAY0.isoformat(), "end": (DAY0 + timedelta(days=1)).isoformat()}
    sample = {"start": "2026-03-02T00:00:00Z", "values": [1.0]}
    refused = [
        ("POST", "validation-profiles", {"json": {"name": "x", "steps": SPIKES}}),
        ("PATCH", f"validation-profiles/{profile['id']}",
         {"json": {"lookback_days": 5}, "headers": {"If-Match": profile_headers["ETag"]}}),
        ("DELETE", f"validation-profiles/{profile['id']}",
         {"headers": {"If-Match": profile_headers["ETag"]}}),
        ("POST", f"validation-profiles/{profile['id']}/runs", {"json": period}),
        ("POST", "scripts", {"json": {"name": "x", "purpose": "check", "source": "x = 1\n"}}),
        ("PATCH", f"scripts/{script['id']}",
         {"json": {"source": "x = 2\n"}, "headers": {"If-Match": script_headers["ETag"]}}),
        ("POST", f"scripts/{script['id']}/test", {"json": {"sample": sample}}),
    ]  # fmt: skip
    for method, url, kwargs in refused:
        status, body, _ = call(client, reader, method, url, **kwargs)
        assert status == 403, (method, url, body)


def three_channels(hub: Client) -> list[int]:
    """Three quarter-hour channels of one virtual meter."""
    template = hub.create("templates", name="Station")
    element = hub.create("elements", name="station", template_id=template["id"])
    point = hub.create("metering-points", element_id=element["id"], name="feeder")
    virtual = hub.create("virtual-meters", metering_point_id=point["id"], name="vm")
    return [
        hub.create("channels", virtual_meter_id=virtual["id"], obis=obis, interval_minutes=15)["id"]
        for obis in ("1.29.0", "2.29.0", "3.29.0")
    ]


@pytest.fixture
def calculator(runtime: Runtime) -> Login:
    """A user who may define and run calculations and release data."""
    permissions = {
        kind: ["view", "create", "edit", "delete"]
        for kind in ("calculation", "billing_release", "meter_data", "channel")
    }
    return make_user(
        runtime, "carl", role="Calculator", permissions=permissions, functions=["all_segments"]
    )


def test_calculations_are_defined_versioned_run_and_deleted(
    app: Flask, runtime: Runtime, hub: Client, calculator: Login, reader: Login
) -> None:
    a, b, net = three_channels(hub)
    client = app.test_client()
    body = {"name": "net", "target_channel_id": net, "formula": "a - b",
            "inputs": {"a": a, "b": b}}  # fmt: skip
    status, calc, headers = call(client, calculator, "POST", "calculations", json=body)
    assert status == 201, calc
    assert calc["version"] == 1 and calc["inputs"] == {"a": a, "b": b}
    url = f"calculations/{calc['id']}"
    # bad definitions are named
    cases = [
        ({"name": "x", "formula": "a -"}, "formula"),
        ({"name": "x", "inputs": {"a": a, "b": b, "c": a}}, "inputs.c"),
        ({"name": "x", "inputs": {"a": a, "b": 999_999}}, "inputs.b"),
        ({"name": "x", "target_channel_id": a}, "target"),
        ({"name": "x", "schedule": "nightly"}, "schedule"),
        ({"name": "x", "lookback_days": 0}, "lookback_days"),
    ]
    for change, field in cases:
        status, refused, _ = call(client, calculator, "POST", "calculations", json=body | change)
        assert status in (409, 422) and any(f.startswith(field) for f in fields(refused)), (
            change,
            refused,
        )
    status, refused, _ = call(client, calculator, "POST", "calculations", json=body)
    assert status == 409
    # values stored in the inputs compute the target (here: at once, on readings_stored)
    runtime.store.write_intervals([a, b], DAY0, np.array([[3.0, 5.0], [1.0, 1.5]]))
    status, changed, headers = call(
        client, calculator, "PATCH", url, json={"formula": "a + b"},
        headers={"If-Match": headers["ETag"]},
    )  # fmt: skip
    assert status == 200 and changed["version"] == 2, changed
    assert (changed["schedule"], changed["lookback_days"]) == (None, 1)
    status, changed, headers = call(
        client, calculator, "PATCH", url,
        json={"schedule": "FREQ=DAILY;BYHOUR=3", "lookback_days": 2},
        headers={"If-Match": headers["ETag"]},
    )  # fmt: skip
    assert status == 200, changed
    assert (changed["schedule"], changed["lookback_days"], changed["version"]) == (
        "FREQ=DAILY;BYHOUR=3",
        2,
        3,
    )
    assert changed["schedule_served_at"] is None
    status, _, _ = call(
        client, calculator, "PATCH", url, json={"enabled": False}, headers={"If-Match": "x"}
    )
    assert status == 412
    period = {"start": DAY0.isoformat(), "end": (DAY0 + timedelta(hours=1)).isoformat()}
    status, run, _ = call(client, calculator, "POST", f"{url}/runs", json=period)
    assert status == 201, run
    assert run["target_channel_id"] == net and run["values"] >= 2
    data = hub.get("meter-data/intervals", channels=[net], **period)
    assert data["channels"][0]["values"][:2] == [4.0, 6.5]
    status, history, _ = call(
        client, calculator, "GET", "meter-data/versions",
        query_string={"channel": net, "start": period["start"], "end": period["end"]},
    )  # fmt: skip
    assert status == 200 and "calculation net v3" in json.dumps(history)
    status, body_, _ = call(
        client, calculator, "POST", f"{url}/runs", json=period | {"end": period["start"]}
    )
    assert status == 422 and "end" in fields(body_)
    status, _, _ = call(client, reader, "POST", f"{url}/runs", json=period)
    assert status == 403
    status, _, headers = call(client, calculator, "GET", url)
    status, _, _ = call(client, calculator, "DELETE", url, headers={"If-Match": headers["ETag"]})
    assert status == 204


def test_a_validated_period_is_released_for_billing(
    app: Flask, runtime: Runtime, hub: Client, analyst: Login, calculator: Login
) -> None:
    channel = channel_with_a_spike(hub, runtime)
    client = app.test_client()
    period = {"start": DAY0.isoformat(), "end": (DAY0 + timedelta(days=1)).isoformat()}
    release = {"channel_id": channel, **period, "note": "March"}
    # not validated yet: refused, naming the period
    status, body, _ = call(client, calculator, "POST", "billing-releases", json=release)
    assert status == 422 and "not validated" in fields(body)["period"], body
    status, profile, _ = call(
        client, analyst, "POST", "validation-profiles", json={"name": "spikes", "steps": SPIKES}
    )
    status, run, _ = call(
        client, analyst, "POST", f"validation-profiles/{profile['id']}/runs",
        json=period | {"channels": [channel]},
    )  # fmt: skip
    assert run["status"] == "succeeded"
    status, released, _ = call(client, calculator, "POST", "billing-releases", json=release)
    assert status == 201, released
    assert released["active"] is True and released["released_by"] == "carl"
    assert released["period_start"] == period["start"]
    status, again, _ = call(client, calculator, "POST", "billing-releases", json=release)
    assert status == 409
    status, page, _ = call(
        client, calculator, "GET", "billing-releases", query_string={"channel_id": channel}
    )
    assert [r["id"] for r in page["items"]] == [released["id"]]
    status, body, _ = call(
        client, calculator, "POST", "billing-releases", json=release | {"channel_id": 999_999}
    )
    assert status == 422 and "channel_id" in fields(body)
