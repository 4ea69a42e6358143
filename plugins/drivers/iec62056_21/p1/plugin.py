"""Plugin object of the ``p1`` entry point: the push-meter driver and its simulator."""

from __future__ import annotations

from meterhub import hookimpl
from meterhub.extensions.driver import Driver
from meterhub.extensions.simulator import Simulator

__all__ = ["P1DriverPlugin"]


class P1DriverPlugin:
    """Contributes :class:`~.driver.P1Driver` and :class:`~.simulator.P1Simulator`."""

    #: The license feature that enables the P1 / mode D driver (and its simulator).
    feature = "driver:p1"

    @hookimpl(trylast=True)
    def register_drivers(self) -> list[type[Driver]]:
        """Contribute the P1 driver."""
        from meterhub.plugins.drivers.iec62056_21.p1.driver import P1Driver

        return [P1Driver]

    @hookimpl(trylast=True)
    def register_simulators(self) -> list[type[Simulator]]:
        """Contribute the push-meter simulator."""
        from meterhub.plugins.drivers.iec62056_21.p1.simulator import P1Simulator

        return [P1Simulator]
