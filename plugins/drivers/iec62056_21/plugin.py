"""Plugin object of the ``iec62056_21`` entry point: the driver and its simulator."""

from __future__ import annotations

from meterhub import hookimpl
from meterhub.extensions.driver import Driver
from meterhub.extensions.simulator import Simulator

__all__ = ["IecDriverPlugin"]


class IecDriverPlugin:
    """Contributes :class:`~.driver.IecDriver` and :class:`~.simulator.IecSimulator`."""

    #: The license feature that enables the IEC 62056-21 driver (and its simulator).
    feature = "driver:iec62056_21"

    @hookimpl(trylast=True)
    def register_drivers(self) -> list[type[Driver]]:
        """Contribute the IEC 62056-21 driver."""
        from meterhub.plugins.drivers.iec62056_21.driver import IecDriver

        return [IecDriver]

    @hookimpl(trylast=True)
    def register_simulators(self) -> list[type[Simulator]]:
        """Contribute the IEC 62056-21 meter simulator."""
        from meterhub.plugins.drivers.iec62056_21.simulator import IecSimulator

        return [IecSimulator]
