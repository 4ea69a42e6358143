"""Acquisition through the REST API: jobs (created, changed, deleted with ETags; bad calendars
and actions refused by field), runs started through the API and run by a real engine (progress,
success, cancel), quick jobs whose control actions are audited under the API user, tasks with
filters and debug logs, error groups run again, firmware uploads, and roles that may only read."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from api_helpers import Login, bearer, make_user
from flask import Flask
from flask.testing import FlaskClient

from meterhub.acquisition.engine import AcquisitionEngine, EngineOptions
from meterhub.config import Settings
from meterhub.db import transaction
from meterhub.inventory import groups, meters
from meterhub.inventory.elements import create_element
from meterhub.inventory.metering import add_channel, create_metering_point, create_virtual_meter
from meterhub.inventory.templates import create_template
from meterhub.runtime import Runtime, build_runtime

START = datetime(2026, 1, 1, tzinfo=UTC)
ACQUISITION = ["job", "job_run", "task", "error_group", "firmware_image"]


@pytest.fixture
def runtime(settings_for: Callable[..., Settings]) -> Iterator[Runtime]:
    """A runtime whose engine writes its results in short batches."""
    runtime = build_runtime(settings_for(acquisition_batch_seconds=0.05))
    yield runtime
    runtime.close()


@pytest.fixture
def start_engine(runtime: Runtime) -> Iterator[Callable[[], AcquisitionEngine]]:
    """Start a real acquisition engine on the API's database (stopped after the test)."""
    started: list[AcquisitionEngine] = []

    def start() -> AcquisitionEngine:
        engine = AcquisitionEngine(runtime, options=EngineOptions(poll_seconds=0.05))
        started.append(engine.start())
        return engine

    yield start
    for engine in started:
        engine.stop()


def fleet(
    runtime: Runtime,
    count: int = 2,
    settings: dict[str, Any] | None = None,
    *,
    name: str = "Field",
    segment: str | None = None,
) -> list[int]:
    """``count`` simulated meters, each serving a virtual meter with a profile channel, all in
    the meter group ``name`` (and the data segment ``segment``); returns the meter ids."""
    from sqlalchemy import select

    from meterhub.inventory.segments import assign_segment, create_segment
    from meterhub.model.templates import Template

    ids = []
    with transaction(runtime.sessions, user="tester") as session:
        if session.scalars(select(Template).where(Template.name == "Site")).first() is None:
            create_template(session, "Site")
        element = create_element(session, template="Site", name=f"{name} site")
        if segment is not None:
            create_segment(session, segment)
            assign_segment(session, element, segment)
        group = groups.create_group(session, name=name)
        for index in range(count):
            point = create_metering_point(session, element=element, name=f"point {index}")
            virtual = create_virtual_meter(session, metering_point=point, name="main")
            add_channel(session, virtual_meter=virtual, obis="1-0:1.29.0", interval_minutes=15)
            meter = meters.create_meter(
                session,
                manufacturer="Sim",
                serial_number=f"{name}-{index:03d}",
                driver="simulated",
                driver_settings=settings or {},
                drivers=runtime.plugins.drivers(),
            )
            meters.assign_meter(session, virtual, meter, START)
            groups.add_members(session, group, [virtual])
            ids.append(meter.id)
    return ids


def call(
    client: FlaskClient, login: Login, method: str, url: str, **kwargs: Any
) -> tuple[int, Any, Any]:
    """One request as ``login``: (status, JSON body, headers)."""
    headers = {**bearer(login), **kwargs.pop("headers", {})}
    answer = client.open(f"/api/v1/{url}", method=method, headers=headers, **kwargs)
    return answer.status_code, answer.get_json(silent=True), answer.headers


def wait_ended(client: FlaskClient, login: Login, run_id: int, timeout: float = 30) -> Any:
    """Poll ``GET /runs/{id}`` until the run has ended; return it."""
    deadline = time.monotonic() + timeout
    while True:
        status, run, _ = call(client, login, "GET", f"runs/{run_id}")
        assert status == 200, run
        if run["finished_at"] is not None:
            return run
        assert time.monotonic() < deadline, f"run {run_id} did not end: {run}"
        time.sleep(0.05)


