"""Data segments hold for every endpoint: a user of segment A walks every operation of the
OpenAPI document aimed at the objects of segment B, and sees and changes nothing of them.

The walk is generated from the OpenAPI document, so an endpoint added later is walked too. A
path whose ``{object_id}`` cannot be given an object of segment B fails the test until
:data:`PATH_TYPES` says which object type the path serves.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from api_helpers import Login, bearer, make_user
from flask import Flask

from meterhub.client import Client
from meterhub.demo import demo_eic
from meterhub.runtime import Runtime

#: The text every object of segment B carries somewhere (names, serials, values).
MARKERS = ("bravo", "777.125", "999888777")

#: URL prefix → the object type its ``{object_id}`` names (None: not segment data).
PATH_TYPES: dict[str, str | None] = {
    "/api/v1/elements": "element",
    "/api/v1/templates": None,
    "/api/v1/metering-points": "metering_point",
    "/api/v1/virtual-meters": "virtual_meter",
    "/api/v1/containers": "container",
    "/api/v1/channels": "channel",
    "/api/v1/meters": "meter",
    "/api/v1/communication-devices": "communication_device",
    "/api/v1/communication-paths": "communication_path",
    "/api/v1/groups": "group",
    "/api/v1/users": "user",
    "/api/v1/roles": None,
    "/api/v1/segments": "segment",
    "/api/v1/audit-log": "audit_log",
    "/api/v1/tokens": "api_token",
    "/api/v1/system-parameters": None,
    "/api/v1/jobs": "job",
    "/api/v1/runs": "job_run",
    "/api/v1/tasks": "task",
    "/api/v1/error-groups": "error_group",
    "/api/v1/firmware-images": None,
    "/api/v1/validation-profiles": None,
    "/api/v1/vee-runs": "vee_run",
    "/api/v1/scripts": None,
    "/api/v1/calculations": "calculation",
    "/api/v1/billing-releases": "billing_release",
    "/api/v1/statistics": "statistic",
}

#: Request body fields that name objects, and the object type they name.
FIELD_TYPES = {
    "element_id": "element",
    "parent_id": "element",
    "metering_point_id": "metering_point",
    "virtual_meter_id": "virtual_meter",
    "meter_id": "meter",
    "device_id": "communication_device",
    "channel": "channel",
    "channels": "channel",
    "members": "virtual_meter",
    "segments": "segment",
    "meters": "meter",
    "groups": "group",
    "error_groups": "error_group",
}

DATA_TYPES = [
    "element",
    "metering_point",
    "virtual_meter",
    "container",
    "channel",
    "meter",
    "communication_device",
    "communication_path",
    "group",
    "meter_data",
]

START, END = "2026-03-02T00:00:00+00:00", "2026-03-03T00:00:00+00:00"


def _segment_fleet(hub: Client, name: str, template_id: int, number: int) -> dict[str, int]:
    """A whole fleet in a segment of its own; every text carries ``name``."""
    segment = hub.create("segments", name=name)
    region = hub.create(
        "elements", name=f"{name} region", template_id=template_id, segments=[segment["id"]]
    )
    consumer = hub.create(
        "elements", name=f"{name} consumer", template_id=template_id, parent_id=region["id"]
    )
    point = hub.create(
        "metering-points", element_id=consumer["id"], name=f"{name} point", eic=demo_eic(number)
    )
    virtual = hub.create("virtual-meters", metering_point_id=point["id"], name=f"{name} vm")
    container = hub.create("containers", metering_point_id=point["id"], name=f"{name} container")
    channel = hub.create(
        "channels",
        virtual_meter_id=virtual["id"],
        obis="1.8.0",
        interval_minutes=15,
        name=f"{name} channel",
    )
    meter = hub.create(
        "meters", manufacturer="ACME", serial_number=f"{name}-SN", driver="simulated"
    )
    hub.request(
        "POST",
        f"meters/{meter['id']}/assignments",
        json={"virtual_meter_id": virtual["id"], "valid_from": "2026-01-01T00:00:00+00:00"},
    )
    phone = "+420 999 888 777" if name == "Bravo" else f"+420 111 222 3{number}"
    device = hub.create(
        "communication-devices", name=f"{name} modem", kind="modem", phone_number=phone
    )
    path = hub.create(
        "communication-paths",
        meter_id=meter["id"],
        device_id=device["id"],
        priority=1,
        address=name.lower(),
    )
    group = hub.create("groups", name=f"{name} group", members=[virtual["id"]])
    return {
        "segment": segment["id"],
        "element": consumer["id"],
        "region": region["id"],
        "metering_point": point["id"],
        "virtual_meter": virtual["id"],
        "container": container["id"],
        "channel": channel["id"],
        "meter": meter["id"],
        "communication_device": device["id"],
        "communication_path": path["id"],
        "group": group["id"],
    }


def _error_group(runtime: Runtime, meter_id: int, job_id: int, run_id: int) -> int:
    """An error group of B's meter, as the engine makes one after a failed run."""
    from datetime import UTC, datetime

    from meterhub.db import transaction
    from meterhub.model.errorgroups import ErrorGroup, ErrorGroupMember

    now = datetime.now(UTC)
    with transaction(runtime.sessions, user="test") as session:
        group = ErrorGroup(name="bravo failures", kind="job", job_id=job_id, run_id=run_id,
                           created_at=now)  # fmt: skip
        session.add(group)
        session.flush()
        session.add(
            ErrorGroupMember(group_id=group.id, meter_id=meter_id, error_class="timeout",
                             error_message="bravo timeout", added_at=now)
        )  # fmt: skip
        return group.id


