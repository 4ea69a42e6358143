"""Plugin object of the ``modbus`` entry point: the Modbus driver and its simulator."""

from __future__ import annotations

from meterhub import hookimpl
from meterhub.extensions.driver import Driver
from meterhub.extensions.simulator import Simulator

__all__ = ["ModbusDriverPlugin"]


class ModbusDriverPlugin:
    """Contributes :class:`~.driver.ModbusDriver` and :class:`~.simulator.ModbusSimulator`."""

    #: The license feature that enables the Modbus driver (and its simulator).
    feature = "driver:modbus"

    @hookimpl(trylast=True)
    def register_drivers(self) -> list[type[Driver]]:
        """Contribute the Modbus driver."""
        from meterhub.plugins.drivers.modbus.driver import ModbusDriver

        return [ModbusDriver]

    @hookimpl(trylast=True)
    def register_simulators(self) -> list[type[Simulator]]:
        """Contribute the Modbus meter simulator."""
        from meterhub.plugins.drivers.modbus.simulator import ModbusSimulator

        return [ModbusSimulator]
