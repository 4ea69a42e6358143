"""Formulas: the safe parser refuses what the language does not allow (with line and column),
and evaluates arithmetic, functions, shifts, conditionals and aggregations with numpy."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from meterhub.calculations import compile_formula, evaluate
from meterhub.config import load_settings
from meterhub.errors import InvalidValue
from meterhub.licensing import development_license
from meterhub.pluginhost import PluginHost, build_plugin_host
from meterhub.timeseries import Flag


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> PluginHost:
    settings = load_settings(data_dir=tmp_path_factory.mktemp("calc"))
    return build_plugin_host(development_license(), settings)


T0 = datetime(2026, 3, 2, tzinfo=UTC)


def run(host: PluginHost, text: str, interval: int = 15, zone: str = "UTC", **series: list[float]):  # type: ignore[no-untyped-def]
    from meterhub.timeseries import resolve_tz

    formula = compile_formula(text, set(series), host)
    inputs = {
        name: (np.asarray(values, dtype=float), np.full(len(values), Flag.VALIDATED, np.uint32))
        for name, values in series.items()
    }
    return evaluate(
        formula,
        inputs,
        start_tick=int(T0.timestamp() * 1e6),
        interval_minutes=interval,
        zone=resolve_tz(zone),
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("a +", "line 1, column 0: syntax error"),
        ("a + c", "line 1, column 5: unknown input 'c'; the inputs are a, b"),
        ("a.real", "Attribute is not allowed"),
        ("a[0]", "Subscript is not allowed"),
        ("__import__('os')", "unknown function '__import__'"),
        ("(lambda: 1)()", "call functions by name"),
        ("a ** 2", "the operator Pow is not allowed"),
        ("'x' + a", "only numbers are allowed as constants"),
        ("a < b < 1", "one comparison at a time"),
        ("frobnicate(a)", "unknown function 'frobnicate'"),
        ("abs(a, b)", "abs() takes 1 series"),
        ("shift(a)", "shift.intervals: field required"),
        ("shift(a, 2, 3)", "takes at most 1 parameters"),
        ("tan_phi_excess(a, b, 20)", "less than or equal to 10"),
        ("day(a) - b", "cannot combine series of different intervals"),
        ("day(day(a))", "already per day"),
        ("1 + 2", "uses no input"),
        ("-" * 3000 + "a", "nested"),
        ("a" + " + a" * 1300, "at most 5000"),
    ],
)
def test_refused(host: PluginHost, text: str, reason: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        compile_formula(text, {"a", "b"}, host)
    assert refused.value.field == "formula"
    assert reason.lower() in refused.value.reason.lower(), refused.value.reason


def test_substation_balance(host: PluginHost) -> None:
    result = run(
        host, "import_a + import_b - export_a", import_a=[1, 2], import_b=[3, 4], export_a=[0.5, 1]
    )
    assert result.values.tolist() == [3.5, 5.0]
    assert (result.flags & Flag.VALIDATED).all()


def test_main_check_difference_and_missing_values(host: PluginHost) -> None:
    result = run(host, "abs(main - check)", main=[1.0, np.nan, 3.0], check=[1.5, 2.0, 2.0])
    assert result.values[0] == 0.5 and np.isnan(result.values[1]) and result.values[2] == 1.0
    assert result.flags[1] == 0


def test_reactive_energy_above_tan_phi(host: PluginHost) -> None:
    result = run(host, "tan_phi_excess(p, q, 0.4)", p=[10.0, 10.0], q=[3.0, 5.5])
    assert result.values.tolist() == pytest.approx([0.0, 1.5])


def test_conditional_and_comparison(host: PluginHost) -> None:
    result = run(
        host,
        "when(flow > 0, flow * (t_in - t_out) * 1.163, 0)",
        flow=[0.0, 2.0],
        t_in=[70, 70],
        t_out=[40, 50],
    )
    assert result.values.tolist() == pytest.approx([0.0, 2 * 20 * 1.163])


def test_shift_min_max_sum(host: PluginHost) -> None:
    assert run(host, "shift(a, 1)", a=[1, 2, 3]).values[1:].tolist() == [1, 2]
    assert run(host, "shift(a, intervals=-1)", a=[1, 2, 3]).values[:2].tolist() == [2, 3]
    assert run(host, "max(a, b) - min(a, b)", a=[1, 5], b=[4, 2]).values.tolist() == [3, 3]
    assert run(host, "sum(a, b, a)", a=[1, 5], b=[4, 2]).values.tolist() == [6, 12]


def test_division_by_zero_is_missing(host: PluginHost) -> None:
    result = run(host, "a / b", a=[1.0, 1.0], b=[0.0, 4.0])
    assert np.isnan(result.values[0]) and result.values[1] == 0.25


def test_aggregations(host: PluginHost) -> None:
    values = list(np.arange(96 * 2, dtype=float))
    hourly = run(host, "hour(a)", a=values)
    assert hourly.values.size == 48 and hourly.values[0] == 0 + 1 + 2 + 3
    daily = run(host, "day(a) - day(b)", a=values, b=[1.0] * 192)
    assert daily.values.tolist() == [sum(values[:96]) - 96, sum(values[96:]) - 96]


def test_an_incomplete_day_is_missing_not_low(host: PluginHost) -> None:
    values = [1.0] * 96
    values[10] = np.nan
    assert np.isnan(run(host, "day(a)", a=values).values[0])


def test_flags_follow_the_inputs(host: PluginHost) -> None:
    formula = compile_formula("a + b", {"a", "b"}, host)
    flags_a = np.array([Flag.VALIDATED, Flag.VALIDATED | Flag.ESTIMATED], dtype=np.uint32)
    flags_b = np.array([Flag.SUSPECT, Flag.VALIDATED], dtype=np.uint32)
    result = evaluate(
        formula,
        {"a": (np.ones(2), flags_a), "b": (np.ones(2), flags_b)},
        start_tick=0,
        interval_minutes=15,
    )
    assert result.flags[0] & Flag.SUSPECT and not result.flags[0] & Flag.VALIDATED
    assert result.flags[1] & Flag.ESTIMATED and result.flags[1] & Flag.VALIDATED
    assert all((f >> 16) & 0xFF == 7 for f in result.flags)  # CALCULATED