def fields(body: Any) -> dict[str, str]:
    """The wrong fields of a problem document."""
    return {error["field"]: error["reason"] for error in body.get("errors", [])}


@pytest.fixture
def operator(runtime: Runtime) -> Login:
    """A user who may do everything with acquisition objects and control meters."""
    permissions = {kind: ["view", "create", "edit", "delete"] for kind in ACQUISITION}
    permissions |= {"meter": ["view"], "group": ["view"], "audit_log": ["view"]}
    return make_user(
        runtime,
        "olga",
        role="Operator",
        permissions=permissions,
        functions=["meter_control", "all_segments"],
    )


@pytest.fixture
def reader(runtime: Runtime) -> Login:
    """A user who may only look."""
    permissions = {kind: ["view"] for kind in [*ACQUISITION, "meter", "group"]}
    return make_user(
        runtime, "rita", role="Reader", permissions=permissions, functions=["all_segments"]
    )


def test_jobs_are_created_changed_and_deleted_with_etags(
    app: Flask, runtime: Runtime, operator: Login, admin: Login
) -> None:
    meter_ids = fleet(runtime)
    client = app.test_client()
    body = {
        "name": "nightly profile",
        "actions": [{"action": "read_load_profile", "parameters": {"range": "previous_day"}}],
        "meters": meter_ids,
        "recurrence": "FREQ=DAILY;BYHOUR=1;BYMINUTE=0",
        "starts_at": "2026-03-01T00:00:00+01:00",
        "time_zone": "Europe/Prague",
        "window_minutes": 120,
        "exception_dates": ["2026-12-25"],
    }
    status, job, headers = call(client, operator, "POST", "jobs", json=body)
    assert status == 201, job
    assert job["kind"] == "scheduled"
    assert job["meters"] == sorted(meter_ids)
    assert job["created_by"] == "olga"
    assert job["actions"][0]["parameters"]["range"] == "previous_day"
    assert job["next_run_at"] is not None and job["next_run_at"].endswith("+00:00")
    url = f"jobs/{job['id']}"
    status, read, headers = call(client, operator, "GET", url)
    etag = headers["ETag"]
    # a change needs the ETag of the last read: 428 without it, 412 when it is stale
    status, missing, _ = call(client, operator, "PATCH", url, json={"priority": 7})
    assert status == 428
    status, changed, headers = call(
        client, operator, "PATCH", url, json={"priority": 7}, headers={"If-Match": etag}
    )
    assert status == 200 and changed["priority"] == 7
    assert changed["next_run_at"] == job["next_run_at"]  # same calendar, same next run
    status, stale, _ = call(
        client, operator, "PATCH", url, json={"priority": 1}, headers={"If-Match": etag}
    )
    assert status == 412
    # no recurrence: a job run on demand (the window and exception dates go with it)
    status, changed, headers = call(
        client, operator, "PATCH", url, json={"recurrence": None},
        headers={"If-Match": headers["ETag"]},
    )  # fmt: skip
    assert status == 200, changed
    assert changed["kind"] == "on_demand"
    assert changed["next_run_at"] is None and changed["window_minutes"] is None
    assert changed["exception_dates"] == []
    # lists filter and search like every other list
    status, page, _ = call(client, operator, "GET", "jobs", query_string={"kind": "on_demand"})
    assert [item["name"] for item in page["items"]] == ["nightly profile"]
    status, page, _ = call(client, operator, "GET", "jobs", query_string={"q": "NIGHT"})
    assert page["total"] == 1
    # every change is in the audit log under the API user
    status, audit, _ = call(
        client, admin, "GET", "audit-log",
        query_string={"object_type": "acq_job", "object_id": str(job["id"])},
    )  # fmt: skip
    assert {row["changed_by"] for row in audit["items"]} == {"olga"}
    assert {"create", "change"} <= {row["action"] for row in audit["items"]}
    status, _, _ = call(client, operator, "DELETE", url, headers={"If-Match": etag})
    assert status == 412
    status, _, _ = call(client, operator, "DELETE", url, headers={"If-Match": headers["ETag"]})
    assert status == 204
    status, _, _ = call(client, operator, "GET", url)
    assert status == 404


