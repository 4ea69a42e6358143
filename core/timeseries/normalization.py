"""Normalization (pulse value matching): from raw meter values to values in the wanted unit.

Every formula MeterHub knows is a product of exact factors, so one formula becomes one fraction
``num / den`` per channel and normalizing a block is ``raw * num / den`` on the whole array.
Keeping the factor a fraction (not a float) keeps results exact where they can be: ``1234 Wh``
becomes ``1.234 kWh`` exactly as ``1234 / 1000`` rounds, which the block codec can store as an
integer with three decimals. :func:`normalize` is the one place that rule is computed: ingest,
recalculation and register writes all call it, so the same raw value and factor always give the
same bits (a recalculation never makes a version that differs only in rounding).

The factors, in the order they apply:

1. the channel's **scaler** (``10 ** scaler``; DLMS registers deliver integers),
2. a **pulse constant** (pulses per ``pulse_unit``: 1000 imp/kWh divides by 1000),
3. **CT and VT ratios** (primary / secondary: 200/5 A multiplies by 40),
4. **average demand → energy** (a rate such as kW over an interval of m minutes times m/60 h),
5. **unit conversion** to the target unit via the units table (W → kW divides by 1000).

The units table is :data:`STANDARD_UNITS` (built in) plus the rows of ``ts_unit`` (site-specific
additions); a unit's size is a fraction of its quantity's base unit, and a rate unit names its
integral over time (``W`` → ``Wh``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from meterhub.errors import InvalidValue


@dataclass(frozen=True)
class Unit:
    """A unit: its symbol, quantity, size in the quantity's base unit, and integral if a rate."""

    symbol: str
    quantity: str
    factor: Fraction
    rate_of: str | None = None


def _u(symbol: str, quantity: str, num: int, den: int = 1, rate_of: str | None = None) -> Unit:
    return Unit(symbol, quantity, Fraction(num, den), rate_of)


#: The built-in units table.
STANDARD_UNITS: Mapping[str, Unit] = {
    u.symbol: u
    for u in (
        _u("W", "active_power", 1, rate_of="Wh"),
        _u("kW", "active_power", 10**3, rate_of="kWh"),
        _u("MW", "active_power", 10**6, rate_of="MWh"),
        _u("GW", "active_power", 10**9, rate_of="GWh"),
        _u("Wh", "energy", 1),
        _u("kWh", "energy", 10**3),
        _u("MWh", "energy", 10**6),
        _u("GWh", "energy", 10**9),
        _u("J", "energy", 1, 3600),
        _u("kJ", "energy", 10**3, 3600),
        _u("MJ", "energy", 10**6, 3600),
        _u("GJ", "energy", 10**9, 3600),
        _u("var", "reactive_power", 1, rate_of="varh"),
        _u("kvar", "reactive_power", 10**3, rate_of="kvarh"),
        _u("Mvar", "reactive_power", 10**6, rate_of="Mvarh"),
        _u("varh", "reactive_energy", 1),
        _u("kvarh", "reactive_energy", 10**3),
        _u("Mvarh", "reactive_energy", 10**6),
        _u("VA", "apparent_power", 1, rate_of="VAh"),
        _u("kVA", "apparent_power", 10**3, rate_of="kVAh"),
        _u("MVA", "apparent_power", 10**6, rate_of="MVAh"),
        _u("VAh", "apparent_energy", 1),
        _u("kVAh", "apparent_energy", 10**3),
        _u("MVAh", "apparent_energy", 10**6),
        _u("V", "voltage", 1),
        _u("kV", "voltage", 10**3),
        _u("A", "current", 1),
        _u("kA", "current", 10**3),
        _u("mA", "current", 1, 10**3),
        _u("Hz", "frequency", 1),
        _u("m3", "volume", 1),
        _u("m³", "volume", 1),
        _u("l", "volume", 1, 10**3),
        _u("m3/h", "volume_flow", 1, rate_of="m3"),
        _u("°C", "temperature", 1),
        _u("imp", "count", 1),
    )
}


@dataclass(frozen=True)
class Formula:
    """A normalization formula, assigned to channels or to meter groups by its ``name``.

    ``target_unit`` ``None`` keeps the unit reached by the other steps. ``source_unit`` overrides
    the channel's unit (for channels whose unit is unknown or wrong). ``ct`` and ``vt`` are
    ``(primary, secondary)`` pairs. ``pulse_constant`` is pulses per ``pulse_unit``. With
    ``demand_to_energy`` a rate (average demand over each interval) becomes energy.
    """

    name: str
    target_unit: str | None = None
    source_unit: str | None = None
    apply_scaler: bool = True
    ct: tuple[float, float] | None = None
    vt: tuple[float, float] | None = None
    pulse_constant: float | None = None
    pulse_unit: str | None = None
    demand_to_energy: bool = False


def exact(number: float | int, field: str) -> Fraction:
    """``number`` as the exact fraction of its shortest decimal form (0.2 → 1/5)."""
    if isinstance(number, bool) or not isinstance(number, int | float):
        raise InvalidValue(field, f"must be a number, not {number!r}")
    value = Fraction(repr(float(number))) if isinstance(number, float) else Fraction(number)
    if not value > 0 or value.denominator > 10**15:
        raise InvalidValue(field, f"must be a positive finite number, not {number!r}")
    return value