def _statistics(runtime: Runtime, fleet: dict[str, Any]) -> None:
    """Session counters of the fleet's virtual meter, device and path (and the summary), as
    the engine's writer adds them."""
    from datetime import UTC, datetime, timedelta

    from meterhub.db import transaction
    from meterhub.model.statistics import CommunicationStatistic

    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    with transaction(runtime.sessions, user="test") as session:
        for scope, key in (("virtual_meter", "virtual_meter"), ("device",
                           "communication_device"), ("path", "communication_path")):  # fmt: skip
            session.add(
                CommunicationStatistic(bucket=hour, scope=scope, scope_id=fleet[key],
                                       outcome="succeeded", sessions=7, seconds=7.0,
                                       bytes_sent=777, bytes_received=777, backup=0, failovers=0)
            )  # fmt: skip


def _vee_run(runtime: Runtime, profile_id: int, channel_id: int) -> int:
    """A run of B's profile over B's channel, started by B's user."""
    from datetime import UTC, datetime

    report = runtime.vee.run(
        profile_id,
        datetime(2026, 3, 2, tzinfo=UTC),
        datetime(2026, 3, 3, tzinfo=UTC),
        channel_ids=[channel_id],
        user="bravo",
    )
    return report.run_id


@pytest.fixture
def two_segments(runtime: Runtime, hub: Client, admin: Login, test_licenses: Any) -> dict[str, Any]:
    template = hub.create("templates", name="Area")
    alpha = _segment_fleet(hub, "Alpha", template["id"], 1)
    bravo = _segment_fleet(hub, "Bravo", template["id"], 2)
    _statistics(runtime, alpha)
    _statistics(runtime, bravo)
    # meter data in B's channel, and an edit of it in the audit log
    from datetime import UTC, datetime

    import numpy as np

    from meterhub.timeseries import MeterDataStore  # noqa: F401 - the runtime's store writes it

    runtime.store.write_intervals(
        [bravo["channel"]], datetime(2026, 3, 2, tzinfo=UTC), np.full((1, 96), 777.125)
    )
    hub.substitute([bravo["channel"]], START, [[777.125]], reason="bravo fix")
    # acquisition: B's job, a run of it (its task waits: no engine runs), an error group
    job = hub.create(
        "jobs", name="bravo job", actions=[{"action": "read_clock"}], meters=[bravo["meter"]]
    )
    run = hub.request("POST", f"jobs/{job['id']}/runs").json()
    bravo["job"], bravo["job_run"] = job["id"], run["id"]
    bravo["task"] = hub.get("tasks", run_id=run["id"])["items"][0]["id"]
    bravo["error_group"] = _error_group(runtime, bravo["meter"], job["id"], run["id"])
    # VEE: a run of B's user over B's channel
    profile = hub.create(
        "validation-profiles", name="shared profile", steps=[{"kind": "check", "name": "negative"}]
    )
    bravo["vee_run"] = _vee_run(runtime, profile["id"], bravo["channel"])
    bravo["billing_release"] = runtime.editing.release(  # after the substituted first slot
        bravo["channel"],
        datetime(2026, 3, 2, 0, 15, tzinfo=UTC),
        datetime(2026, 3, 3, tzinfo=UTC),
        user="bravo",
    ).id
    computed = hub.create(
        "channels", virtual_meter_id=bravo["virtual_meter"], obis="2.29.0", interval_minutes=15,
        name="bravo computed",
    )  # fmt: skip
    bravo["calculation"] = hub.create(
        "calculations", name="bravo double", target_channel_id=computed["id"],
        formula="x * 2", inputs={"x": bravo["channel"]},
    )["id"]  # fmt: skip
    permissions = {kind: ["view", "create", "edit", "delete"] for kind in DATA_TYPES}
    permissions |= {
        "segment": ["view", "create", "edit", "delete"],
        "user": ["view", "create", "edit", "delete"],
        "audit_log": ["view"],
        "api_token": ["view", "create", "edit", "delete"],
        "template": ["view"],
        "role": ["view"],
        "system_parameter": ["view"],
        "statistic": ["view"],
    }
    permissions |= {
        kind: ["view", "create", "edit", "delete"]
        for kind in (
            "job",
            "job_run",
            "task",
            "error_group",
            "firmware_image",
            "validation_profile",
            "vee_run",
            "script",
        )
    }
    functions = ["meter_credentials", "api_tokens", "password_reset", "meter_control"]
    user_a = make_user(
        runtime,
        "alpha",
        role="Data user",
        permissions=permissions,
        functions=functions,
        segments=["Alpha"],
    )
    user_b = make_user(runtime, "bravo", role="Data user", segments=["Bravo"])
    bravo["user"] = user_b.user_id
    bravo["api_token"] = hub.get("tokens", user_id=user_b.user_id)["items"][0]["id"]
    bravo["audit_log"] = next(hub.list("audit-log", object_type="channel", action="values_edited"))[
        "id"
    ]
    return {"alpha": alpha, "bravo": bravo, "user_a": user_a, "user_b": user_b}


