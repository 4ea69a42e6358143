"""IEC 62056-21 drivers: mode C (sign-on, baud switch, data readout, programming mode) and, in
:mod:`.p1`, meters that push (DSMR P1, e-MUCS, mode D).

:mod:`.protocol` holds the frames, the block check and the data-set parser; :mod:`.link` reads
answers with the standard's reaction and inter-character times; :mod:`.values` turns data sets
into readings (value and time, identifiers, measurements, clock, billing); :mod:`.settings`,
:mod:`.session`, :mod:`.loadprofile` and :mod:`.driver` make the ``iec62056_21`` driver;
:mod:`.simreadout` and :mod:`.simulator` simulated meters on ptys or TCP; :mod:`.plugin` the
``iec62056_21`` entry point's plugin object (feature ``driver:iec62056_21``).
"""
