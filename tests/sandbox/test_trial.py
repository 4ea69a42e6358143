"""A script tried on sample data: the JSON sample is read with each wrong part named, and the
trial reports per slot what the script found, or where it failed."""

from __future__ import annotations

import pytest

from meterhub.errors import InvalidValue
from meterhub.sandbox import compile_script
from meterhub.sandbox.trial import run_trial, sample_from_json


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ([1, 2], "data"),
        ({"start": "soon"}, "start"),
        ({"interval": 0}, "interval"),
        ({"values": ["x"]}, "values"),
        ({"values": [1.0], "flags": "none"}, "flags"),
        ({"inputs": {"flow": [1, "a"]}}, "inputs.flow"),
        ({"parameters": [1]}, "parameters"),
    ],
)
def test_a_bad_sample_is_named(raw: object, field: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        sample_from_json(raw)
    assert refused.value.field == field


def test_a_trial_reports_per_slot_and_a_failure_by_line() -> None:
    sample = sample_from_json(
        {"start": "2026-03-02T00:00:00Z", "interval": 60, "values": [1.0, None, 7.0]}
    )
    script = compile_script("result.flag(data.values > 5, 'high')\nresult.note('ok')\n", "t")
    trial = run_trial(script, sample)
    assert trial.ok and trial.suspect == [2] and trial.notes == ["ok"]
    assert trial.times == [
        "2026-03-02T00:00:00+00:00", "2026-03-02T01:00:00+00:00", "2026-03-02T02:00:00+00:00",
    ]  # fmt: skip
    assert trial.values == [1.0, None, 7.0]
    failing = run_trial(compile_script("x = 1\ny = x / 0\n", "f"), sample)
    assert not failing.ok and failing.line == 2 and "division by zero" in (failing.error or "")
