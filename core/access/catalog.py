"""The catalog of access control: object types, actions on them, functions, and their rules.

A role grants **actions** (``view``, ``create``, ``edit``, ``delete``) per **object type** and
enables **functions** (operations that are not "an action on an object type", such as writing a
meter's credentials). A permission set must be consistent: ``create``, ``edit`` and ``delete``
each need ``view``, and ``delete`` needs ``edit`` and ``create`` as well
(:func:`check_actions` refuses anything else).

A capability that brings a new kind of object adds its object type to :data:`OBJECT_TYPES`
(and, when its objects belong to the business tree, a rule to
:data:`meterhub.access.scope.VISIBILITY`); one that brings a new operation adds a function to
:data:`FUNCTIONS`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from meterhub.errors import InvalidValue

#: The actions, in the order they build on each other.
ACTIONS: tuple[str, ...] = ("view", "create", "edit", "delete")

#: What each action needs besides itself.
ACTION_NEEDS: Mapping[str, frozenset[str]] = {
    "view": frozenset(),
    "create": frozenset({"view"}),
    "edit": frozenset({"view"}),
    "delete": frozenset({"view", "create", "edit"}),
}

#: Object types a role grants actions on, with what they are.
OBJECT_TYPES: Mapping[str, str] = {
    "element": "elements of the business tree (with their attribute values)",
    "template": "templates of elements and their attributes",
    "metering_point": "metering points",
    "virtual_meter": "virtual meters",
    "container": "containers of processed data",
    "channel": "channels of virtual meters",
    "meter": "physical meters and their assignments",
    "communication_device": "communication devices (modems, IP endpoints, serial ports)",
    "communication_path": "communication paths of meters",
    "group": "meter groups",
    "meter_data": "meter data: view reads values, edit writes substitutes, recalculates, restores",
    "user": "named users",
    "role": "roles",
    "segment": "data segments",
    "system_parameter": "system parameters (password policy, ...)",
    "audit_log": "the audit log",
    "api_token": "API tokens of other users (everyone manages their own)",
    "job": "acquisition jobs (what to read or do, on which meters, when)",
    "job_run": "runs of acquisition jobs: view follows them, create starts runs and quick jobs, "
    "edit cancels",
    "task": "acquisition tasks and their debug logs (frame traces)",
    "error_group": "error groups of meters whose acquisition failed (run again: create job_run)",
    "firmware_image": "the firmware image store",
    "validation_profile": "VEE validation profiles (checks and estimation steps, schedule)",
    "vee_run": "VEE runs: view follows them, create runs a profile over a period",
    "script": "customer scripts: view reads them, create saves new ones and tests them on "
    "sample data, edit saves new versions",
    "calculation": "calculated channels: formulas over other channels (running one also needs "
    "edit on meter_data)",
    "billing_release": "releases of channels' periods for billing",
    "statistic": "communication statistics (sessions per hour or day of virtual meters, "
    "devices and paths; the fleet-wide summary also needs all_segments)",
}

#: Functions a role enables, with what they allow.
FUNCTIONS: Mapping[str, str] = {
    "administration": "every action on every object type and every function",
    "all_segments": "see and change the objects of every data segment",
    "meter_credentials": "write meters' credentials (passwords, keys)",
    "password_reset": "set another user's password and unlock the account",
    "api_tokens": "create API tokens for oneself",
    "meter_control": "jobs and runs with control actions (switching the supply, relays, load "
    "limits, tariffs, firmware)",
}


def check_actions(
    object_type: str, actions: Iterable[str], *, field: str | None = None
) -> set[str]:
    """The ``actions`` for ``object_type`` checked: known names, a known type, consistent.

    Raises :class:`~meterhub.errors.InvalidValue` naming ``permissions.<type>`` (or ``field``)
    when the object type or an action is unknown, or when an action lacks one it needs (delete
    needs edit, create and view; create and edit need view).
    """
    where = field or f"permissions.{object_type}"
    if object_type not in OBJECT_TYPES:
        known = ", ".join(OBJECT_TYPES)
        raise InvalidValue(where, f"{object_type!r} is not an object type (known: {known})")
    if isinstance(actions, str):
        raise InvalidValue(where, "must be a list of actions such as ['view', 'edit']")
    granted: set[str] = set()
    for action in actions:
        if action not in ACTION_NEEDS:
            raise InvalidValue(
                where, f"{action!r} is not an action (actions: {', '.join(ACTIONS)})"
            )
        granted.add(action)
    for action in ACTIONS:
        missing = ACTION_NEEDS[action] - granted if action in granted else set()
        if missing:
            needs = ", ".join(a for a in ACTIONS if a in ACTION_NEEDS[action])
            lacking = ", ".join(a for a in ACTIONS if a in missing)
            raise InvalidValue(where, f"{action} needs {needs}; add {lacking} or remove {action}")
    return granted


def check_function(name: object, *, field: str = "functions") -> str:
    """``name`` if it is a known function, else :class:`~meterhub.errors.InvalidValue`."""
    if not isinstance(name, str) or name not in FUNCTIONS:
        known = ", ".join(FUNCTIONS)
        raise InvalidValue(field, f"{name!r} is not a function (known: {known})")
    return name


def ordered(actions: Iterable[str]) -> list[str]:
    """``actions`` in the catalog's order."""
    granted = set(actions)
    return [action for action in ACTIONS if action in granted]