def test_bad_jobs_are_refused_naming_the_field(
    app: Flask, runtime: Runtime, operator: Login
) -> None:
    meter_ids = fleet(runtime, 1)
    client = app.test_client()
    good = {"name": "job", "actions": [{"action": "read_clock"}], "meters": meter_ids}
    cases = [
        ({"recurrence": "FREQ=FORTNIGHTLY"}, "recurrence", "not an RFC 5545 rule"),
        ({"recurrence": "FREQ=DAILY", "time_zone": "Moon/Base"}, "time_zone", "unknown time zone"),
        ({"window_minutes": 30}, "recurrence", "has no calendar"),
        ({"actions": [{"action": "read_mind"}]}, "actions[0].action", "unknown action"),
        (
            {"actions": [{"action": "read_load_profile", "parameters": {"range": "someday"}}]},
            "actions[0].parameters.range",
            "since_last_read",
        ),
        ({"meters": [999_999]}, "meters[0]", "no meter with id 999999"),
        ({"meters": [], "groups": [999]}, "groups[0]", "no group with id 999"),
        ({"meters": []}, "targets", "at least one meter"),
        ({"priority": 12}, "priority", "0 to 9"),
        ({"retry_backoff": 0.5}, "retry_backoff", "1 to 10"),
        ({"name": 7}, "name", "Not a valid string"),
        ({"colour": "red"}, "colour", "Unknown field"),
    ]
    for change, field, reason in cases:
        status, body, _ = call(client, operator, "POST", "jobs", json=good | change)
        assert status == 422, (change, body)
        assert field in fields(body), (change, body)
        assert reason in fields(body)[field], (change, body)
    status, body, _ = call(client, operator, "POST", "jobs", json={"actions": []})
    assert status == 422 and "name" in fields(body)
    status, page, _ = call(client, operator, "GET", "jobs")
    assert page["total"] == 0  # nothing half-written
    # a change is checked like a new job, and nothing changes when it is refused
    status, job, headers = call(client, operator, "POST", "jobs", json=good)
    url = f"jobs/{job['id']}"
    status, body, _ = call(
        client, operator, "PATCH", url, json={"recurrence": "FREQ=DAILY;BYHOUR=25"},
        headers={"If-Match": headers["ETag"]},
    )  # fmt: skip
    assert status == 422 and "recurrence" in fields(body), body
    status, again, _ = call(client, operator, "GET", url)
    assert again == job
    # a name is unique
    status, body, _ = call(client, operator, "POST", "jobs", json=good)
    assert status == 409


def test_a_run_started_through_the_api_is_run_by_the_engine(
    app: Flask, runtime: Runtime, operator: Login, start_engine: Callable[[], AcquisitionEngine]
) -> None:
    meter_ids = fleet(runtime, 3)
    client = app.test_client()
    status, groups_page, _ = call(client, operator, "GET", "groups", query_string={"name": "Field"})
    (group_id,) = [group["id"] for group in groups_page["items"]]
    status, job, _ = call(
        client, operator, "POST", "jobs",
        json={"name": "registers", "actions": [{"action": "read_clock"}], "groups": [group_id]},
    )  # fmt: skip
    assert status == 201, job
    status, run, _ = call(client, operator, "POST", f"jobs/{job['id']}/runs")
    assert status == 202, run
    assert run["state"] == "queued" and run["tasks_total"] == 3
    assert run["started_by"] == "olga" and run["trigger_kind"] == "user"
    assert run["progress"] == 0.0 and run["success"] is None
    start_engine()
    ended = wait_ended(client, operator, run["id"])
    assert ended["state"] == "succeeded", ended
    assert ended["progress"] == 100.0 and ended["success"] == 100.0
    assert ended["tasks_succeeded"] == 3 and ended["tasks_running"] == 0
    assert ended["job_name"] == "registers"
    # runs filter by job; tasks by run, state, meter and error class
    status, runs, _ = call(client, operator, "GET", "runs", query_string={"job_id": job["id"]})
    assert [item["id"] for item in runs["items"]] == [run["id"]]
    query = {"run_id": run["id"], "state": "succeeded", "sort": "meter_id"}
    status, tasks, _ = call(client, operator, "GET", "tasks", query_string=query)
    assert [task["meter_id"] for task in tasks["items"]] == meter_ids
    query = {"meter_id": meter_ids[1], "run_id": run["id"]}
    status, tasks, _ = call(client, operator, "GET", "tasks", query_string=query)
    assert tasks["total"] == 1
    status, task, headers = call(client, operator, "GET", f"tasks/{tasks['items'][0]['id']}")
    assert task["action"] == "read_clock" and task["parameters"] == {}
    assert task["state"] == "succeeded" and task["error_class"] is None and task["sessions"]
    assert headers["ETag"]
    status, failed, _ = call(
        client, operator, "GET", "tasks", query_string={"error_class__null": "false"}
    )
    assert failed["total"] == 0
    status, trace, _ = call(client, operator, "GET", f"tasks/{task['id']}/trace")
    assert status == 200
    assert [s["id"] for s in trace["sessions"]] == task["sessions"]
    assert trace["sessions"][0]["outcome"] == "succeeded"


