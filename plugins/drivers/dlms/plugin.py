"""The plugin object of the ``dlms`` entry point: the DLMS driver and the DLMS simulator."""

from __future__ import annotations

from meterhub import hookimpl
from meterhub.extensions.driver import Driver
from meterhub.extensions.simulator import Simulator

__all__ = ["DlmsDriverPlugin"]


class DlmsDriverPlugin:
    """Contributes :class:`~.driver.DlmsDriver` and :class:`~.simulator.DlmsSimulator`."""

    #: The license feature that enables the DLMS driver (and its simulator).
    feature = "driver:dlms"

    @hookimpl(trylast=True)
    def register_drivers(self) -> list[type[Driver]]:
        """Contribute the ``dlms`` driver."""
        from meterhub.plugins.drivers.dlms.driver import DlmsDriver

        return [DlmsDriver]

    @hookimpl(trylast=True)
    def register_simulators(self) -> list[type[Simulator]]:
        """Contribute the ``dlms`` simulator."""
        from meterhub.plugins.drivers.dlms.simulator import DlmsSimulator

        return [DlmsSimulator]
