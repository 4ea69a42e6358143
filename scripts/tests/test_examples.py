"""The example scripts: they compile under the sandbox's rules and do what they say, run in the
sandbox's worker with its limits, on data made here and on the samples beside them."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from meterhub.cli import cli
from meterhub.sandbox import Limits, compile_script, run_jobs
from meterhub.vee import DayTypes
from meterhub.vee.daytypes import slot_calendar

HERE = Path(__file__).resolve().parents[1]
LIMITS = Limits(cpu_seconds=5, wall_seconds=10, memory_mb=256)


def _run(name: str, job: dict) -> dict:
    script = compile_script((HERE / name).read_text(encoding="utf-8"), name)
    (outcome,) = run_jobs(script, [job], LIMITS)
    assert outcome.ok, outcome.error
    return outcome.result


def test_spike_check_uses_the_customers_thresholds() -> None:
    values = np.full(12, 0.4)
    values[3] = 1.8  # a spike
    values[8] = 0.9  # below factor 3 of its neighbours: no spike, but above max_value 0.8
    result = _run(
        "spike_check.py", {"values": values, "parameters": {"max_value": 0.8, "factor": 3.0}}
    )
    assert np.flatnonzero(result["suspect"]).tolist() == [3, 8]
    assert result["reasons"] == [
        "spike: more than 3.0 times its neighbours",
        "above the customer's limit of 0.8",
    ]
    lenient = _run(
        "spike_check.py", {"values": values, "parameters": {"max_value": 5, "factor": 5}}
    )
    assert not lenient["suspect"].any()


def test_heat_energy_from_flow_and_temperatures() -> None:
    inputs = {
        "flow": np.array([0.0, 1.0, 2.0, np.nan, 1.0]),
        "t_supply": np.array([70.0, 70.0, 65.0, 70.0, 40.0]),
        "t_return": np.array([40.0, 40.0, 45.0, 40.0, 45.0]),
    }
    result = _run("heat_energy.py", {"inputs": inputs, "parameters": {"heat_capacity": 1.16}})
    values = result["values"]
    assert values[0] == 0.0  # no flow
    assert values[1] == 1.0 * 30 * 1.16 and values[2] == 2.0 * 20 * 1.16
    assert math.isnan(values[3])  # flow missing: no result
    assert values[4] == 0.0  # return warmer than supply: no heat


def test_like_day_plausibility() -> None:
    types = DayTypes("DE", tz="UTC")
    days = 22
    start = 1_777_248_000_000_000  # 2026-04-27T00:00Z, a Monday
    calendar = slot_calendar(start, 24 * days, 60, types)
    workday = np.isin(calendar.day_type, [0])
    series = np.where(workday, 1.0, 0.3) + calendar.minute / 60 / 100
    history, values = series[: 24 * 21], series[24 * 21 :].copy()
    values[10] *= 4  # far above like days
    values[15] = 0.0  # far below
    result = _run(
        "like_day_plausibility.py",
        {
            "values": values,
            "history": history,
            "day": calendar.day,
            "day_type": calendar.day_type,
            "minute": calendar.minute,
            "interval": 60,
            "parameters": {"days": 3, "high": 2.5, "low": 0.2},
        },
    )
    assert np.flatnonzero(result["suspect"]).tolist() == [10, 15]


def test_the_samples_through_the_command() -> None:
    runner = CliRunner()
    spiky = runner.invoke(
        cli,
        [
            "script",
            "test",
            str(HERE / "spike_check.py"),
            "--data",
            str(HERE / "samples" / "spiky_day.csv"),
            "--param",
            "max_value=2.0",
        ],
    )
    assert spiky.exit_code == 0, spiky.output
    assert "suspect: 2" in spiky.output and "time,value,result,suspect,estimated" in spiky.output
    heat = runner.invoke(
        cli,
        [
            "script",
            "test",
            str(HERE / "heat_energy.py"),
            "--data",
            str(HERE / "samples" / "heat.json"),
            "--json",
        ],
    )
    assert heat.exit_code == 0, heat.output
    assert '"result": [0.0' in heat.output
    like = runner.invoke(
        cli,
        [
            "script",
            "test",
            str(HERE / "like_day_plausibility.py"),
            "--data",
            str(HERE / "samples" / "four_weeks.csv"),
            "--history-days",
            "21",
            "--country",
            "DE",
            "--tz",
            "Europe/Berlin",
        ],
    )
    assert like.exit_code == 0, like.output
    assert "suspect: 4" in like.output
