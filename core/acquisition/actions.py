"""The actions a job can ask for, their parameters, and read ranges relative to the run.

Every driver action (:class:`meterhub.extensions.driver.Action`) can be a job action. Each has
a parameter model (unknown parameters are refused, each wrong value is named):

============================  ==============================================================
action                        parameters
============================  ==============================================================
``read_load_profile``         ``range`` (below), ``hours``, ``initial_days``, ``max_days``
``read_events``               the same
``read_billing``              the same, and ``period`` (``daily`` or ``monthly``)
``read_registers``            ``obis``: codes to read (default: the register channels)
``read_instantaneous``        —
``read_clock``                —
``set_clock``                 ``tolerance`` (s, default 10), ``maximum`` (s, default 3600)
``disconnect_supply``         —
``reconnect_supply``          —
``set_relay``                 ``relay`` (1..16), ``closed`` (true/false)
``read_load_limit``           —
``set_load_limit``            ``normal``, ``emergency`` (optional)
``upload_tariff``             ``calendar``: the time-of-use calendar (JSON object)
``upgrade_firmware``          ``image``: a name in the firmware store, ``version`` (optional:
                              the newest of that name)
============================  ==============================================================

**Read ranges** are relative to the run, so a missed run catches up by itself:
``since_last_read`` (the default) reads from the end of the last successful read of that meter
and action (``initial_days`` back for a meter never read, at most ``max_days`` back);
``previous_day`` reads the local day before the run's time in the job's zone; ``last_hours``
reads the ``hours`` before the run's time.

**Control actions** (switching the supply, relays, load limits, tariffs, firmware) are recorded
in the audit log with the user who started the run and the outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from meterhub.errors import InvalidValue
from meterhub.extensions.driver import Action
from meterhub.identifiers import canonical_obis

__all__ = [
    "ACTIONS",
    "CONTROL_ACTIONS",
    "ActionSpec",
    "JobAction",
    "parse_actions",
    "read_range",
]


class _Parameters(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoParameters(_Parameters):
    """An action without parameters."""


class RangeParameters(_Parameters):
    """Which period a reading action asks the meter for."""

    range: Literal["since_last_read", "previous_day", "last_hours"] = "since_last_read"
    hours: int = Field(24, ge=1, le=24 * 366)
    initial_days: int = Field(1, ge=1, le=366)
    max_days: int = Field(31, ge=1, le=366)


class BillingParameters(RangeParameters):
    """Billing values: the period and the range of period ends."""

    period: Literal["daily", "monthly"] = "monthly"
    initial_days: int = Field(31, ge=1, le=366)


class RegisterParameters(_Parameters):
    """Registers to read; none given: the OBIS codes of the virtual meter's register channels."""

    obis: tuple[str, ...] = ()

    @field_validator("obis", mode="before")
    @classmethod
    def _codes(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            return tuple(canonical_obis(str(code).strip(), field="obis") for code in value)
        return value


class ClockParameters(_Parameters):
    """Clock synchronisation: correct beyond ``tolerance``, never beyond ``maximum`` seconds."""

    tolerance: float = Field(10.0, ge=0, le=86_400)
    maximum: float = Field(3600.0, gt=0, le=10 * 366 * 86_400)

    @model_validator(mode="after")
    def _order(self) -> ClockParameters:
        if self.maximum <= self.tolerance:
            raise ValueError(
                f"maximum ({self.maximum:g} s) must be more than tolerance ({self.tolerance:g} s)"
            )
        return self


class RelayParameters(_Parameters):
    """Which auxiliary relay and how to switch it."""

    relay: int = Field(ge=1, le=16)
    closed: bool


class LoadLimitParameters(_Parameters):
    """New limiter thresholds, in the units of the monitored value."""

    normal: float = Field(gt=0)
    emergency: float | None = Field(None, gt=0)


class TariffParameters(_Parameters):
    """A time-of-use calendar as plain JSON data (the driver knows its shape)."""

    calendar: dict[str, Any]


class FirmwareParameters(_Parameters):
    """A firmware image of the store, by name (and version; default the newest)."""

    image: str = Field(min_length=1, max_length=100)
    version: str | None = Field(None, min_length=1, max_length=64)
    image_id: int | None = None


@dataclass(frozen=True)
class ActionSpec:
    """One job action: its parameter model and whether it is a control action (audited)."""

    action: Action
    parameters: type[_Parameters]
    control: bool = False


#: Every job action by name.
ACTIONS: dict[str, ActionSpec] = {
    spec.action.value: spec
    for spec in (
        ActionSpec(Action.READ_LOAD_PROFILE, RangeParameters),
        ActionSpec(Action.READ_EVENTS, RangeParameters),
        ActionSpec(Action.READ_BILLING, BillingParameters),
        ActionSpec(Action.READ_REGISTERS, RegisterParameters),
        ActionSpec(Action.READ_INSTANTANEOUS, NoParameters),
        ActionSpec(Action.READ_CLOCK, NoParameters),
        ActionSpec(Action.SET_CLOCK, ClockParameters),
        ActionSpec(Action.DISCONNECT_SUPPLY, NoParameters, control=True),
        ActionSpec(Action.RECONNECT_SUPPLY, NoParameters, control=True),
        ActionSpec(Action.SET_RELAY, RelayParameters, control=True),
        ActionSpec(Action.READ_LOAD_LIMIT, NoParameters),
        ActionSpec(Action.SET_LOAD_LIMIT, LoadLimitParameters, control=True),
        ActionSpec(Action.UPLOAD_TARIFF, TariffParameters, control=True),
        ActionSpec(Action.UPGRADE_FIRMWARE, FirmwareParameters, control=True),
    )
}

#: Actions recorded in the audit log with who started them.
CONTROL_ACTIONS: frozenset[str] = frozenset(name for name, spec in ACTIONS.items() if spec.control)


@dataclass(frozen=True)
class JobAction:
    """One checked action of a job with its parsed parameters."""

    name: str
    parameters: Any

    def as_json(self) -> dict[str, Any]:
        """The stored form: ``{"action": name, "parameters": {...}}`` (defaults included)."""
        return {"action": self.name, "parameters": self.parameters.model_dump(mode="json")}


def _parameters(spec: ActionSpec, raw: object, field: str) -> Any:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise InvalidValue(field, "must be an object of parameter names and values")
    try:
        return spec.parameters.model_validate(dict(raw))
    except InvalidValue as exc:
        raise InvalidValue(f"{field}.{exc.field}", exc.reason) from None
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            known = ", ".join(spec.parameters.model_fields) or "none"
            message = f"unknown parameter (this action takes: {known})"
        raise InvalidValue(f"{field}.{where}" if where else field, message) from None


def parse_action(entry: object, field: str = "action") -> JobAction:
    """One action: a name (``"read_clock"``) or ``{"action": name, "parameters": {...}}``."""
    name: object
    raw: object
    if isinstance(entry, str):
        name, raw = entry, None
    elif isinstance(entry, Mapping):
        unknown = set(entry) - {"action", "parameters"}
        if unknown:
            raise InvalidValue(field, f"unknown keys {sorted(unknown)}; use action, parameters")
        name, raw = entry.get("action"), entry.get("parameters")
    else:
        raise InvalidValue(field, "must be an action name or {action, parameters}")
    if not isinstance(name, str) or name.strip() not in ACTIONS:
        known = ", ".join(sorted(ACTIONS))
        raise InvalidValue(f"{field}.action", f"unknown action {name!r}; known: {known}")
    spec = ACTIONS[name.strip()]
    return JobAction(spec.action.value, _parameters(spec, raw, f"{field}.parameters"))


def parse_actions(entries: object) -> list[JobAction]:
    """A job's actions: a non-empty list; each is checked by :func:`parse_action`."""
    if isinstance(entries, str | Mapping) or not isinstance(entries, list | tuple):
        raise InvalidValue("actions", "must be a list of actions")
    if not entries:
        raise InvalidValue("actions", "a job needs at least one action")
    if len(entries) > 32:
        raise InvalidValue("actions", "at most 32 actions per job")
    return [parse_action(entry, f"actions[{index}]") for index, entry in enumerate(entries)]


def stored_parameters(action: str, stored: Mapping[str, Any] | None) -> Any:
    """The parameter object of a stored action (as :meth:`JobAction.as_json` wrote it)."""
    return ACTIONS[action].parameters.model_validate(dict(stored or {}))


def read_range(
    parameters: RangeParameters,
    *,
    reference: datetime,
    now: datetime,
    last_read: datetime | None,
    zone: ZoneInfo,
) -> tuple[datetime, datetime]:
    """``(start, end)`` of the period to read (the meter gives the intervals ending in it).

    ``reference`` is the run's time (its scheduled occurrence or its start), ``last_read``
    the end of the last successful read of this meter and action.
    """
    if parameters.range == "previous_day":
        local = reference.astimezone(zone).date()
        end = datetime.combine(local, time(), zone).astimezone(UTC)
        start = datetime.combine(local - timedelta(days=1), time(), zone).astimezone(UTC)
        return start, end
    if parameters.range == "last_hours":
        return reference - timedelta(hours=parameters.hours), reference
    start = last_read if last_read is not None else now - timedelta(days=parameters.initial_days)
    return max(start, now - timedelta(days=parameters.max_days)), now