def _snapshot(hub: Client, bravo: dict[str, Any]) -> str:
    """Everything of segment B as the administrator sees it."""
    parts: dict[str, Any] = {}
    urls = {kind: f"{kind.replace('_', '-')}s" for kind in (
        "element", "metering_point", "virtual_meter", "container", "channel", "meter",
        "communication_device", "communication_path", "group", "segment", "user",
    )}  # fmt: skip
    urls["api_token"] = "tokens"
    for kind, url in urls.items():
        parts[kind] = hub.get(f"{url}/{bravo[kind]}")
    parts["data"] = hub.get(
        "meter-data/intervals", channels=[bravo["channel"]], start=START, end=END
    )["channels"]
    return json.dumps(parts, sort_keys=True)


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _value(name: str, schema: dict[str, Any], bravo: dict[str, Any], spec: dict[str, Any]) -> Any:
    schema = _resolve(spec, schema)
    kind = FIELD_TYPES.get(name)
    if schema.get("type") == "array":
        if kind is not None:
            return [bravo[kind]]
        if name == "values":
            return [[1.0]]
        return []
    if kind is not None:
        return bravo[kind]
    if "enum" in schema:
        return schema["enum"][0]
    kind_of = schema.get("type")
    if kind_of == "integer":
        return 1
    if kind_of == "number":
        return 1.0
    if kind_of == "boolean":
        return True
    if kind_of == "object":
        return {"password": "walk-walk-walk"} if name == "credentials" else {}
    if schema.get("format") == "date-time" or name in ("start", "end", "at", "as_of", "valid_from"):
        return START if name != "end" else END
    return "walk"


def _body(operation: dict[str, Any], bravo: dict[str, Any], spec: dict[str, Any]) -> Any:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return None
    schema = _resolve(spec, content["schema"])
    fields = set(schema.get("required", [])) | (
        set(schema.get("properties", {})) & set(FIELD_TYPES)
    )
    return {name: _value(name, schema["properties"][name], bravo, spec) for name in sorted(fields)}


def _query(
    operation: dict[str, Any], bravo: dict[str, Any], spec: dict[str, Any]
) -> dict[str, Any]:
    query: dict[str, Any] = {}
    for parameter in operation.get("parameters", []):
        if parameter.get("in") != "query":
            continue
        name = parameter["name"]
        if parameter.get("required") or name in FIELD_TYPES:
            value = _value(name, parameter.get("schema", {}), bravo, spec)
            query[name] = ",".join(map(str, value)) if isinstance(value, list) else value
    return query