def test_a_run_is_cancelled_once(app: Flask, runtime: Runtime, operator: Login) -> None:
    meter_ids = fleet(runtime, 2)
    client = app.test_client()
    status, job, _ = call(
        client, operator, "POST", "jobs",
        json={"name": "clock", "actions": [{"action": "read_clock"}], "meters": meter_ids},
    )  # fmt: skip
    status, run, _ = call(client, operator, "POST", f"jobs/{job['id']}/runs")
    assert status == 202
    # no engine runs: its tasks wait, and cancelling ends them at once
    status, cancelled, _ = call(client, operator, "POST", f"runs/{run['id']}/cancel")
    assert status == 200, cancelled
    assert cancelled["state"] == "cancelled" and cancelled["tasks_cancelled"] == 2
    assert cancelled["progress"] == 100.0 and cancelled["success"] == 0.0
    status, again, _ = call(client, operator, "POST", f"runs/{run['id']}/cancel")
    assert status == 422 and "already ended" in fields(again)["run"]
    status, tasks, _ = call(
        client, operator, "GET", "tasks", query_string={"run_id": run["id"], "state": "cancelled"}
    )
    assert tasks["total"] == 2
    assert {t["error_message"] for t in tasks["items"]} == {"cancelled by olga"}
    # a job with a run that has not ended cannot be deleted; once it ended, it can
    status, _, headers = call(client, operator, "GET", f"jobs/{job['id']}")
    status, _, _ = call(
        client, operator, "DELETE", f"jobs/{job['id']}", headers={"If-Match": headers["ETag"]}
    )
    assert status == 204
    status, _, _ = call(client, operator, "GET", f"runs/{run['id']}")
    assert status == 404


def test_a_quick_disconnect_runs_at_once_and_is_audited_under_the_api_user(
    app: Flask,
    runtime: Runtime,
    operator: Login,
    admin: Login,
    start_engine: Callable[[], AcquisitionEngine],
) -> None:
    meter_ids = fleet(runtime, 1)
    client = app.test_client()
    start_engine()
    status, run, _ = call(
        client, operator, "POST", f"meters/{meter_ids[0]}/quick-job",
        json={"actions": [{"action": "disconnect_supply"}]},
    )  # fmt: skip
    assert status == 202, run
    assert run["quick"] is True and run["priority"] == 9 and run["started_by"] == "olga"
    ended = wait_ended(client, operator, run["id"])
    assert ended["state"] == "succeeded", ended
    status, audit, _ = call(
        client, admin, "GET", "audit-log",
        query_string={"object_type": "meter", "object_id": str(meter_ids[0]),
                      "action": "disconnect_supply"},
    )  # fmt: skip
    assert audit["total"] >= 1
    assert {row["changed_by"] for row in audit["items"]} == {"olga"}
    # bad actions are named; an unknown meter is 404
    status, body, _ = call(
        client, operator, "POST", f"meters/{meter_ids[0]}/quick-job",
        json={"actions": [{"action": "set_relay", "parameters": {"relay": 99}}]},
    )  # fmt: skip
    assert status == 422 and "actions[0].parameters.relay" in fields(body), body
    status, body, _ = call(
        client, operator, "POST", "meters/999999/quick-job",
        json={"actions": [{"action": "read_clock"}]},
    )  # fmt: skip
    assert status == 404
    # switching the supply needs the function meter_control
    plain = make_user(
        runtime, "paul", role="Reader plus runs",
        permissions={"job_run": ["view", "create"], "meter": ["view"], "job": ["view"]},
        functions=["all_segments"],
    )  # fmt: skip
    status, body, _ = call(
        client, plain, "POST", f"meters/{meter_ids[0]}/quick-job",
        json={"actions": [{"action": "reconnect_supply"}]},
    )  # fmt: skip
    assert status == 403, body
    status, run, _ = call(
        client, plain, "POST", f"meters/{meter_ids[0]}/quick-job",
        json={"actions": [{"action": "read_clock"}]},
    )  # fmt: skip
    assert status == 202, run


