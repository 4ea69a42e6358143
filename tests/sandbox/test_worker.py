"""The sandbox's worker: plain data in, results out, limits enforced by the OS; a job that is
stopped does not stop the others."""

from __future__ import annotations

import numpy as np
import pytest

from meterhub.sandbox import Limits, compile_script, run_jobs

LIMITS = Limits(cpu_seconds=1, wall_seconds=4, memory_mb=128)


def test_series_arithmetic_and_output() -> None:
    script = compile_script(
        "high = data.values > data.values.mean() * 1.5\n"
        "result.flag(high, 'high')\n"
        "result.estimate(data.missing, data.values.shift(1).fill(0))\n"
        "result.note('mean ' + str(round(data.values.mean(), 2)))\n",
        "demo",
    )
    values = np.array([1.0, 1.0, 5.0, np.nan, 1.0])
    missing = np.isnan(values).astype(float)
    (outcome,) = run_jobs(script, [{"values": values, "missing": missing}], LIMITS)
    assert outcome.ok, outcome.error
    assert outcome.result["suspect"].tolist() == [False, False, True, False, False]
    assert outcome.result["estimated"].tolist() == [False, False, False, True, False]
    assert outcome.result["values"][3] == 5.0
    assert outcome.result["notes"] == ["mean 2.0"]


def test_a_stopped_job_does_not_stop_the_others() -> None:
    script = compile_script(
        "if data.parameters.get('loop'):\n"
        "    while True:\n"
        "        pass\n"
        "result.flag(data.values > 1, 'above one')\n",
        "mixed",
    )
    jobs = [
        {"values": np.array([0.5, 2.0])},
        {"values": np.array([3.0]), "parameters": {"loop": True}},
        {"values": np.array([2.0, 0.0])},
    ]
    first, second, third = run_jobs(script, jobs, Limits(cpu_seconds=1, wall_seconds=8))
    assert first.ok and first.result["suspect"].tolist() == [False, True]
    assert not second.ok
    assert second.error in {
        f"script 'mixed', line {line}: stopped: CPU time limit of 1 s exceeded" for line in (2, 3)
    }
    assert third.ok and third.result["suspect"].tolist() == [True, False]


def test_a_job_killed_in_c_code_is_named_and_the_next_runs() -> None:
    script = compile_script(
        "if data.parameters.get('hog'):\n    x = sum(range(10 ** 12))\nresult.note('ok')\n", "hog"
    )
    jobs = [{"values": np.ones(2), "parameters": {"hog": True}}, {"values": np.ones(2)}]
    killed, after = run_jobs(script, jobs, Limits(cpu_seconds=1, wall_seconds=1, memory_mb=128))
    assert not killed.ok and "script 'hog' (line unknown): stopped: wall time limit of 1 s" in str(
        killed.error
    )
    assert after.ok and after.result["notes"] == ["ok"]


def test_output_is_plain_and_bounded() -> None:
    script = compile_script("for i in range(100):\n    print('line', i)\n", "chatty")
    (outcome,) = run_jobs(script, [{"values": np.ones(1)}], Limits(max_output_chars=50))
    assert outcome.ok and len(outcome.printed) == 50


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("result.set_values([1, 2, 3])", "set_values needs 2 values, got 3"),
        ("result.set_values(float('inf'))", "set_values does not take infinite values"),
        ("result.flag(data.values, 5)", "a reason must be text"),
        ("x = data.values[0.5]", "indexed by whole numbers"),
        ("x = data.values + 'a'", "cannot combine a series with str"),
        ("if data.values > 1:\n    pass", "no single truth value"),
    ],
)
def test_garbage_is_refused_with_the_line(source: str, error: str) -> None:
    script = compile_script(source, "garbage")
    (outcome,) = run_jobs(script, [{"values": np.ones(2)}], LIMITS)
    assert not outcome.ok
    assert outcome.error is not None and error in outcome.error
    assert outcome.line == source.count("\n") + 1 or outcome.line == 1
