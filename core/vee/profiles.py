"""Validation profiles as the engine runs them: steps checked against the installed plugins,
parameters parsed (with a channel's overrides), scripts compiled.

:func:`check_steps` is what a save runs: an unknown check or method name, a parameter of the
wrong type or range, or an unknown script is refused with the step's position and the reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from meterhub.errors import InvalidValue, NotFound
from meterhub.extensions.estimator import Estimator
from meterhub.extensions.validator import Validator
from meterhub.model.scripts import Script, ScriptVersion
from meterhub.model.vee import STEP_KINDS, ValidationProfile
from meterhub.sandbox import CompiledScript, compile_script
from meterhub.vee.daytypes import DayTypes

__all__ = [
    "Catalog",
    "PreparedStep",
    "ProfileSpec",
    "StepSpec",
    "check_overrides",
    "check_steps",
    "load_profile",
    "prepare_steps",
]


class Catalog(Protocol):
    """Where checks and estimation methods come from: the plugin host."""

    def validators(self) -> Mapping[str, type[Validator]]:
        """Validation checks by name."""

    def estimators(self) -> Mapping[str, type[Estimator]]:
        """Estimation methods by name."""


@dataclass(frozen=True)
class StepSpec:
    """One step as stored: its kind, name and parameters (text or numbers)."""

    kind: str
    name: str
    parameters: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProfileSpec:
    """A profile as the engine runs it."""

    id: int
    name: str
    steps: tuple[StepSpec, ...]
    day_types: DayTypes
    at_ingest: bool
    lookback_days: int
    schedule: str | None
    scripts: Mapping[str, CompiledScript]


@dataclass(frozen=True)
class PreparedStep:
    """A step ready to run: the plugin instance (or compiled script) and parsed parameters."""

    kind: str
    name: str
    plugin: Validator | Estimator | None
    parameters: Any
    script: CompiledScript | None = None
    raw_parameters: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_check(self) -> bool:
        """Whether the step checks (rather than estimates)."""
        return self.kind in ("check", "script_check")


def _names(found: Iterable[str]) -> str:
    return ", ".join(sorted(found)) or "none"


def check_steps(
    steps: Sequence[StepSpec | Mapping[str, Any]],
    catalog: Catalog,
    scripts: Mapping[str, str] | None = None,
) -> list[StepSpec]:
    """The steps checked: each kind known, each plugin installed and licensed, each parameter
    accepted by the plugin's model, each script known with the right purpose (``scripts``:
    name → purpose). :class:`InvalidValue` names ``steps[i].<field>``."""
    checked = []
    validators, estimators = catalog.validators(), catalog.estimators()
    for i, given in enumerate(steps):
        where = f"steps[{i}]"
        step = given if isinstance(given, StepSpec) else _spec(given, where)
        if step.kind not in STEP_KINDS:
            raise InvalidValue(
                f"{where}.kind", f"must be one of {', '.join(STEP_KINDS)}, not {step.kind!r}"
            )
        if not isinstance(step.parameters, Mapping):
            raise InvalidValue(f"{where}.parameters", "must be a mapping of names to values")
        try:
            json.dumps(dict(step.parameters))
        except (TypeError, ValueError):
            raise InvalidValue(f"{where}.parameters", "must be plain values (JSON)") from None
        if step.kind == "check":
            plugin: Any = validators.get(step.name)
            if plugin is None:
                raise InvalidValue(
                    f"{where}.name", f"unknown check {step.name!r}; available: {_names(validators)}"
                )
            plugin.parse_parameters(step.parameters, f"{where}.parameters")
        elif step.kind == "estimate":
            plugin = estimators.get(step.name)
            if plugin is None:
                raise InvalidValue(
                    f"{where}.name",
                    f"unknown estimation method {step.name!r}; available: {_names(estimators)}",
                )
            plugin.parse_parameters(step.parameters, f"{where}.parameters")
        else:
            purpose = "check" if step.kind == "script_check" else "estimate"
            known = scripts or {}
            if step.name not in known:
                raise InvalidValue(f"{where}.name", f"no script named {step.name!r}")
            if known[step.name] != purpose:
                raise InvalidValue(
                    f"{where}.name",
                    f"script {step.name!r} is a {known[step.name]} script, not a {purpose} script",
                )
        checked.append(step)
    return checked


def _spec(given: Mapping[str, Any], where: str) -> StepSpec:
    if not isinstance(given, Mapping):
        raise InvalidValue(where, "a step is a mapping with kind, name and parameters")
    unknown = sorted(set(given) - {"kind", "name", "parameters"})
    if unknown:
        raise InvalidValue(where, f"unknown key {unknown[0]!r}; a step has kind, name, parameters")
    name = given.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidValue(f"{where}.name", "give the check's, method's or script's name")
    kind = given.get("kind", "check")
    return StepSpec(str(kind), name.strip(), dict(given.get("parameters") or {}))


def check_overrides(
    steps: Sequence[StepSpec], overrides: Mapping[str, Any], catalog: Catalog
) -> dict[str, dict[str, Any]]:
    """Overrides by step name, each merged with the step's parameters and accepted by its
    plugin; :class:`InvalidValue` names ``overrides.<step>.<parameter>``."""
    if not isinstance(overrides, Mapping):
        raise InvalidValue("overrides", "must map step names to parameters")
    names = {step.name for step in steps}
    out: dict[str, dict[str, Any]] = {}
    for name, values in overrides.items():
        if name not in names:
            raise InvalidValue(
                "overrides", f"the profile has no step {name!r}; steps: {_names(names)}"
            )
        if not isinstance(values, Mapping):
            raise InvalidValue(f"overrides.{name}", "must map parameter names to values")
        out[name] = dict(values)
    prepare_steps(steps, catalog, out, {}, prefix="overrides")
    return out


def prepare_steps(
    steps: Sequence[StepSpec],
    catalog: Catalog,
    overrides: Mapping[str, Mapping[str, Any]],
    scripts: Mapping[str, CompiledScript],
    prefix: str = "steps",
) -> list[PreparedStep]:
    """Instances and parsed parameters of ``steps`` with ``overrides`` applied."""
    prepared = []
    validators, estimators = catalog.validators(), catalog.estimators()
    for i, step in enumerate(steps):
        given = {**step.parameters, **overrides.get(step.name, {})}
        where = f"{prefix}.{step.name}" if prefix == "overrides" else f"{prefix}[{i}].parameters"
        if step.kind == "check":
            cls: Any = validators.get(step.name)
        elif step.kind == "estimate":
            cls = estimators.get(step.name)
        else:
            script = scripts.get(step.name)
            if script is None and prefix != "overrides":
                raise NotFound(f"script {step.name!r} of the profile is not stored")
            prepared.append(PreparedStep(step.kind, step.name, None, None, script, given))
            continue
        if cls is None:
            raise NotFound(
                f"{step.kind} {step.name!r} is not installed or not licensed; "
                "the profile cannot run"
            )
        prepared.append(
            PreparedStep(
                step.kind, step.name, cls(), cls.parse_parameters(given, where), None, given
            )
        )
    return prepared


def load_profile(session: Session, profile: str | int) -> ProfileSpec:
    """The profile named (or numbered) ``profile``, with its calendar and compiled scripts."""
    query = select(ValidationProfile).options(selectinload(ValidationProfile.steps))
    query = query.where(
        ValidationProfile.id == profile
        if isinstance(profile, int)
        else ValidationProfile.name == profile
    )
    found = session.scalars(query).first()
    if found is None:
        raise NotFound(f"no validation profile {profile!r}")
    day_types = DayTypes()
    if found.calendar_id is not None:
        from meterhub.model.calendars import DayCalendar

        calendar = session.get(DayCalendar, found.calendar_id)
        assert calendar is not None
        day_types = DayTypes.from_calendar(calendar)
    steps = tuple(StepSpec(s.kind, s.name, dict(s.parameters or {})) for s in found.steps)
    scripts: dict[str, CompiledScript] = {}
    for step in steps:
        if step.kind.startswith("script_") and step.name not in scripts:
            scripts[step.name] = current_script(session, step.name)
    return ProfileSpec(
        id=found.id,
        name=found.name,
        steps=steps,
        day_types=day_types,
        at_ingest=found.at_ingest,
        lookback_days=found.lookback_days,
        schedule=found.schedule,
        scripts=scripts,
    )


def current_script(session: Session, name: str) -> CompiledScript:
    """The current version of script ``name``, compiled."""
    row = session.execute(
        select(Script.name, Script.version, ScriptVersion.source)
        .join(ScriptVersion, ScriptVersion.script_id == Script.id)
        .where(Script.name == name, ScriptVersion.version == Script.version)
    ).first()
    if row is None:
        raise NotFound(f"no script named {name!r}")
    return compile_script(row.source, f"{row.name} v{row.version}")
