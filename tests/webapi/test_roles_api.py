"""Roles through the API: consistent permission sets, renaming, functions, no escalation."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from api_helpers import Login, make_user

from meterhub.client import ApiError, Client
from meterhub.runtime import Runtime


@pytest.mark.parametrize(
    ("actions", "reason"),
    [
        (["delete"], "delete needs view, create, edit"),
        (["view", "edit", "delete"], "add create"),
        (["create"], "create needs view"),
        (["edit"], "edit needs view"),
        (["view", "fly"], "'fly' is not an action"),
    ],
)
def test_inconsistent_permissions_are_refused(hub: Client, actions: list[str], reason: str) -> None:
    with pytest.raises(ApiError) as refused:
        hub.create("roles", name="Odd", permissions={"meter": actions})
    assert refused.value.status == 422
    assert refused.value.errors[0]["field"] in ("permissions.meter", "permissions.meter.value.1")
    assert reason in refused.value.errors[0]["reason"] or refused.value.errors[0]["field"].endswith(
        ".1"
    )


def test_unknown_object_types_and_functions_are_refused(hub: Client) -> None:
    with pytest.raises(ApiError) as refused:
        hub.create("roles", name="Odd", permissions={"spaceship": ["view"]})
    assert refused.value.errors[0]["field"] == "permissions.spaceship"
    with pytest.raises(ApiError) as refused:
        hub.create("roles", name="Odd", functions=["teleport"])
    assert refused.value.errors[0]["field"] == "functions"


def test_roles_are_renamed_and_their_permissions_apply(
    runtime: Runtime, hub: Client, client_for: Callable[[Login], Client]
) -> None:
    role = hub.create("roles", name="Readers", permissions={"element": ["view"]})
    user = make_user(runtime, "reader", role="Readers")
    renamed = hub.update("roles", role["id"], name="Tree readers")
    assert renamed["name"] == "Tree readers"
    reader = client_for(user)
    assert reader.page("elements")["total"] == 0
    with pytest.raises(ApiError) as refused:
        reader.page("meters")
    assert refused.value.status == 403
    hub.update("roles", role["id"], permissions={"element": ["view"], "meter": ["view"]})
    assert reader.page("meters")["total"] == 0  # the change applies at the next request
    rows = list(hub.list("audit-log", object_type="role", object_id=str(role["id"])))
    assert any(r["attribute"] == "permissions.meter" and r["new_value"] == "view" for r in rows)
    assert any(r["attribute"] == "name" and r["new_value"] == "Tree readers" for r in rows)


def test_nobody_hands_out_more_than_they_hold(
    runtime: Runtime, hub: Client, client_for: Callable[[Login], Client]
) -> None:
    manager = make_user(
        runtime,
        "manager",
        role="User manager",
        permissions={
            "user": ["view", "create", "edit", "delete"],
            "role": ["view", "create", "edit", "delete"],
        },
    )
    boss = client_for(manager)
    with pytest.raises(ApiError) as refused:
        boss.create("roles", name="Mighty", functions=["administration"])
    assert refused.value.status == 403
    administrator = next(r for r in hub.list("roles") if r["name"] == "Administrator")
    with pytest.raises(ApiError) as refused:
        boss.update("users", manager.user_id, roles=[administrator["id"]])
    assert refused.value.status == 403
    with pytest.raises(ApiError) as refused:
        boss.create(
            "users", username="crony", password="Correct-Horse-42", roles=[administrator["id"]]
        )
    assert refused.value.status == 403


def test_a_held_role_and_the_last_administering_role_stay(hub: Client) -> None:
    administrator = next(r for r in hub.list("roles") if r["name"] == "Administrator")
    with pytest.raises(ApiError) as refused:
        hub.delete("roles", administrator["id"])
    assert refused.value.status == 409
    with pytest.raises(ApiError) as refused:
        hub.update("roles", administrator["id"], functions=[])
    assert refused.value.status == 409
    spare = hub.create(
        "roles", name="Spare", permissions={"element": ["view", "create", "edit", "delete"]}
    )
    hub.delete("roles", spare["id"])


def test_own_profile(hub: Client) -> None:
    me = hub.request(
        "PATCH",
        "auth/me",
        json={"email": "admin@example.com", "language": "cs", "time_zone": "Europe/Prague"},
    ).json()
    assert (me["user"]["email"], me["user"]["language"], me["user"]["time_zone"]) == (
        "admin@example.com",
        "cs",
        "Europe/Prague",
    )
    with pytest.raises(ApiError) as refused:
        hub.request("PATCH", "auth/me", json={"time_zone": "Mars/Olympus"})
    assert refused.value.errors[0]["field"] == "time_zone"
    with pytest.raises(ApiError) as refused:
        hub.request("PATCH", "auth/me", json={"email": "not an address"})
    assert refused.value.errors[0]["field"] == "email"


def test_system_parameters_with_etag(hub: Client) -> None:
    listed = {p["name"]: p for p in hub.get("system-parameters")}
    assert listed["password.max_failed_logins"]["value"] == 5
    changed = hub.update("system-parameters", "password.max_failed_logins", value=3)
    assert changed["value"] == 3
    with pytest.raises(ApiError) as refused:
        hub.update("system-parameters", "password.complexity", value="medium")
    assert refused.value.status == 422 and refused.value.errors[0]["field"] == "value"
    hub.delete("system-parameters", "password.max_failed_logins")
    assert hub.fetch("system-parameters", "password.max_failed_logins")["value"] == 5
    with pytest.raises(ApiError) as refused:
        hub.fetch("system-parameters", "no.such")
    assert refused.value.status == 404
