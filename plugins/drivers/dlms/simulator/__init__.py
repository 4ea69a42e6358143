"""The DLMS/COSEM simulator: meters on gurux-dlms' server classes over TCP and pseudo-terminals.

The package is split by job: :mod:`.state` (what a meter keeps across connections),
:mod:`.objects` (its COSEM objects), :mod:`.server` (the gurux server of one connection, with
faults) and :mod:`.fleet` (serving meters on the driver kit's frame server).

Each simulated meter is a :class:`~meterhub.extensions.driverkit.SimulatedMeter` (values
are a pure function of the serial and the time, so tests know what they must read) behind a
gurux ``GXDLMSSecureServer`` patched by :mod:`.gurux_compat`. A meter serves

* over TCP on loopback with the **wrapper** (``framing=wrapper``, the default) or **HDLC**
  (``framing=hdlc``), one listening port per meter, a fresh association per connection;
* or over a **pseudo-terminal** with HDLC (``transport=serial``): the endpoint address is the
  pty's device path, which the driver opens like a serial port.

Options (``Simulator.start(options=...)``): ``framing`` (``wrapper``/``hdlc``), ``transport``
(``tcp``/``serial``), ``authentication`` (``none``, ``low``, ``manufacturer``, ``md5``,
``sha1``, ``gmac`` or ``high``, ``sha256``), ``security`` (the ciphering the management client
must use), ``security_suite`` (0–2), ``referencing`` (``ln``/``sn``: short names, base names
from 0x0A00, the association class 12 at 0xFA00), ``serial_prefix`` (default ``DLMS-``).
Meter serials are ``<prefix>0001``, ``<prefix>0002``, ...

Objects (client address 1 for the configured authentication, 16 for the public client without
authentication, server logical address 1, HDLC physical address 17):

==================  =====  ===============================================================
OBIS                class  content
==================  =====  ===============================================================
0-0:1.0.0*255       8      clock: system time + the meter's drift (settable)
0-0:42.0.0*255      1      logical device name ``MHS`` + serial
0-0:96.1.0*255      1      serial number
1-0:0.2.0*255       1      firmware version
0-0:43.1.0*255      1      the invocation counter the meter expects next (public client)
1-0:1.8.0*255       3      active import, Wh, scaler 0 (``SimulatedMeter.active_energy``)
1-0:2.8.0*255       3      active export, raw in 10 Wh (scaler 1)
1-0:3.8.0*255       3      reactive energy, varh, scaler 0
1-0:1.7.0*255       3      active power, W
1-0:32.7.0*255      3      voltage L1, scaler −1 V
1-0:31.7.0*255      3      current L1, scaler −2 A
1-0:1.29.0*255      3      active energy of the last quarter-hour, Wh
1-0:3.29.0*255      3      reactive energy of the last quarter-hour, varh
1-0:1.6.0*255       4      maximum demand of the UTC day so far, W, with capture time
1-0:1.4.0*255       5      demand register: current and last quarter-hour average, W
1-0:99.1.0*255      7      load profile: clock, 1-0:1.29.0, 1-0:3.29.0 every 15 min (40 days)
1-0:98.2.0*255      7      daily billing: clock, 1-0:1.8.0, 1-0:2.8.0 at 00:00 UTC (400 days)
1-0:98.1.0*255      7      monthly billing: same columns on the 1st at 00:00 UTC (24 months)
0-0:99.98.0*255     7      event log: clock, 0-0:96.11.0 event code (1 down, 2 up; 60 days)
0-0:96.11.0*255     1      last event code
0-0:96.3.10*255     70     disconnect control (methods 1 disconnect, 2 reconnect)
0-0:17.0.0*255      71     limiter on 1-0:1.7.0 (thresholds writable)
0-0:13.0.0*255      20     activity calendar (passive writable, method 1 activates)
0-0:44.0.0*255      18     image transfer (methods 1–4; the received image is recorded)
1-0:96.50.0*255     1      exists but no association may read it (access denied)
==================  =====  ===============================================================

Profiles are selectable by range (on the clock column) and by entry; they always return every
column. Interval timestamps are interval *ends* in UTC, as the driver's readings.

**Image transfer** (firmware upgrade). The meter records what it receives in
:attr:`MeterState.image` (an :class:`ImageState`): the identifier, the declared size, the
blocks; :attr:`ImageState.received` is the image as the blocks put it together. Verification
(method 3) succeeds when every block arrived and their sizes add up to the declared size;
activation (method 4) needs a verified image and makes its identifier the firmware version
(``1-0:0.2.0``). More options: ``image_transfer`` (``yes`` default; ``no``: the meter has no
image transfer object; ``disabled``: image_transfer_enabled is false), ``image_block_size``
(default 192), ``image_verify`` (``ok`` default; ``fail``: verification always fails, as for a
bad signature), ``image_busy`` (seconds verification and activation take: the methods answer
temporary-failure and image_transfer_status tells when they are done; default 0),
``image_lose_block`` (a block number the meter loses the first time it arrives).
"""

from meterhub.plugins.drivers.dlms.simulator.fleet import DlmsFleet, DlmsSimulator
from meterhub.plugins.drivers.dlms.simulator.state import (
    CLIENT_MANAGEMENT,
    CLIENT_PUBLIC,
    LOGICAL_ADDRESS,
    PHYSICAL_ADDRESS,
    ImageState,
    MeterState,
    meter_secrets,
)

__all__ = [
    "CLIENT_MANAGEMENT",
    "CLIENT_PUBLIC",
    "LOGICAL_ADDRESS",
    "PHYSICAL_ADDRESS",
    "DlmsFleet",
    "DlmsSimulator",
    "ImageState",
    "MeterState",
    "meter_secrets",
]
