"""M-Bus simulators: a wired slave bus (pty and TCP gateway) and a wireless telegram generator.

:mod:`.model` computes what each simulated heat, water or gas meter holds (deterministic, from
the kit's :class:`~meterhub.extensions.driverkit.SimulatedMeter`); :mod:`.bus` serves a wired bus
of such meters; :mod:`.air` builds wireless telegrams (link layer with CRCs, OMS security modes
5 and 7) and pushes them; :mod:`.fleet` holds the ``mbus`` and ``wmbus`` simulators that
``meterhub simulate`` and ``make demo`` start.
"""

from meterhub.plugins.drivers.mbus.simulator.fleet import MbusSimulator, WmbusSimulator

__all__ = ["MbusSimulator", "WmbusSimulator"]