def _path_type(path: str) -> tuple[str | None, bool]:
    for prefix, kind in PATH_TYPES.items():
        if path == prefix or path.startswith(prefix + "/"):
            return kind, True
    return None, False


def test_a_user_of_segment_a_sees_and_changes_nothing_of_segment_b(
    app: Flask, hub: Client, two_segments: dict[str, Any]
) -> None:
    bravo, user_a = two_segments["bravo"], two_segments["user_a"]
    before = _snapshot(hub, bravo)
    spec = app.test_client().get("/api/openapi.json").get_json()
    client = app.test_client()
    walked = not_found = 0
    for path, item in spec["paths"].items():
        if not path.startswith("/api/"):
            continue
        kind, known = _path_type(path)
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            url = path
            for name in re.findall(r"{(\w+)}", path):
                assert known, f"{path}: add its object type to PATH_TYPES"
                if name == "object_id":
                    value = bravo[kind] if kind else 1
                elif name == "name":
                    value = "password.min_length" if "system-parameters" in path else "tariff"
                else:
                    pytest.fail(f"{path}: unknown path parameter {name}")
                url = url.replace(f"{{{name}}}", str(value))
            headers = {**bearer(user_a), "If-Match": "*"}
            answer = client.open(
                url,
                method=method.upper(),
                query_string=_query(operation, bravo, spec),
                json=_body(operation, bravo, spec),
                headers=headers,
            )
            text = answer.get_data(as_text=True).lower()
            label = f"{method.upper()} {url}: {answer.status_code} {text[:300]}"
            assert answer.status_code < 500, label
            for marker in MARKERS:
                assert marker not in text, label
            if "{object_id}" in path and kind is not None:
                # B's object is answered as if it did not exist (403 only where A's roles
                # forbid the action whatever the object)
                assert answer.status_code in (403, 404), label
                not_found += answer.status_code == 404
            walked += 1
    assert walked > 60
    assert not_found > 30
    assert _snapshot(hub, bravo) == before
    # and B's own user still sees B
    own = hub.http.get(
        f"/api/v1/metering-points/{bravo['metering_point']}", headers=bearer(two_segments["user_b"])
    )
    assert own.status_code == 200


def test_lists_and_search_show_each_user_their_own_segment(
    app: Flask, hub: Client, two_segments: dict[str, Any], client_for: Callable[[Login], Client]
) -> None:
    alpha = client_for(two_segments["user_a"])
    assert [p["name"] for p in alpha.list("metering-points")] == ["Alpha point"]
    assert [m["serial_number"] for m in alpha.list("meters")] == ["Alpha-SN"]
    assert {hit["label"] for hit in alpha.search("a")} >= {"Alpha point", "Alpha-SN"}
    assert all("bravo" not in hit["label"].lower() for hit in alpha.search("o"))
    assert [s["name"] for s in alpha.list("segments")] == ["Alpha"]
    assert "bravo" not in {u["username"] for u in alpha.list("users")}
    # creating at the top level would put an element outside the user's segments
    template = next(alpha.list("templates"))
    with pytest.raises(Exception) as refused:
        alpha.create("elements", name="Loose", template_id=template["id"])
    assert getattr(refused.value, "status", None) == 403


def test_statistics_show_each_user_their_own_segment(
    hub: Client, two_segments: dict[str, Any], client_for: Callable[[Login], Client]
) -> None:
    alpha, bravo = two_segments["alpha"], two_segments["bravo"]
    user_a = client_for(two_segments["user_a"])
    levels = {"virtual-meter": "virtual_meter", "device": "communication_device",
              "path": "communication_path"}  # fmt: skip
    for level, kind in levels.items():
        assert {row["key"] for row in hub.statistics(level)} == {alpha[kind], bravo[kind]}
        rows = user_a.statistics(level)
        assert [row["key"] for row in rows] == [alpha[kind]]
        assert all("bravo" not in str(row).lower() for row in rows)
        assert user_a.statistics(level, bravo[kind]) == []
    # the summary counts every segment: not for a user of some
    with pytest.raises(Exception) as refused:
        user_a.statistics()
    assert getattr(refused.value, "status", None) == 403
