"""Calculated channels through the store: defined and checked at save (missing channels,
cycles, intervals), stored like measured values with their inputs recorded, and recalculated
when their inputs are stored (readings_stored) or edited (values_edited)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from vee_fixtures import DAY0, QUARTER, Fleet

from meterhub.db import transaction
from meterhub.errors import InvalidValue
from meterhub.inventory.calculations import define_calculation
from meterhub.runtime import Runtime
from meterhub.timeseries import EstimationMethod
from meterhub.timeseries.flags import method_of


def _define(
    runtime: Runtime, name: str, target: int, formula: str, inputs: dict[str, int], **options: str
) -> None:
    with transaction(runtime.sessions, user="t") as session:
        define_calculation(
            session,
            name,
            target=target,
            formula=formula,
            inputs=inputs,
            functions=runtime.plugins,
            **options,
        )


def test_substation_balance_is_stored_with_its_inputs_recorded(
    runtime: Runtime, fleet: Fleet
) -> None:
    a, b, out, balance = fleet.channels(4)
    _define(runtime, "balance", balance, "a + b - out", {"a": a, "b": b, "out": out})
    runtime.store.write_intervals([a, b, out], DAY0, np.array([[1.0, 2.0], [3.0, 4.0], [0.5, 1.0]]))
    data = runtime.store.read_intervals([balance], DAY0, DAY0 + 2 * QUARTER)
    assert data.values[0].tolist() == [3.5, 5.0]  # computed when the inputs were stored
    assert method_of(int(data.flags[0, 0])) == EstimationMethod.CALCULATED
    (version,) = runtime.store.versions(balance, DAY0, DAY0 + 2 * QUARTER)
    assert version.reason == "calculation balance v1"
    assert version.comment == f"inputs: a={a}, b={b}, out={out}"


def test_an_edit_of_an_input_recalculates(runtime: Runtime, fleet: Fleet) -> None:
    main, check, difference = fleet.channels(3)
    _define(runtime, "difference", difference, "abs(main - check)", {"main": main, "check": check})
    runtime.store.write_intervals([main, check], DAY0, np.array([[1.0, 2.0], [1.5, 2.0]]))
    runtime.editing.substitute(main, DAY0, [1.4], user="ann", reason="meter read on site")
    data = runtime.store.read_intervals([difference], DAY0, DAY0 + 2 * QUARTER)
    assert data.values[0].tolist() == pytest.approx([0.1, 0.0])


def test_chains_run_in_order(runtime: Runtime, fleet: Fleet) -> None:
    p, q, excess, doubled = fleet.channels(4, unit="kvarh")
    _define(runtime, "excess", excess, "tan_phi_excess(p, q, 0.4)", {"p": p, "q": q})
    _define(runtime, "doubled", doubled, "2 * e", {"e": excess})
    runtime.store.write_intervals([p, q], DAY0, np.array([[10.0], [5.5]]))
    data = runtime.store.read_intervals([excess, doubled], DAY0, DAY0 + QUARTER)
    assert data.values[:, 0].tolist() == pytest.approx([1.5, 3.0])


def test_daily_and_monthly_totals(runtime: Runtime, fleet: Fleet) -> None:
    (a,) = fleet.channels(1)
    (daily,) = fleet.channels(1, interval=1440)
    (monthly,) = fleet.channels(1, kind="register", obis="1-0:1.8.0*255")
    _define(runtime, "daily", daily, "day(a)", {"a": a}, tz="Europe/Prague")
    _define(runtime, "monthly", monthly, "month(a)", {"a": a}, tz="Europe/Prague")
    start = datetime(2026, 3, 28, 23, tzinfo=UTC)  # local midnight of 29 March (92 quarter-hours)
    runtime.store.write_intervals([a], start, np.ones((1, 92 + 96)))
    runtime.calculations.run("daily", start, start + timedelta(hours=23 + 24))
    days = runtime.store.read_intervals(
        [daily], start, start + timedelta(hours=47), tz="Europe/Prague"
    )
    assert days.values[0].tolist() == [92.0, 96.0]
    month_start = datetime(2026, 2, 28, 23, tzinfo=UTC)  # 1 March, local midnight
    month_end = datetime(2026, 3, 31, 22, tzinfo=UTC)  # 1 April, local midnight (summer time)
    quarter_hours = int((month_end - month_start) / QUARTER)
    assert quarter_hours == 31 * 96 - 4
    runtime.store.write_intervals([a], month_start, np.ones((1, quarter_hours)))
    runtime.calculations.run("monthly", month_start, month_end)
    readings = runtime.store.read_registers([monthly], month_start, month_end)
    assert readings.normalized.tolist() == [float(quarter_hours)]
    assert readings.times.tolist() == [np.datetime64("2026-02-28T23:00:00", "us")]
    # a later change of an input recomputes the month as a new normalized version
    runtime.editing.substitute(a, month_start, [3.0], user="ann", reason="correction")
    readings = runtime.store.read_registers([monthly], month_start, month_end)
    assert readings.normalized.tolist() == [float(quarter_hours + 2)]


def test_missing_channels_and_cycles_are_refused(runtime: Runtime, fleet: Fleet) -> None:
    a, b, c = fleet.channels(3)
    (hourly,) = fleet.channels(1, interval=60)
    with pytest.raises(InvalidValue, match="inputs.x: no channel 999999"):
        _define(runtime, "bad", c, "a + x", {"a": a, "x": 999_999})
    with pytest.raises(InvalidValue, match="line 1, column 5: unknown input 'y'"):
        _define(runtime, "bad", c, "a + y", {"a": a})
    with pytest.raises(InvalidValue, match="inputs.b: is not used"):
        _define(runtime, "bad", c, "a * 2", {"a": a, "b": b})
    with pytest.raises(InvalidValue, match="result has 15-minute intervals"):
        _define(runtime, "bad", hourly, "a * 2", {"a": a})
    _define(runtime, "first", b, "a * 2", {"a": a})
    _define(runtime, "second", c, "b + 1", {"b": b})
    with pytest.raises(InvalidValue, match="cycle") as refused:
        _define(runtime, "third", a, "c - 1", {"c": c})
    assert f"channel {a}" in refused.value.reason and "first" in refused.value.reason
    with pytest.raises(InvalidValue, match="its own input"):
        _define(runtime, "self", a, "a + 1", {"a": a})
