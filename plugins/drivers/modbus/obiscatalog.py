"""The OBIS codes the shipped register maps use where IEC 62056-6-1 assigns none.

IEC 62056-6-1 (the OBIS standard) reserves value group C 128..199 for manufacturer-specific
quantities. Modbus meters report several quantities the standard has no code for (averages
over the phases, line-to-line voltages, sums of import and export reactive energy, resettable
counters). The shipped maps give them the codes below, and always the same code for the same
quantity whatever the meter, so a report that asks for ``1-0:130.7.0`` gets the L1-L2 voltage
from an Eastron, a Carlo Gavazzi or any future map alike. Value groups D and E keep their
standard meaning (D 7 instantaneous, 4 current average/demand, 6 maximum, 8 cumulative; E 124
total harmonic distortion), so the THD of a catalogue quantity is its code with E = 124.

Standard codes worth knowing when reading the maps (IEC 62056-6-1, value group C): 16/36/56/76
active power or energy *net* (import minus export: the code of a signed active power), 15/35/55/75
active import plus export, 81 angles (``81.7.4`` is the angle of I(L1) against U(L1), ``81.7.15``
L2, ``81.7.26`` L3), 90 sum of the phase currents, 91 neutral current; E 124 THD.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from meterhub.identifiers import ObisCode, canonical_obis

__all__ = ["MANUFACTURER_RANGE", "MANUFACTURER_CODES", "is_manufacturer_specific"]

#: Value group C codes the standard leaves to manufacturers.
MANUFACTURER_RANGE = range(128, 200)

_CODES = {
    "1-0:128.7.0": "average of the line-to-neutral voltages (V)",
    "1-0:128.7.124": "THD of the average line-to-neutral voltage (%)",
    "1-0:129.7.0": "average of the line currents (A)",
    "1-0:129.7.124": "THD of the average line current (%)",
    "1-0:130.7.0": "line-to-line voltage L1-L2 (V)",
    "1-0:130.7.124": "THD of the line-to-line voltage L1-L2 (%)",
    "1-0:131.7.0": "line-to-line voltage L2-L3 (V)",
    "1-0:131.7.124": "THD of the line-to-line voltage L2-L3 (%)",
    "1-0:132.7.0": "line-to-line voltage L3-L1 (V)",
    "1-0:132.7.124": "THD of the line-to-line voltage L3-L1 (%)",
    "1-0:133.7.0": "average of the line-to-line voltages (V)",
    "1-0:133.7.124": "THD of the average line-to-line voltage (%)",
    "1-0:134.7.0": "phase angle of the whole system: angle of the total power (°)",
    "1-0:136.8.0": "ampere-hours since the last reset (Ah)",
    "1-0:137.8.0": "reactive energy, import plus export, all phases (|+R| + |-R|)",
    "1-0:138.8.0": "reactive energy, import plus export, L1",
    "1-0:139.8.0": "reactive energy, import plus export, L2",
    "1-0:140.8.0": "reactive energy, import plus export, L3",
    "1-0:141.8.0": "reactive energy, net (+R minus -R), all phases",
    "1-0:142.8.0": "reactive energy, net (+R minus -R), L1",
    "1-0:143.8.0": "reactive energy, net (+R minus -R), L2",
    "1-0:144.8.0": "reactive energy, net (+R minus -R), L3",
    "1-0:145.8.0": "active energy import, resettable (partial) counter",
    "1-0:146.8.0": "reactive energy import, resettable (partial) counter",
}

#: Canonical code → what it holds (unit in brackets where it is fixed).
MANUFACTURER_CODES: Mapping[str, str] = MappingProxyType(
    {canonical_obis(code): text for code, text in _CODES.items()}
)


def is_manufacturer_specific(obis: str) -> bool:
    """Whether a (canonical) code's value group C is in the manufacturer range."""
    return ObisCode.parse(obis).c in MANUFACTURER_RANGE
