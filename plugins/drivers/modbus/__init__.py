"""Modbus driver for energy meters: TCP (MBAP) and RTU, register maps as data.

:mod:`.encoding` holds the value encodings (types, word and byte order), :mod:`.registermap` the
map format and its validation, ``maps/`` the shipped maps (Eastron SDM630 and SDM120, Carlo
Gavazzi EM24, Janitza UMG 96RM, a test map), :mod:`.obiscatalog` the manufacturer-specific OBIS
codes they use, :mod:`.driver` the driver, :mod:`.simmodel` and :mod:`.simulator` simulated
meters on pymodbus' server, :mod:`.doctables` the generated tables of the documentation,
:mod:`.plugin` the plugin object of the ``modbus`` entry point (feature ``driver:modbus``).
"""
