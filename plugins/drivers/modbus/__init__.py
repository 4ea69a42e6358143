"""Modbus driver for energy meters: TCP (MBAP) and RTU, register maps as data.

:mod:`.registermap` holds the map format and the value encodings, :mod:`.driver` the driver,
:mod:`.simulator` simulated meters on pymodbus' server, :mod:`.plugin` the plugin object of the
``modbus`` entry point (feature ``driver:modbus``).
"""
