"""System parameters: read them (a stored value or the default), change them, reset them.

:data:`PARAMETERS` is the catalog: name, type, default, limits and what the parameter does.
Only values that differ from the default need a row; reading a parameter that has none gives the
default. A value is checked against its definition before it is stored
(:class:`~meterhub.errors.InvalidValue` naming ``value``), and every change is audited.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterhub.errors import InvalidValue, NotFound
from meterhub.inventory.common import flush
from meterhub.model.parameters import SystemParameter


@dataclass(frozen=True)
class Parameter:
    """The definition of one system parameter."""

    name: str
    kind: str  # "integer" or "choice"
    default: Any
    description: str
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()

    def check(self, value: Any, field: str = "value") -> Any:
        """``value`` if it fits this definition, else :class:`InvalidValue` naming ``field``."""
        if self.kind == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidValue(field, f"{self.name} must be a whole number, not {value!r}")
            if self.minimum is not None and value < self.minimum:
                raise InvalidValue(field, f"{self.name} must be at least {self.minimum}")
            if self.maximum is not None and value > self.maximum:
                raise InvalidValue(field, f"{self.name} must be at most {self.maximum}")
            return value
        if value not in self.choices:
            raise InvalidValue(
                field, f"{self.name} must be one of {', '.join(self.choices)}, not {value!r}"
            )
        return value


def _integer(name: str, default: int, low: int, high: int, description: str) -> Parameter:
    return Parameter(name, "integer", default, description, minimum=low, maximum=high)


#: Every system parameter, by name.
PARAMETERS: Mapping[str, Parameter] = {
    p.name: p
    for p in (
        _integer(
            "password.max_failed_logins",
            5,
            0,
            100,
            "failed logins in a row after which the account is locked (0: never locked)",
        ),
        _integer(
            "password.expiry_days",
            0,
            0,
            3650,
            "days after which a password must be changed (0: passwords do not expire)",
        ),
        _integer(
            "password.warning_days",
            14,
            0,
            365,
            "days before the expiry from which the user is warned at login",
        ),
        _integer("password.min_length", 8, 4, 128, "the shortest password accepted"),
        _integer(
            "password.history_depth",
            3,
            0,
            50,
            "how many earlier passwords may not be used again (0: any)",
        ),
        Parameter(
            "password.complexity",
            "choice",
            "simple",
            "simple: the password must not contain the user name; complex: also at least 3 of "
            "the 4 character classes (lower case, upper case, digits, other characters)",
            choices=("simple", "complex"),
        ),
        _integer("session.idle_minutes", 30, 1, 1440, "a browser login ends after this idle time"),
        _integer("session.max_hours", 12, 1, 720, "a browser login ends after this time anyway"),
        _integer(
            "login.attempts_per_minute",
            10,
            1,
            1000,
            "login attempts per minute for one user name or one client address",
        ),
        _integer("token.max_days", 365, 1, 3650, "the longest validity of an API token"),
    )
}


def definition(name: str) -> Parameter:
    """The definition of parameter ``name``; :class:`NotFound` for an unknown name."""
    parameter = PARAMETERS.get(name) if isinstance(name, str) else None
    if parameter is None:
        raise NotFound(f"no system parameter named {name!r}")
    return parameter


def parameter_values(session: Session) -> dict[str, Any]:
    """Every parameter's value (stored or default), by name."""
    stored = {row.name: row.value_json for row in session.scalars(select(SystemParameter))}
    return {name: stored.get(name, p.default) for name, p in PARAMETERS.items()}


def get_parameter(session: Session, name: str) -> Any:
    """The value of parameter ``name``: the stored one, else its default."""
    parameter = definition(name)
    row = session.get(SystemParameter, name)
    return parameter.default if row is None else row.value_json


def set_parameter(session: Session, name: str, value: Any) -> Any:
    """Store ``value`` for parameter ``name`` after checking it; returns the value."""
    parameter = definition(name)
    value = parameter.check(value)
    row = session.get(SystemParameter, name)
    if row is None:
        session.add(SystemParameter(name=name, value_json=value))
    elif row.value_json != value:
        row.value_json = value
    flush(session, field="value")
    return value


def reset_parameter(session: Session, name: str) -> Any:
    """Go back to the default of parameter ``name``; returns the default."""
    parameter = definition(name)
    row = session.get(SystemParameter, name)
    if row is not None:
        session.delete(row)
        flush(session, field="value")
    return parameter.default
