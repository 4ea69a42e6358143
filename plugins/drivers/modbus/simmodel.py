"""The electrical quantities a simulated Modbus meter shows: every code the shipped maps use.

:class:`~meterhub.extensions.driverkit.SimulatedMeter` gives the meter's total active power,
its energy registers, voltage and current L1. This module spreads them over three phases with
a power factor per phase (L1 and L2 inductive, L3 capacitive, so signed registers hold negative
values too), derives the reactive, apparent and line-to-line quantities, harmonics, demands,
tariff and resettable counters, and keys everything by canonical OBIS code in base units (V, A,
W, var, VA, Wh, varh, VAh, Ah, Hz, %, °, h). :func:`physical_value` converts to a register's
unit. Everything is a pure function of the serial number and the Unix second, so a test
computes exactly what the simulator serves.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping

from meterhub.extensions.driverkit import SimulatedMeter
from meterhub.identifiers import canonical_obis

__all__ = ["UNIT_FACTORS", "physical_value", "quantities", "value_in"]

#: Register unit → its size in the model's base unit (kWh = 1000 Wh). ``None``: no unit.
UNIT_FACTORS: Mapping[str | None, float] = {
    None: 1.0,
    "V": 1.0,
    "A": 1.0,
    "W": 1.0,
    "kW": 1e3,
    "var": 1.0,
    "kvar": 1e3,
    "VA": 1.0,
    "kVA": 1e3,
    "Wh": 1.0,
    "kWh": 1e3,
    "MWh": 1e6,
    "varh": 1.0,
    "kvarh": 1e3,
    "VAh": 1.0,
    "kVAh": 1e3,
    "Ah": 1.0,
    "Hz": 1.0,
    "%": 1.0,
    "°": 1.0,
    "h": 1.0,
    "s": 1.0 / 3600,
}
#: Share of the total power and energy per phase.
_SHARES = (0.40, 0.35, 0.25)
#: Share of the import energy per tariff T1..T4.
_TARIFFS = (0.50, 0.30, 0.15, 0.05)
#: 2020-01-01 00:00 UTC: when the simulated meters were switched on (the hour meter).
_IN_SERVICE = 1_577_836_800


def _digest(serial: str) -> bytes:
    return hashlib.sha256(f"{serial}|modbus".encode()).digest()


def quantities(meter: SimulatedMeter, at: int) -> dict[str, float]:
    """Every quantity of ``meter`` at Unix second ``at``: canonical OBIS code → base-unit value."""
    digest = _digest(meter.serial)
    power = float(meter.power(at))
    p = [power * share for share in _SHARES[:2]]
    p.append(power - p[0] - p[1])
    cos = [0.85 + digest[i] % 14 / 100 for i in range(3)]
    q = [p[i] * math.tan(math.acos(cos[i])) for i in range(3)]
    q[2] = -q[2]  # L3 capacitive
    s = [math.hypot(p[i], q[i]) for i in range(3)]
    u1 = meter.voltage(at) / 10
    u = [u1, u1 + 0.7, u1 - 1.1]
    current = [s[i] / u[i] for i in range(3)]
    u_ll = [math.sqrt(u[i] ** 2 + u[j] ** 2 + u[i] * u[j]) for i, j in ((0, 1), (1, 2), (2, 0))]
    # phasors 120° apart (angles left aside): |IN|² = ½ Σ (Ii - Ij)²
    neutral = math.sqrt(
        ((current[0] - current[1]) ** 2 + (current[1] - current[2]) ** 2
         + (current[2] - current[0]) ** 2) / 2
    )  # fmt: skip
    angle = [math.degrees(math.atan2(q[i], p[i])) for i in range(3)]
    thd_u = [1.5 + digest[3 + i] % 20 / 10 for i in range(3)]
    thd_i = [5.0 + digest[6 + i] % 60 / 10 for i in range(3)]
    thd_ll = [1.5 + digest[9 + i] % 20 / 10 for i in range(3)]
    frequency = 50.0 + (digest[12] % 11 - 5) / 100
    p_total, q_total, s_total = power, sum(q), sum(s)

    imported = float(meter.active_energy(at))
    exported = float(meter.register_offset // 100)
    r_imported = float(meter.reactive_energy(at))
    r_exported = float(meter.register_offset // 300)
    apparent = math.hypot(imported + exported, r_imported + r_exported)
    e_in = [imported * share for share in _SHARES]
    e_out = [exported * share for share in _SHARES]
    r_in = [r_imported * share for share in _SHARES]
    r_out = [r_exported * share for share in _SHARES]
    e_s = [apparent * share for share in _SHARES]
    peak = 2.0 * meter.base_power

    found: dict[str, float] = {
        "1-0:14.7.0": frequency,
        "1-0:16.7.0": p_total,
        "1-0:1.7.0": max(p_total, 0.0),
        "1-0:2.7.0": max(-p_total, 0.0),
        "1-0:3.7.0": q_total,
        "1-0:9.7.0": s_total,
        "1-0:13.7.0": p_total / s_total if s_total else 1.0,
        "1-0:134.7.0": math.degrees(math.atan2(q_total, p_total)),
        "1-0:128.7.0": sum(u) / 3,
        "1-0:133.7.0": sum(u_ll) / 3,
        "1-0:129.7.0": sum(current) / 3,
        "1-0:90.7.0": sum(current),
        "1-0:91.7.0": neutral,
        "1-0:128.7.124": sum(thd_u) / 3,
        "1-0:129.7.124": sum(thd_i) / 3,
        "1-0:133.7.124": sum(thd_ll) / 3,
        # demands: the current average follows the power; the maximum is the meter's peak
        "1-0:1.4.0": max(p_total, 0.0),
        "1-0:1.6.0": peak,
        "1-0:2.4.0": max(-p_total, 0.0),
        "1-0:2.6.0": 0.0,
        "1-0:16.4.0": p_total,
        "1-0:16.6.0": peak,
        "1-0:9.4.0": s_total,
        "1-0:9.6.0": peak / 0.9,
        "1-0:91.4.0": neutral,
        "1-0:91.6.0": neutral * 1.5,
        "1-0:11.6.0": max(current) * 1.5,
        # energies, all phases
        "1-0:1.8.0": imported,
        "1-0:2.8.0": exported,
        "1-0:15.8.0": imported + exported,
        "1-0:16.8.0": imported - exported,
        "1-0:3.8.0": r_imported,
        "1-0:4.8.0": r_exported,
        "1-0:137.8.0": r_imported + r_exported,
        "1-0:141.8.0": r_imported - r_exported,
        "1-0:9.8.0": apparent,
        "1-0:136.8.0": imported / 230.0,
        "1-0:145.8.0": imported - meter.register_offset,
        "1-0:146.8.0": r_imported - meter.register_offset // 4,
        "0-0:96.8.0": (at - _IN_SERVICE) / 3600,
        "0-0:97.97.0": 0.0,
    }
    for tariff, share in enumerate(_TARIFFS, start=1):
        found[f"1-0:1.8.{tariff}"] = imported * share
        found[f"1-0:3.8.{tariff}"] = r_imported * share
    for i, base in enumerate((20, 40, 60)):
        found |= {
            f"1-0:{base + 12}.7.0": u[i],
            f"1-0:{base + 11}.7.0": current[i],
            f"1-0:{base + 16}.7.0": p[i],
            f"1-0:{base + 3}.7.0": q[i],
            f"1-0:{base + 9}.7.0": s[i],
            f"1-0:{base + 13}.7.0": cos[i],
            f"1-0:{base + 12}.7.124": thd_u[i],
            f"1-0:{base + 11}.7.124": thd_i[i],
            f"1-0:{base + 11}.4.0": current[i],
            f"1-0:{base + 11}.6.0": current[i] * 1.5,
            f"1-0:{base + 1}.8.0": e_in[i],
            f"1-0:{base + 2}.8.0": e_out[i],
            f"1-0:{base + 15}.8.0": e_in[i] + e_out[i],
            f"1-0:{base + 16}.8.0": e_in[i] - e_out[i],
            f"1-0:{base + 3}.8.0": r_in[i],
            f"1-0:{base + 4}.8.0": r_out[i],
            f"1-0:{base + 9}.8.0": e_s[i],
            f"1-0:{138 + i}.8.0": r_in[i] + r_out[i],
            f"1-0:{142 + i}.8.0": r_in[i] - r_out[i],
            f"1-0:{130 + i}.7.0": u_ll[i],
            f"1-0:{130 + i}.7.124": thd_ll[i],
            f"1-0:81.7.{(4, 15, 26)[i]}": angle[i],
        }
    return {f"{code}*255": value for code, value in found.items()}


def value_in(
    values: Mapping[str, float], obis: str, unit: str | None = None, sign: str = "none"
) -> float | None:
    """The quantity ``obis`` (canonical) of a :func:`quantities` result in ``unit``.

    ``sign`` is the register's sign convention: a power factor with ``lag-lead`` carries the
    sign of its reactive power (negative for the capacitive L3); with ``import-export`` it
    carries the sign of the active power, which the model keeps positive. ``None`` for a code
    or a unit the model does not know.
    """
    if obis not in values or unit not in UNIT_FACTORS:
        return None
    value = values[obis] / UNIT_FACTORS[unit]
    if sign == "lag-lead":
        reactive = _POWER_FACTOR_REACTIVE.get(obis)
        if reactive is not None and values[reactive] < 0:
            value = -abs(value)
    return value


def physical_value(
    meter: SimulatedMeter, obis: str, at: int, unit: str | None = None, sign: str = "none"
) -> float | None:
    """The value of ``obis`` (any OBIS form) at Unix second ``at`` in ``unit``."""
    return value_in(quantities(meter, at), canonical_obis(obis), unit, sign)


#: Power factor code → the reactive power whose sign a ``lag-lead`` power factor carries.
_POWER_FACTOR_REACTIVE = {
    canonical_obis(pf): canonical_obis(q)
    for pf, q in (
        ("13.7.0", "3.7.0"),
        ("33.7.0", "23.7.0"),
        ("53.7.0", "43.7.0"),
        ("73.7.0", "63.7.0"),
    )
}