def test_failed_meters_form_an_error_group_that_runs_again(
    app: Flask, runtime: Runtime, operator: Login, start_engine: Callable[[], AcquisitionEngine]
) -> None:
    silent = fleet(runtime, 2, settings={"unreachable": True})
    client = app.test_client()
    status, job, _ = call(
        client, operator, "POST", "jobs",
        json={"name": "silent", "actions": [{"action": "read_clock"}], "meters": silent,
              "max_attempts": 1},
    )  # fmt: skip
    status, run, _ = call(client, operator, "POST", f"jobs/{job['id']}/runs")
    start_engine()
    ended = wait_ended(client, operator, run["id"])
    assert ended["state"] == "failed" and ended["success"] == 0.0
    assert ended["error_group_id"] is not None
    status, tasks, _ = call(
        client, operator, "GET", "tasks", query_string={"run_id": run["id"], "state": "failed"}
    )
    assert tasks["total"] == 2
    error_class = tasks["items"][0]["error_class"]
    assert error_class and tasks["items"][0]["error_message"]
    status, same, _ = call(
        client, operator, "GET", "tasks", query_string={"error_class": error_class}
    )
    assert same["total"] == 2
    status, group, _ = call(client, operator, "GET", f"error-groups/{ended['error_group_id']}")
    assert status == 200 and group["member_count"] == 2 and group["run_id"] == run["id"]
    status, members, _ = call(client, operator, "GET", f"error-groups/{group['id']}/members")
    assert [m["meter_id"] for m in members] == silent
    assert all(m["error_class"] == error_class for m in members)
    status, listed, _ = call(client, operator, "GET", "error-groups", query_string={"kind": "job"})
    assert [g["id"] for g in listed["items"]] == [group["id"]]
    # run again: a new on-demand job over the group, with the actions of the job that failed
    status, rerun, _ = call(client, operator, "POST", f"error-groups/{group['id']}/runs", json={})
    assert status == 202, rerun
    assert rerun["tasks_total"] == 2 and rerun["job_name"].startswith("rerun of")
    # the rerun retries its silent meters (a minute apart): cancel it while the engine runs
    status, cancelled, _ = call(client, operator, "POST", f"runs/{rerun['id']}/cancel")
    assert status == 200, cancelled
    assert wait_ended(client, operator, rerun["id"])["state"] == "cancelled"