class UnitTable:
    """The units table: :data:`STANDARD_UNITS` plus site-specific rows of ``ts_unit``."""

    def __init__(self, extra: Iterable[Unit] = ()) -> None:
        self.units: dict[str, Unit] = dict(STANDARD_UNITS)
        for unit in extra:
            self.units[unit.symbol] = unit

    def get(self, symbol: str | None, field: str) -> Unit:
        """The unit ``symbol``; :class:`InvalidValue` names ``field`` when it is unknown."""
        if symbol is None:
            raise InvalidValue(field, "no unit given: the channel has none, name a source_unit")
        try:
            return self.units[symbol]
        except KeyError:
            raise InvalidValue(field, f"unknown unit {symbol!r}") from None

    def conversion(self, source: str, target: str, field: str = "target_unit") -> Fraction:
        """The factor that turns a value in ``source`` into one in ``target``."""
        a, b = self.get(source, "source_unit"), self.get(target, field)
        if a.quantity != b.quantity:
            raise InvalidValue(
                field, f"cannot convert {source} ({a.quantity}) to {target} ({b.quantity})"
            )
        return a.factor / b.factor


def check_formula(formula: Formula, units: UnitTable) -> None:
    """Raise :class:`InvalidValue` for a formula that can never apply (bad units or ratios)."""
    if not isinstance(formula.name, str) or not formula.name.strip():
        raise InvalidValue("name", "a formula needs a name")
    for field in ("target_unit", "source_unit", "pulse_unit"):
        symbol = getattr(formula, field)
        if symbol is not None:
            units.get(symbol, field)
    for field in ("ct", "vt"):
        pair = getattr(formula, field)
        if pair is not None:
            if len(pair) != 2:
                raise InvalidValue(field, "give (primary, secondary)")
            exact(pair[0], field)
            exact(pair[1], field)
    if formula.pulse_constant is not None:
        exact(formula.pulse_constant, "pulse_constant")
        if formula.pulse_unit is None:
            raise InvalidValue("pulse_unit", "a pulse constant needs the unit it counts pulses of")


def channel_factor(
    formula: Formula | None,
    *,
    unit: str | None,
    scaler: int,
    interval_minutes: int,
    units: UnitTable,
) -> tuple[Fraction, str | None]:
    """The exact factor raw → normalized of one channel and the unit of its normalized values.

    Without a formula, normalization applies the scaler and keeps the channel's unit.
    """
    factor = Fraction(10) ** scaler
    if formula is None:
        return factor, unit
    if not formula.apply_scaler:
        factor = Fraction(1)
    current = formula.source_unit or unit
    if formula.pulse_constant is not None:
        factor /= exact(formula.pulse_constant, "pulse_constant")
        current = formula.pulse_unit
    for field in ("ct", "vt"):
        pair = getattr(formula, field)
        if pair is not None:
            factor *= exact(pair[0], field) / exact(pair[1], field)
    if formula.demand_to_energy:
        rate = units.get(current, "source_unit")
        if rate.rate_of is None:
            raise InvalidValue("demand_to_energy", f"{current} is not a rate such as W or kW")
        if interval_minutes in (0, 1440):
            raise InvalidValue(
                "demand_to_energy", "needs a channel with a sub-daily interval (1 to 60 minutes)"
            )
        factor *= Fraction(interval_minutes, 60)
        current = rate.rate_of
    if formula.target_unit is not None:
        if current is None:
            raise InvalidValue("source_unit", "the channel has no unit: the formula must name one")
        factor *= units.conversion(current, formula.target_unit)
        current = formula.target_unit
    return factor, current


def normalize(
    values: np.ndarray,
    factors: Sequence[Fraction],
    channel_ids: Sequence[int] | np.ndarray,
    field: str = "values",
) -> np.ndarray:
    """Normalized values: ``raw * num / den`` with each channel's exact factor ``num / den``.

    ``values`` is ``[rows, slots]`` with ``factors[i]`` (of channel ``channel_ids[i]``) applying
    to row ``i``, or 1-D with one factor per element. NaN (no value) stays NaN. Where
    ``raw * num`` overflows but the result does not, ``raw / den * num`` is used instead; a
    normalized value that is not a finite float64 is refused with :class:`InvalidValue` naming
    ``field``, the channel and the value. The result is a new array, or ``values`` itself when
    every factor is 1 (callers never change it in place).
    """
    if all(f == 1 for f in factors):
        return values
    num = np.array([float(f.numerator) for f in factors])
    den = np.array([float(f.denominator) for f in factors])
    if values.ndim == 2:
        num, den = num[:, None], den[:, None]
    with np.errstate(over="ignore"):
        out: np.ndarray = np.asarray(values * num)
        out /= den
    overflow = np.isinf(out)
    if overflow.any():
        with np.errstate(over="ignore", under="ignore"):
            out[overflow] = (values / den * num)[overflow]
        left = np.argwhere(np.isinf(out))
        if left.size:
            row = int(left[0][0])
            raw = float(values[tuple(left[0])])
            raise InvalidValue(
                field,
                f"channel {int(channel_ids[row])}: {raw!r} × {factors[row]} is beyond the range "
                "of a float64 after normalization",
            )
    return out
