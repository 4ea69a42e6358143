"""Every inventory object through the REST API with the Python client: create, get, list with
filters, sort and quick search, update with ETags, delete; secrets never come back; every
change is in the audit log under the acting user."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from api_helpers import Login, bearer, make_user
from flask import Flask

from meterhub.client import ApiError, Client
from meterhub.runtime import Runtime

EIC = "27ZMH-DEMO10100N"


def build_tree(hub: Client) -> dict[str, Any]:
    """A small fleet: region → consumer → metering point → virtual meter → channel, a meter."""
    template = hub.create("templates", name="Region", kind="region")
    hub.request(
        "POST",
        f"templates/{template['id']}/attributes",
        json={"name": "tariff", "value_type": "string", "default": "D01"},
    )
    region = hub.create("elements", name="North", template_id=template["id"])
    consumer = hub.create("elements", name="C1", template_id=template["id"], parent_id=region["id"])
    point = hub.create(
        "metering-points", element_id=consumer["id"], name="Main", eic=EIC, metering_code="MC-1"
    )
    virtual = hub.create("virtual-meters", metering_point_id=point["id"], name="VM 1")
    channel = hub.create(
        "channels", virtual_meter_id=virtual["id"], obis="1.8.0", interval_minutes=15, unit="kWh"
    )
    meter = hub.create("meters", manufacturer="ACME", serial_number="SN-0001", driver="simulated")
    device = hub.create(
        "communication-devices", name="Modem 1", kind="modem", phone_number="+420 123 456"
    )
    path = hub.create(
        "communication-paths", meter_id=meter["id"], device_id=device["id"], priority=1
    )
    group = hub.create("groups", name="All", members=[virtual["id"]])
    return {
        "template": template,
        "region": region,
        "consumer": consumer,
        "point": point,
        "virtual": virtual,
        "channel": channel,
        "meter": meter,
        "device": device,
        "path": path,
        "group": group,
    }


def test_the_fleet_is_built_and_read_back(hub: Client) -> None:
    fleet = build_tree(hub)
    assert fleet["consumer"]["path"] == "North/C1"
    assert fleet["consumer"]["attributes"] == {"tariff": "D01"}
    assert fleet["channel"]["obis"] == "1-0:1.8.0*255"
    assert fleet["device"]["phone_number"] == "+420123456"
    assert fleet["group"]["members"] == [fleet["virtual"]["id"]]
    assert hub.fetch("metering-points", fleet["point"]["id"])["eic"] == EIC
    assert [e["name"] for e in hub.list("elements", sort="-name")] == ["North", "C1"]
    assert [e["name"] for e in hub.list("elements", parent_id__null=True)] == ["North"]
    assert [p["name"] for p in hub.list("metering-points", q="mc-1")] == ["Main"]
    hits = {(hit["object_type"], hit["matched"]) for hit in hub.search("123456")}
    assert hits == {("communication_device", "phone_number")}
    assert {hit["object_type"] for hit in hub.search("sn-00")} == {"meter"}


def test_paging_walks_every_page(hub: Client) -> None:
    template = hub.create("templates", name="Region")
    for number in range(7):
        hub.create("elements", name=f"E{number}", template_id=template["id"])
    page = hub.page("elements", page=2, page_size=3, sort="name")
    assert (page["total"], [e["name"] for e in page["items"]]) == (7, ["E3", "E4", "E5"])
    assert len(list(hub.list("elements", page_size=3))) == 7
    assert [e["name"] for e in hub.list("elements", name__ge="E5", sort="-name")] == ["E6", "E5"]


def test_filters_sort_and_search_refuse_unknown_columns(hub: Client) -> None:
    with pytest.raises(ApiError) as refused:
        hub.get("elements", colour="red")
    assert refused.value.status == 422
    assert refused.value.errors == [{"field": "colour", "reason": "Unknown field."}]
    with pytest.raises(ApiError) as refused:
        hub.get("elements", sort="colour")
    assert refused.value.errors[0]["field"] == "sort"
    assert "sortable columns" in refused.value.errors[0]["reason"]


def test_text_with_nul_is_refused_before_the_database(hub: Client) -> None:
    # PostgreSQL can neither store nor compare text with NUL: 422 naming the field, not a 500
    for query in ({"name__gt": "a\x00b"}, {"q": "\x00"}, {"sort": "name\x00"}):
        with pytest.raises(ApiError) as refused:
            hub.get("elements", **query)
        assert refused.value.status == 422
        (field,) = query
        assert refused.value.errors == [
            {"field": field, "reason": "must not contain the NUL character (0x00)"}
        ]
    with pytest.raises(ApiError) as refused:
        hub.create("scripts", name="nul\x00name", purpose="check", source="x = 1")
    assert refused.value.status == 422
    assert refused.value.errors[0]["field"] == "name"


def test_an_update_needs_the_current_etag(hub: Client, app: Flask, admin: Login) -> None:
    template = hub.create("templates", name="Region")
    element = hub.create("elements", name="North", template_id=template["id"])
    raw = app.test_client()
    url = f"/api/v1/elements/{element['id']}"
    etag = raw.get(url, headers=bearer(admin)).headers["ETag"]
    missing = raw.patch(url, json={"name": "South"}, headers=bearer(admin))
    assert missing.status_code == 428
    assert missing.mimetype == "application/problem+json"
    assert hub.update("elements", element["id"], name="South")["name"] == "South"
    stale = raw.patch(url, json={"name": "East"}, headers={**bearer(admin), "If-Match": etag})
    assert stale.status_code == 412  # someone changed it since that read: nothing overwritten
    assert hub.fetch("elements", element["id"])["name"] == "South"


def test_bad_input_names_each_field(hub: Client) -> None:
    template = hub.create("templates", name="Region")
    with pytest.raises(ApiError) as refused:
        hub.create("elements", template_id=template["id"], name=7, colour="red")
    assert refused.value.status == 422
    assert {e["field"] for e in refused.value.errors} == {"name", "colour"}
    element = hub.create("elements", name="North", template_id=template["id"])
    with pytest.raises(ApiError) as refused:
        hub.create("metering-points", element_id=element["id"], name="M", eic="27ZMH-DEMO10100X")
    assert refused.value.status == 422
    assert refused.value.errors[0]["field"] == "eic"
    with pytest.raises(ApiError) as refused:
        hub.create("elements", name="North", template_id=template["id"])
    assert (refused.value.status, refused.value.errors[0]["field"]) == (409, "name")


def test_deleting_what_is_still_used_is_refused(hub: Client) -> None:
    fleet = build_tree(hub)
    with pytest.raises(ApiError) as refused:
        hub.delete("meters", fleet["meter"]["id"])
    assert refused.value.status == 409
    assert "communication_path" in refused.value.problem["detail"]
    hub.delete("communication-paths", fleet["path"]["id"])
    hub.delete("meters", fleet["meter"]["id"])
    hub.delete("groups", fleet["group"]["id"])
    hub.delete("channels", fleet["channel"]["id"])
    hub.delete("virtual-meters", fleet["virtual"]["id"])
    with pytest.raises(ApiError) as gone:
        hub.fetch("virtual-meters", fleet["virtual"]["id"])
    assert gone.value.status == 404


def test_credentials_are_written_apart_and_never_returned(
    hub: Client, app: Flask, admin: Login
) -> None:
    meter = hub.create("meters", manufacturer="ACME", serial_number="SN-7", driver="dlms")
    with pytest.raises(ApiError) as refused:
        hub.create(
            "meters",
            manufacturer="ACME",
            serial_number="SN-8",
            driver="dlms",
            driver_settings={"password": "hunter22"},
        )
    assert refused.value.errors[0]["field"] == "driver_settings.password"
    answer = app.test_client().put(
        f"/api/v1/meters/{meter['id']}/credentials",
        json={"credentials": {"password": "12345678"}},
        headers=bearer(admin),
    )
    assert answer.status_code == 204
    shown = hub.fetch("meters", meter["id"])
    assert shown["has_credentials"] is True
    listed = app.test_client().get("/api/v1/meters", headers=bearer(admin)).get_data(as_text=True)
    assert "12345678" not in listed and "credentials_encrypted" not in listed
    trail = list(hub.list("audit-log", object_type="meter", object_id=str(meter["id"])))
    assert {"credentials_set"} <= {row["action"] for row in trail}
    assert all("12345678" not in str(row["new_value"]) for row in trail)


def test_writing_credentials_needs_its_function(
    runtime: Runtime, client_for: Callable[[Login], Client], hub: Client
) -> None:
    meter = hub.create("meters", manufacturer="ACME", serial_number="SN-9", driver="dlms")
    editor = make_user(
        runtime, "editor", role="Meter editor", permissions={"meter": ["view", "edit"]}
    )
    with pytest.raises(ApiError) as refused:
        client_for(editor).request(
            "PUT",
            f"meters/{meter['id']}/credentials",
            json={"credentials": {"password": "12345678"}},
        )
    assert refused.value.status == 403
    assert "meter_credentials" in refused.value.problem["detail"]


def test_every_change_is_audited_with_the_acting_user(hub: Client, admin: Login) -> None:
    fleet = build_tree(hub)
    hub.update("metering-points", fleet["point"]["id"], name="Main feed")
    rows = list(hub.list("audit-log", object_type="metering_point"))
    assert {row["changed_by"] for row in rows} == {"admin"}
    assert any(
        row["action"] == "change" and row["old_value"] == "Main" and row["new_value"] == "Main feed"
        for row in rows
    )
    for kind in (
        "element",
        "virtual_meter",
        "channel",
        "meter",
        "communication_device",
        "meter_group",
    ):
        assert any(row["object_type"] == kind for row in hub.list("audit-log", action="create")), (
            kind
        )


def test_meter_exchange_through_the_api(hub: Client) -> None:
    fleet = build_tree(hub)
    second = hub.create("meters", manufacturer="ACME", serial_number="SN-0002", driver="simulated")
    for meter, start in (
        (fleet["meter"], "2026-01-01T00:00:00+00:00"),
        (second, "2026-06-01T00:00:00+00:00"),
    ):
        hub.request(
            "POST",
            f"meters/{meter['id']}/assignments",
            json={"virtual_meter_id": fleet["virtual"]["id"], "valid_from": start},
        )
    history = hub.get(f"meters/{fleet['meter']['id']}/assignments")
    assert history[0]["valid_to"] == "2026-06-01T00:00:00+00:00"


def test_the_named_user_limit_of_the_license(hub: Client) -> None:
    # the development license allows 5 named users; the administrator is one
    for number in range(4):
        hub.create("users", username=f"user{number}", password="Correct-Horse-42")
    with pytest.raises(ApiError) as refused:
        hub.create("users", username="user9", password="Correct-Horse-42")
    assert refused.value.status == 409
    assert "5 named users" in refused.value.problem["detail"]


def test_client_login_creates_and_revokes_its_token(app: Flask, admin: Login) -> None:
    transport = httpx.WSGITransport(app=app)
    with Client.login("http://testserver", "admin", "Correct-Horse-42", transport=transport) as hub:
        assert hub.get("auth/me")["user"]["username"] == "admin"
        token = hub.http.headers["Authorization"]
    answer = httpx.Client(transport=transport, base_url="http://testserver").get(
        "/api/v1/auth/me", headers={"Authorization": token}
    )
    assert answer.status_code == 401
