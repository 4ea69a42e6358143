"""IEC 62056-21 (mode C) driver: sign-on, baud switch, data readout, programming mode.

:mod:`.protocol` holds the frames, the block check and the data-set parser, :mod:`.driver` the
driver, :mod:`.simulator` simulated meters on ptys, :mod:`.plugin` the ``iec62056_21`` entry
point's plugin object (feature ``driver:iec62056_21``).
"""
