from fractions import Fraction

import pytest

from meterhub.errors import InvalidValue
from meterhub.timeseries.normalization import Formula, UnitTable, channel_factor, check_formula

UNITS = UnitTable()


def factor(formula: Formula | None, unit: str | None = "Wh", scaler: int = 0, interval: int = 15):
    return channel_factor(formula, unit=unit, scaler=scaler, interval_minutes=interval, units=UNITS)


def test_no_formula_applies_the_scaler_only() -> None:
    assert factor(None, "Wh", -3) == (Fraction(1, 1000), "Wh")
    assert factor(None, "W", 2) == (Fraction(100), "W")


def test_unit_conversion_through_the_units_table() -> None:
    assert factor(Formula("kwh", target_unit="kWh")) == (Fraction(1, 1000), "kWh")
    assert factor(Formula("kw", target_unit="kW"), "W") == (Fraction(1, 1000), "kW")
    assert factor(Formula("mwh", target_unit="Wh"), "MWh") == (Fraction(10**6), "Wh")
    assert factor(Formula("gj", target_unit="kWh"), "GJ") == (Fraction(2500, 9) * 1, "kWh")


def test_ct_vt_ratios_and_scaler() -> None:
    formula = Formula("ct", target_unit="kWh", ct=(200, 5), vt=(22000, 100))
    assert factor(formula, "Wh", -1) == (Fraction(1, 10) * 40 * 220 / 1000, "kWh")


def test_pulse_constant() -> None:
    formula = Formula("pulses", pulse_constant=1000, pulse_unit="kWh", target_unit="kWh")
    assert factor(formula, "imp") == (Fraction(1, 1000), "kWh")
    gas = Formula("gas", pulse_constant=0.01, pulse_unit="m3")
    assert factor(gas, "imp") == (Fraction(100), "m3")


def test_average_demand_to_energy() -> None:
    formula = Formula("demand", demand_to_energy=True, target_unit="kWh")
    assert factor(formula, "kW", 0, 15) == (Fraction(1, 4), "kWh")
    assert factor(formula, "W", 0, 5) == (Fraction(5, 60) / 1000, "kWh")
    with pytest.raises(InvalidValue, match="not a rate"):
        factor(formula, "kWh")
    with pytest.raises(InvalidValue, match="sub-daily"):
        factor(formula, "kW", 0, 1440)


def test_bad_formulas() -> None:
    with pytest.raises(InvalidValue, match="cannot convert"):
        factor(Formula("bad", target_unit="V"), "Wh")
    with pytest.raises(InvalidValue, match="unknown unit"):
        check_formula(Formula("bad", target_unit="furlong"), UNITS)
    with pytest.raises(InvalidValue, match="pulse_unit"):
        check_formula(Formula("bad", pulse_constant=1000), UNITS)
    with pytest.raises(InvalidValue, match="positive"):
        check_formula(Formula("bad", ct=(200, 0)), UNITS)
    with pytest.raises(InvalidValue):
        factor(Formula("x", target_unit="kWh"), None)
