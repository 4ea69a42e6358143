"""DLMS/COSEM: the driver (gurux-dlms client), its simulator (gurux-dlms server) and helpers.

* :mod:`.driver` — :class:`~.driver.DlmsDriver`, the ``dlms`` driver;
* :mod:`.simulator` — :class:`~.simulator.DlmsSimulator`, meters over TCP and ptys;
* :mod:`.gurux_compat` — every workaround for gurux-dlms' server-side defects;
* :mod:`.plugin` — the entry point object; :func:`bench_read_one` for ``bench/drivers.py``.

The modules import gurux on use only; importing this package does no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["BENCH_REGISTERS", "bench_read_one"]

#: The registers the benchmark reads besides the clock and the load profile.
BENCH_REGISTERS = ("1-0:1.8.0*255", "1-0:2.8.0*255", "1-0:32.7.0*255", "1-0:31.7.0*255")


def bench_read_one(endpoint: Any, *, now: datetime | None = None) -> int:
    """Read one day of load profile (2 channels), the clock and 4 registers; return the count.

    ``endpoint`` is a :class:`~meterhub.extensions.simulator.SimulatedEndpoint` (or anything with
    ``address`` and ``settings``). Everything goes through the public driver API.
    """
    from meterhub.plugins.drivers.dlms.driver import DlmsDriver

    settings: Mapping[str, str] = endpoint.settings
    end = now or datetime.now(UTC)
    with DlmsDriver().connect(endpoint.address, settings) as connection:
        profile = connection.read_load_profile(end - timedelta(days=1), end)
        clock = connection.read_clock()
        registers = connection.read_registers(BENCH_REGISTERS)
    return profile.values + int(clock.value is not None) + len(registers)
