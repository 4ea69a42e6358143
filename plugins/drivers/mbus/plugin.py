"""Plugin objects of the ``mbus`` and ``wmbus`` entry points: drivers and simulators.

Two entry points, two license features (``driver:mbus``, ``driver:wmbus``): a licence may enable
wired M-Bus without wireless or the other way round. Each contributes the meter types of the
meters its driver reads (``types/mbus.toml``, ``types/wmbus.toml``) under its own feature.
"""

from __future__ import annotations

from meterhub import hookimpl
from meterhub.extensions.driver import Driver
from meterhub.extensions.metertype import MeterType
from meterhub.extensions.simulator import Simulator

__all__ = ["MbusDriverPlugin", "WmbusDriverPlugin"]


class MbusDriverPlugin:
    """Contributes the wired M-Bus driver and the simulated bus."""

    #: The license feature that enables wired M-Bus (and its simulator).
    feature = "driver:mbus"

    @hookimpl(trylast=True)
    def register_drivers(self) -> list[type[Driver]]:
        """Contribute the ``mbus`` driver."""
        from meterhub.plugins.drivers.mbus.wired import MbusDriver

        return [MbusDriver]

    @hookimpl(trylast=True)
    def register_simulators(self) -> list[type[Simulator]]:
        """Contribute the ``mbus`` simulator (a bus behind a TCP gateway and on a pty)."""
        from meterhub.plugins.drivers.mbus.simulator.fleet import MbusSimulator

        return [MbusSimulator]

    @hookimpl(trylast=True)
    def register_meter_types(self) -> list[type[MeterType]]:
        """Contribute the heat, water and gas meter types read over wired M-Bus."""
        from meterhub.plugins.drivers.mbus.catalogue import load_catalogue

        return list(load_catalogue("mbus"))


class WmbusDriverPlugin:
    """Contributes the wireless M-Bus / OMS driver and the telegram generator."""

    #: The license feature that enables wireless M-Bus (and its simulator).
    feature = "driver:wmbus"

    @hookimpl(trylast=True)
    def register_drivers(self) -> list[type[Driver]]:
        """Contribute the ``wmbus`` driver."""
        from meterhub.plugins.drivers.mbus.wireless.driver import WmbusDriver

        return [WmbusDriver]

    @hookimpl(trylast=True)
    def register_simulators(self) -> list[type[Simulator]]:
        """Contribute the ``wmbus`` simulator (telegrams over TCP, UDP and files)."""
        from meterhub.plugins.drivers.mbus.simulator.fleet import WmbusSimulator

        return [WmbusSimulator]

    @hookimpl(trylast=True)
    def register_meter_types(self) -> list[type[MeterType]]:
        """Contribute the meter types read over wireless M-Bus / OMS."""
        from meterhub.plugins.drivers.mbus.catalogue import load_catalogue

        return list(load_catalogue("wmbus"))
