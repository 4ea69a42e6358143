"""Push meters: DSMR P1 telegrams (2.2 to 5.0, e-MUCS) and IEC 62056-21 mode D.

A second driver beside mode C, sharing its data-set parser and value rules:
:mod:`.telegram` (framing, CRC16, parsing), :mod:`.meters` (the electricity meter and the
M-Bus meters it carries, billing and events), :mod:`.driver` (the ``p1`` driver),
:mod:`.compose` and :mod:`.simulator` (meters that push telegrams on ptys and TCP),
:mod:`.plugin` (the ``p1`` entry point's plugin object, feature ``driver:p1``).
"""