def test_firmware_images_are_uploaded_with_their_hash(
    app: Flask, runtime: Runtime, operator: Login
) -> None:
    import io

    client = app.test_client()
    image = bytes(range(256)) * 40
    digest = hashlib.sha256(image).hexdigest()

    def upload(**form: Any) -> tuple[int, Any, Any]:
        data = {"name": "acme-fw", "version": "1.2.0", **form}
        data["file"] = (io.BytesIO(image), "fw.bin")
        return call(client, operator, "POST", "firmware-images", data=data,
                    content_type="multipart/form-data")  # fmt: skip

    status, stored, _ = upload(description="spring release")
    assert status == 201, stored
    assert stored["sha256"] == digest and stored["size_bytes"] == len(image)
    assert stored["created_by"] == "olga"
    status, body, _ = upload()
    assert status == 409
    status, body, _ = upload(version="1.3.0", sha256="00" * 32)
    assert status == 422 and digest in fields(body)["sha256"]
    status, body, _ = call(
        client, operator, "POST", "firmware-images", data={"name": "x", "version": "1"},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert status == 422 and "file" in fields(body), body
    status, page, _ = call(client, operator, "GET", "firmware-images", query_string={"q": digest})
    assert [item["version"] for item in page["items"]] == ["1.2.0"]
    # a firmware job names the image; an unknown one is refused by field
    meter_ids = fleet(runtime, 1)
    action = {"action": "upgrade_firmware", "parameters": {"image": "acme-fw"}}
    status, job, _ = call(
        client, operator, "POST", "jobs",
        json={"name": "upgrade", "actions": [action], "meters": meter_ids},
    )  # fmt: skip
    assert status == 201, job
    assert job["actions"][0]["parameters"]["image_id"] == stored["id"]
    action["parameters"]["image"] = "other-fw"
    status, body, _ = call(
        client, operator, "POST", "jobs",
        json={"name": "upgrade 2", "actions": [action], "meters": meter_ids},
    )  # fmt: skip
    assert status == 422 and "actions[0].parameters.image" in fields(body)


def test_a_reader_sees_but_cannot_start_change_or_cancel(
    app: Flask, runtime: Runtime, operator: Login, reader: Login
) -> None:
    meter_ids = fleet(runtime, 1)
    client = app.test_client()
    status, job, _ = call(
        client, operator, "POST", "jobs",
        json={"name": "clock", "actions": [{"action": "read_clock"}], "meters": meter_ids},
    )  # fmt: skip
    status, run, _ = call(client, operator, "POST", f"jobs/{job['id']}/runs")
    for method, url in [("GET", "jobs"), ("GET", f"jobs/{job['id']}"), ("GET", "runs"),
                        ("GET", f"runs/{run['id']}"), ("GET", "tasks"), ("GET", "error-groups"),
                        ("GET", "firmware-images")]:  # fmt: skip
        status, body, _ = call(client, reader, method, url)
        assert status == 200, (url, body)
    status, _, headers = call(client, reader, "GET", f"jobs/{job['id']}")
    refused = [
        ("POST", "jobs", {"json": {"name": "x", "actions": [{"action": "read_clock"}]}}),
        ("PATCH", f"jobs/{job['id']}", {"json": {"priority": 1},
                                         "headers": {"If-Match": headers["ETag"]}}),
        ("DELETE", f"jobs/{job['id']}", {"headers": {"If-Match": headers["ETag"]}}),
        ("POST", f"jobs/{job['id']}/runs", {}),
        ("POST", f"runs/{run['id']}/cancel", {}),
        ("POST", f"meters/{meter_ids[0]}/quick-job",
         {"json": {"actions": [{"action": "read_clock"}]}}),
    ]  # fmt: skip
    for method, url, kwargs in refused:
        status, body, _ = call(client, reader, method, url, **kwargs)
        assert status == 403, (method, url, body)
    status, run_now, _ = call(client, reader, "GET", f"runs/{run['id']}")
    assert run_now["state"] == "queued"


def test_the_debug_log_of_a_dlms_task_has_its_frames_with_secrets_masked(
    app: Flask, runtime: Runtime, operator: Login, start_engine: Callable[[], AcquisitionEngine]
) -> None:
    from sqlalchemy import select

    from meterhub.credential_keys import open_cipher
    from meterhub.demo import populate_demo
    from meterhub.model.meters import Meter

    simulator = runtime.plugins.simulators()["dlms"]()
    client = app.test_client()
    with simulator.start(1, options={"framing": "wrapper", "authentication": "high"}) as sim:
        cipher = open_cipher(runtime.settings.effective_credential_key_file, runtime.sessions)
        with transaction(runtime.sessions, user="tester") as session:
            populate_demo(session, sim.endpoints, runtime.plugins.drivers(), cipher)
            (meter_id,) = session.scalars(select(Meter.id)).all()
        start_engine()
        status, run, _ = call(
            client, operator, "POST", f"meters/{meter_id}/quick-job",
            json={"actions": [{"action": "read_clock"}]},
        )  # fmt: skip
        assert status == 202, run
        assert wait_ended(client, operator, run["id"])["state"] == "succeeded"
    status, tasks, _ = call(client, operator, "GET", "tasks", query_string={"run_id": run["id"]})
    (task,) = tasks["items"]
    status, trace, _ = call(client, operator, "GET", f"tasks/{task['id']}/trace")
    assert status == 200
    (session_log,) = trace["sessions"]
    frames = session_log["frames"]
    assert len(frames) > 4 and session_log["bytes_sent"] > 0
    assert {"tx", "rx"} <= {frame["direction"] for frame in frames}
    assert frames[0]["direction"] == "note" and frames[0]["text"].startswith("tcp connected")
    sent = [frame for frame in frames if frame["direction"] in ("tx", "rx")]
    assert all(frame["time"] and bytes.fromhex(frame["hex"]) for frame in sent)
    secrets = [
        endpoint.settings[key].lower()
        for endpoint in sim.endpoints
        for key in ("authentication_key", "block_cipher_key")
    ]
    text = "".join(frame["hex"] for frame in frames)
    assert not any(secret in text for secret in secrets)
    # the keys' places are named, their bytes were replaced when the frame was recorded
    masked = next(frame for frame in sent if frame["masked"])
    start, end = masked["masked"][0]
    assert bytes.fromhex(masked["hex"])[start:end] == b"*" * (end - start)


def test_a_user_of_one_segment_runs_and_follows_only_its_meters(
    app: Flask, runtime: Runtime, admin: Login, start_engine: Callable[[], AcquisitionEngine]
) -> None:
    own = fleet(runtime, 2, name="North", segment="North")
    other = fleet(runtime, 1, name="South", segment="South")
    permissions = {kind: ["view", "create", "edit", "delete"] for kind in ACQUISITION}
    permissions |= {"meter": ["view"], "group": ["view"]}
    north = make_user(
        runtime, "nora", role="North operator", permissions=permissions, segments=["North"]
    )
    client = app.test_client()
    clock = [{"action": "read_clock"}]
    status, body, _ = call(
        client, north, "POST", "jobs", json={"name": "x", "actions": clock, "meters": other}
    )
    assert status == 422 and "there is no meter" in fields(body)["meters[0]"]
    status, mine, _ = call(
        client, north, "POST", "jobs", json={"name": "north", "actions": clock, "meters": own}
    )
    assert status == 201, mine
    # the administrator's job over both segments: not visible to the north user, nor its run
    status, both, _ = call(
        client, admin, "POST", "jobs",
        json={"name": "both", "actions": clock, "meters": own + other},
    )  # fmt: skip
    status, both_run, _ = call(client, admin, "POST", f"jobs/{both['id']}/runs")
    start_engine()
    status, run, _ = call(client, north, "POST", f"jobs/{mine['id']}/runs")
    assert status == 202, run
    assert wait_ended(client, north, run["id"])["state"] == "succeeded"
    wait_ended(client, admin, both_run["id"])
    status, jobs, _ = call(client, north, "GET", "jobs")
    assert [job["name"] for job in jobs["items"]] == ["north"]
    status, runs, _ = call(client, north, "GET", "runs")
    assert [item["id"] for item in runs["items"]] == [run["id"]]
    status, _, _ = call(client, north, "GET", f"runs/{both_run['id']}")
    assert status == 404
    # tasks are seen by their meter: the north meters' tasks of both runs, nothing of the south
    status, tasks, _ = call(client, north, "GET", "tasks", query_string={"page_size": 100})
    assert {task["meter_id"] for task in tasks["items"]} == set(own)
    assert tasks["total"] == 4
    # a job over a group that gained a meter of another segment is not started for them
    from sqlalchemy import select

    from meterhub.model.groups import MeterGroup
    from meterhub.model.metering import VirtualMeter
    from meterhub.model.meters import MeterAssignment

    with transaction(runtime.sessions, user="tester") as session:
        north_group = session.scalars(select(MeterGroup).where(MeterGroup.name == "North")).one()
        south_vm = session.scalars(
            select(MeterAssignment.virtual_meter_id).where(MeterAssignment.meter_id == other[0])
        ).one()
        groups.add_members(session, north_group, [session.get(VirtualMeter, south_vm)])
        group_id = north_group.id
    status, by_group, _ = call(
        client,
        north,
        "POST",
        "jobs",
        json={"name": "group", "actions": clock, "groups": [group_id]},
    )
    assert status == 201, by_group
    status, body, _ = call(client, north, "POST", f"jobs/{by_group['id']}/runs")
    assert status == 422 and "outside your data segments" in fields(body)["targets"]
