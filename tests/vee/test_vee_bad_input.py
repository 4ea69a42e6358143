"""Bad input is refused at save with the place and the reason, and nothing is stored: unknown
check names, parameters of the wrong type or range, unknown scripts, bad schedules, overrides
for steps a profile does not have, scripts that do not compile."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from vee_fixtures import Fleet

from meterhub.db import transaction
from meterhub.errors import InvalidValue
from meterhub.inventory.scripts import save_script, script_source
from meterhub.inventory.vee import assign_profile, create_profile, set_steps
from meterhub.model.scripts import Script
from meterhub.model.vee import ProfileStep, ValidationProfile
from meterhub.runtime import Runtime


def _refused(runtime: Runtime, steps: list[dict], **options: object) -> InvalidValue:
    with pytest.raises(InvalidValue) as refused:
        with transaction(runtime.sessions, user="t") as session:
            create_profile(session, "bad", steps, runtime.plugins, **options)  # type: ignore[arg-type]
    with runtime.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ValidationProfile)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(ProfileStep)).scalar() == 0
    return refused.value


@pytest.mark.parametrize(
    ("steps", "field", "reason"),
    [
        (
            [{"kind": "check", "name": "spikee"}],
            "steps[0].name",
            "unknown check 'spikee'; available:",
        ),
        (
            [{"kind": "estimate", "name": "magic"}],
            "steps[0].name",
            "unknown estimation method 'magic'",
        ),
        ([{"kind": "teleport", "name": "x"}], "steps[0].kind", "must be one of check, estimate"),
        (
            [
                {"kind": "check", "name": "gaps"},
                {"kind": "check", "name": "spike", "parameters": {"factor": "big"}},
            ],
            "steps[1].parameters.factor",
            "valid number",
        ),
        (
            [{"kind": "check", "name": "spike", "parameters": {"factor": 0.5}}],
            "steps[0].parameters.factor",
            "greater than or equal to 1",
        ),
        (
            [{"kind": "check", "name": "limits", "parameters": {"min": 5, "max": 1}}],
            "steps[0].parameters",
            "max (1.0) must not be below min (5.0)",
        ),
        (
            [{"kind": "check", "name": "limits", "parameters": {"maximum": 1}}],
            "steps[0].parameters",
            "unknown setting 'maximum'",
        ),
        (
            [{"kind": "estimate", "name": "linear", "parameters": {"max_gap": 0}}],
            "steps[0].parameters.max_gap",
            "greater than or equal to 1",
        ),
        (
            [
                {
                    "kind": "check",
                    "name": "status_bits",
                    "parameters": {"bits": "power_down,lightning"},
                }
            ],
            "parameters.bits",
            "unknown status bit 'lightning'",
        ),
        (
            [{"kind": "script_check", "name": "nowhere"}],
            "steps[0].name",
            "no script named 'nowhere'",
        ),
        ([{"kind": "check"}], "steps[0].name", "give the check's"),
        ([{"kind": "check", "name": "gaps", "colour": "red"}], "steps[0]", "unknown key 'colour'"),
    ],
)
def test_bad_steps_are_refused(
    runtime: Runtime, steps: list[dict], field: str, reason: str
) -> None:
    error = _refused(runtime, steps)
    assert error.field == field
    assert reason in error.reason


def test_a_bad_schedule_is_refused(runtime: Runtime) -> None:
    error = _refused(runtime, [{"kind": "check", "name": "gaps"}], schedule="every night")
    assert error.field == "schedule" and "RRULE" in error.reason


def test_a_script_of_the_wrong_purpose_is_refused(runtime: Runtime) -> None:
    with transaction(runtime.sessions, user="t") as session:
        save_script(session, "calc", "result.set_values(data.values)", purpose="calculate")
    error = _refused(runtime, [{"kind": "script_check", "name": "calc"}])
    assert error.reason == "script 'calc' is a calculate script, not a check script"


def test_overrides_are_checked(runtime: Runtime, fleet: Fleet) -> None:
    ids = fleet.channels(1)
    with transaction(runtime.sessions, user="t") as session:
        profile = create_profile(
            session,
            "p",
            [{"kind": "check", "name": "limits", "parameters": {"max": 2}}],
            runtime.plugins,
        )
    for overrides, field, reason in (
        ({"spike": {"factor": 2}}, "overrides", "no step 'spike'"),
        ({"limits": {"max": "high"}}, "overrides.limits.max", "valid number"),
        ({"limits": {"min": 3}}, "overrides.limits", "max (2.0) must not be below min (3.0)"),
    ):
        with pytest.raises(InvalidValue) as refused:
            with transaction(runtime.sessions, user="t") as session:
                found = session.get(ValidationProfile, profile.id)
                assign_profile(session, found, runtime.plugins, channel=ids[0], overrides=overrides)
        assert refused.value.field == field
        assert reason in refused.value.reason, refused.value


def test_changing_steps_keeps_assignments_valid(runtime: Runtime, fleet: Fleet) -> None:
    ids = fleet.channels(1)
    with transaction(runtime.sessions, user="t") as session:
        profile = create_profile(
            session,
            "p",
            [{"kind": "check", "name": "limits", "parameters": {"max": 2}}],
            runtime.plugins,
        )
        assign_profile(
            session, profile, runtime.plugins, channel=ids[0], overrides={"limits": {"max": 3}}
        )
    with pytest.raises(InvalidValue, match="no step 'limits'"):
        with transaction(runtime.sessions, user="t") as session:
            found = session.get(ValidationProfile, profile.id)
            set_steps(session, found, [{"kind": "check", "name": "gaps"}], runtime.plugins)


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("x = (1 +\n", "line 1: syntax error"),
        ("x = 1\nimport os\n", "line 2: import is not allowed"),
        ("x = 1\n\ny = data.__class__\n", "line 3:"),
        ("def f(:\n  pass", "line 1: syntax error"),
    ],
)
def test_a_script_that_does_not_compile_is_refused(
    runtime: Runtime, source: str, reason: str
) -> None:
    with pytest.raises(InvalidValue) as refused:
        with transaction(runtime.sessions, user="t") as session:
            save_script(session, "broken", source, purpose="check")
    assert refused.value.field == "source"
    assert refused.value.reason.startswith(reason), refused.value.reason
    with runtime.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Script)).scalar() == 0


def test_scripts_are_versioned(runtime: Runtime) -> None:
    with transaction(runtime.sessions, user="ann") as session:
        save_script(session, "spikes", "result.flag(data.values > 2, 'high')", purpose="check")
    with transaction(runtime.sessions, user="bob") as session:
        second = save_script(
            session, "spikes", "result.flag(data.values > 3, 'high')", note="higher"
        )
        assert second.version == 2
    with pytest.raises(InvalidValue):
        with transaction(runtime.sessions, user="bob") as session:
            save_script(session, "spikes", "import os")
    with runtime.sessions() as session:
        assert script_source(session, "spikes") == (2, "result.flag(data.values > 3, 'high')")
        assert script_source(session, "spikes", 1)[1].endswith("> 2, 'high')")


def test_a_profile_change_is_checked_before_anything_changes(runtime: Runtime) -> None:
    from meterhub.errors import Conflict
    from meterhub.inventory.vee import change_profile

    steps = [{"kind": "check", "name": "limits", "parameters": {"min": 0, "max": 5}}]
    with transaction(runtime.sessions, user="t") as session:
        create_profile(session, "other", steps, runtime.plugins)
        profile_id = create_profile(session, "p", steps, runtime.plugins, lookback_days=2).id
    for changes, field in [
        ({"schedule": "FREQ=SOMETIMES", "lookback_days": 9}, "schedule"),
        ({"lookback_days": 0}, "lookback_days"),
        ({"calendar": "nowhere"}, "calendar"),
        ({"enabled": "yes"}, "enabled"),
        ({"colour": "red"}, "colour"),
        ({"lookback_days": 9, "steps": [{"kind": "check", "name": "spikee"}]}, "steps[0].name"),
    ]:
        with pytest.raises(InvalidValue) as refused:
            with transaction(runtime.sessions, user="t") as session:
                change_profile(
                    session, session.get(ValidationProfile, profile_id), runtime.plugins, **changes
                )
        assert refused.value.field == field
    with pytest.raises(Conflict):
        with transaction(runtime.sessions, user="t") as session:
            change_profile(
                session, session.get(ValidationProfile, profile_id), runtime.plugins, name="other"
            )
    with transaction(runtime.sessions, user="t") as session:
        profile = session.get(ValidationProfile, profile_id)
        assert (profile.lookback_days, profile.schedule, profile.enabled) == (2, None, True)
        changed = change_profile(
            session, profile, runtime.plugins, schedule="FREQ=DAILY;BYHOUR=2", enabled=False,
            steps=[{"kind": "check", "name": "negative"}],
        )  # fmt: skip
        assert [step.name for step in changed.steps] == ["negative"]
        assert changed.schedule == "FREQ=DAILY;BYHOUR=2" and changed.enabled is False
