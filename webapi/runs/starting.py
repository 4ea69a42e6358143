"""Starting runs through the API: the checks every way of starting one shares.

A run needs ``create`` on ``job_run``; one with a control action (switching the supply,
relays, load limits, tariffs, firmware) the function ``meter_control`` as well. A user limited
to some data segments may start a run only when every meter it would read is in them (a meter
group may have gained members of other segments since the job was made). The run records the
API user as who started it, and control actions are in the audit log under that name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterhub.access import AccessContext
from meterhub.acquisition.actions import CONTROL_ACTIONS
from meterhub.acquisition.runs import RunPolicy, resolve_targets
from meterhub.errors import InvalidValue
from meterhub.inventory.common import chunks
from meterhub.model.meters import Meter
from meterhub.webapi.state import current_runtime


def action_names(actions: Iterable[Any]) -> list[str]:
    """The names of ``actions`` (names or ``{"action": name, ...}``)."""
    return [
        entry if isinstance(entry, str) else str(entry.get("action", ""))
        for entry in actions
        if isinstance(entry, str | Mapping)
    ]


def require_control(access: AccessContext, actions: Iterable[Any]) -> None:
    """``meter_control`` when any of ``actions`` is a control action."""
    if any(name in CONTROL_ACTIONS for name in action_names(actions)):
        access.require_function("meter_control")


def check_targets(session: Session, access: AccessContext, targets: Mapping[str, Any]) -> None:
    """For a user limited to some segments: every meter of ``targets`` (now) is visible."""
    if access.scope.unrestricted:
        return
    wanted = resolve_targets(session.connection(), targets, datetime.now(UTC))
    visible: set[int] = set()
    for batch in chunks(wanted):
        statement = select(Meter.id).where(Meter.id.in_(batch))
        visible.update(session.scalars(access.scope.restrict(statement, "meter")))
    if set(wanted) - visible:
        raise InvalidValue(
            "targets", "the job would read meters outside your data segments; it was not started"
        )


def run_settings() -> tuple[int, RunPolicy]:
    """The default line capacity and the run policy of the runtime's settings."""
    settings = current_runtime().settings
    return settings.acquisition_default_capacity, RunPolicy(
        settings.acquisition_user_share, settings.acquisition_large_job
    )
