"""One normalization rule (raw × num / den) on every path: ingest, recalculation and registers give
the same bits, so a recalculation with unchanged formulas never makes a version."""

from datetime import UTC, datetime, timedelta
from fractions import Fraction

import numpy as np
import pytest

from meterhub.errors import InvalidValue
from meterhub.timeseries import Formula, MeterDataStore
from meterhub.timeseries.normalization import normalize

JAN = datetime(2026, 1, 1, tzinfo=UTC)

#: Factors whose float division rounds differently from multiplying by the rounded quotient.
AWKWARD = [
    (Formula("ct 7/3", target_unit="kWh", ct=(7, 3)), "Wh", Fraction(7, 3000)),
    (Formula("gas 0.3", pulse_constant=0.3, pulse_unit="m3"), "imp", Fraction(10, 3)),
    (Formula("10-min demand", demand_to_energy=True, target_unit="kWh"), "W", Fraction(1, 6000)),
    (
        Formula("vt 22000/110 ct 75/7", target_unit="MWh", ct=(75, 7), vt=(22000, 110)),
        "kWh",
        Fraction(15, 7),
    ),
]


def sample(rng: np.random.Generator, slots: int) -> np.ndarray:
    """Meter-like integers and arbitrary decimals, both."""
    whole = rng.integers(0, 100_000, slots).astype(float)
    decimal = np.round(rng.uniform(0, 5000, slots), 3)
    return np.where(rng.random(slots) < 0.5, whole, decimal)


def bits(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).view(np.int64)


def test_normalize_is_raw_times_num_divided_by_den() -> None:
    rng = np.random.default_rng(3)
    raw = sample(rng, 1000).reshape(2, 500)
    factors = [Fraction(7, 3000), Fraction(10, 3)]
    out = normalize(raw, factors, [1, 2])
    assert np.array_equal(bits(out[0]), bits(raw[0] * 7.0 / 3000.0))
    assert np.array_equal(bits(out[1]), bits(raw[1] * 10.0 / 3.0))
    # the rounding differs from raw × (num / den) for many values: the rule matters
    assert (bits(raw[0] * (7 / 3000)) != bits(out[0])).any()
    flat = normalize(raw[0], [Fraction(7, 3000)] * 500, [1] * 500)
    assert np.array_equal(bits(flat), bits(out[0]))
    assert normalize(raw, [Fraction(1), Fraction(1)], [1, 2]) is raw


def test_normalize_keeps_missing_slots_and_refuses_overflow() -> None:
    raw = np.array([[1.0, np.nan, 1e301]])
    out = normalize(raw, [Fraction(10**8, 10**12)], [5])
    assert out[0, 0] == 1e-4 and np.isnan(out[0, 1]) and out[0, 2] == 1e297
    with pytest.raises(InvalidValue, match="channel 5: 1e\\+301 × 100000000 is beyond"):
        normalize(raw, [Fraction(10**8)], [5])


@pytest.mark.parametrize(
    ("formula", "unit", "factor"), AWKWARD, ids=lambda a: getattr(a, "name", "")
)
def test_ingest_and_recalculate_give_identical_bits(
    store: MeterDataStore, channels, formula: Formula, unit: str, factor: Fraction
) -> None:
    interval = 10 if formula.demand_to_energy else 15
    (cid,) = channels(1, unit=unit, interval=interval)
    (register,) = channels(1, kind="register", unit=unit, obis="1-0:1.8.0*255")
    store.define_formula(formula)
    store.assign_formula(formula.name, [cid])
    if not formula.demand_to_energy:  # a register has no interval to turn demand into energy
        store.assign_formula(formula.name, [register])
    assert store.channel_info([cid])[0].factor == factor
    rng = np.random.default_rng(11)
    slots = 2 * 1440 // interval
    raw = sample(rng, slots).reshape(1, slots)
    store.write_intervals([cid], JAN, raw)
    end = JAN + timedelta(days=2)
    ingested = store.read_intervals([cid], JAN, end).values
    expected = raw * float(factor.numerator) / float(factor.denominator)
    assert np.array_equal(bits(ingested), bits(expected))
    report = store.recalculate([cid], JAN, end, user="ann", keep_edits=False)
    assert report.normalized_versions == 0  # no spurious version from a different rounding
    assert np.array_equal(bits(store.read_intervals([cid], JAN, end).values), bits(ingested))
    if formula.demand_to_energy:
        return
    times = np.datetime64("2026-01-01T00:00", "us") + np.arange(20) * np.timedelta64(1, "h")
    store.write_registers([register] * 20, times, raw[0, :20])
    registers = store.read_registers([register], JAN, end)
    assert np.array_equal(bits(registers.normalized), bits(expected[0, :20]))
