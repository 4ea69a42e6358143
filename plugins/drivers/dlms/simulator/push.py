"""A simulated meter that calls in: connects to the head-end, pushes, then serves as a meter.

:func:`call_in` opens a TCP connection to a listener, sends one data-notification that gurux's
own push classes build (``GXDLMSPushSetup`` with its capture objects,
``GXDLMSNotify.generatePushSetupMessages``), and then answers the head-end's requests on the
same connection with the meter's gurux server (:class:`~.server._Session`), until the
head-end closes the line or ``stay`` seconds pass without a request.

The push setup ``0-0:25.9.0`` captures (:data:`PUSH_OBJECTS`, the meter's ``push_objects``
setting): its own logical name, the logical device name, active import and export with their
scaler and unit, the alarm register ``0-0:97.98.0`` and the last event code ``0-0:96.11.0``.
Values are those of the meter at the push's time ``at`` (whole seconds), so tests know them.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from gurux_dlms import GXDateTime, GXDLMSNotify
from gurux_dlms.enums import DataType, InterfaceType, Unit
from gurux_dlms.objects import (
    GXDLMSCaptureObject,
    GXDLMSData,
    GXDLMSPushSetup,
    GXDLMSRegister,
)

from meterhub.plugins.drivers.dlms.cosem import to_cosem_time
from meterhub.plugins.drivers.dlms.simulator.catalog import Quantities
from meterhub.plugins.drivers.dlms.simulator.server import _Session
from meterhub.plugins.drivers.dlms.simulator.state import (
    CLIENT_MANAGEMENT,
    LOGICAL_ADDRESS,
    MeterState,
)

__all__ = ["PUSH_OBJECTS", "CallIn", "call_in", "push_frames"]

#: The capture objects of the simulated push setup, as the ``push_objects`` setting says them.
PUSH_OBJECTS = (
    "40/0-0:25.9.0*255/1,1/0-0:42.0.0*255/2,3/1-0:1.8.0*255/2,3/1-0:1.8.0*255/3,"
    "3/1-0:2.8.0*255/2,3/1-0:2.8.0*255/3,1/0-0:97.98.0*255/2,1/0-0:96.11.0*255/2"
)


def logical_device_name(serial: str) -> str:
    """The logical device name (``0-0:42.0.0``) of simulated meter ``serial``."""
    return "MHS" + serial


def push_frames(
    state: MeterState,
    at: int,
    *,
    alarm_bits: int = 0,
    event_code: int = 0,
    framing: str = "wrapper",
) -> list[bytes]:
    """The frames of one push of meter ``state`` at Unix second ``at`` (built by gurux)."""
    interface = InterfaceType.HDLC if framing == "hdlc" else InterfaceType.WRAPPER
    notify = GXDLMSNotify(True, CLIENT_MANAGEMENT, LOGICAL_ADDRESS, interface)
    quantities = Quantities(state)
    setup = GXDLMSPushSetup("0.0.25.9.0.255")
    name = GXDLMSData("0.0.42.0.0.255")
    name.value = logical_device_name(state.serial).encode()
    name.setDataType(2, DataType.OCTET_STRING)
    imported = GXDLMSRegister("1.0.1.8.0.255")
    imported.value = quantities.import_energy(at)
    imported.scaler, imported.unit = 1, Unit.ACTIVE_ENERGY  # gurux keeps 10**scaler
    imported.setDataType(2, DataType.UINT32)
    exported = GXDLMSRegister("1.0.2.8.0.255")
    exported.value = quantities.export_energy(at) // 10
    exported.scaler, exported.unit = 10, Unit.ACTIVE_ENERGY
    exported.setDataType(2, DataType.UINT32)
    alarm = GXDLMSData("0.0.97.98.0.255")
    alarm.value = alarm_bits
    alarm.setDataType(2, DataType.UINT32)
    event = GXDLMSData("0.0.96.11.0.255")
    event.value = event_code
    event.setDataType(2, DataType.UINT16)
    captured = [(setup, 1), (name, 2), (imported, 2), (imported, 3), (exported, 2),
                (exported, 3), (alarm, 2), (event, 2)]  # fmt: skip
    for obj, attribute in captured:
        setup.pushObjectList.append((obj, GXDLMSCaptureObject(attribute, 0)))
    stamp: GXDateTime = to_cosem_time(datetime.fromtimestamp(at, UTC))
    return [bytes(frame) for frame in notify.generatePushSetupMessages(stamp, setup)]


@dataclass
class CallIn:
    """A meter's call in progress: its thread, what it sent and what it answered."""

    thread: threading.Thread
    frames: list[bytes]
    requests: int = 0
    closed_by_peer: bool = False
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def wait(self, timeout: float = 20.0) -> bool:
        """Wait until the call ended; whether it did."""
        return self.done.wait(timeout)


def call_in(
    state: MeterState,
    address: tuple[str, int],
    *,
    at: int | None = None,
    alarm_bits: int = 0,
    event_code: int = 0,
    stay: float = 5.0,
    frames: list[bytes] | None = None,
) -> CallIn:
    """Connect to ``address``, push (``frames``, or :func:`push_frames` at ``at``), then serve
    the head-end's requests over the wrapper until it closes or is silent for ``stay`` s."""
    sent = frames if frames is not None else push_frames(
        state, int(time.time()) if at is None else at, alarm_bits=alarm_bits,
        event_code=event_code,
    )  # fmt: skip
    sock = socket.create_connection(address, timeout=5)
    call = CallIn(threading.Thread(), sent)

    def run() -> None:
        try:
            for frame in sent:
                sock.sendall(frame)
            session = _Session(state, InterfaceType.WRAPPER)
            sock.settimeout(stay)
            while True:
                try:
                    data = sock.recv(4096)
                except TimeoutError:
                    return
                if not data:
                    call.closed_by_peer = True
                    return
                call.requests += 1
                answer, drop = session.handle(data)
                if answer is not None:
                    sock.sendall(answer)
                if drop:
                    return
        except OSError as exc:
            call.closed_by_peer = True
            call.error = exc
        finally:
            sock.close()
            call.done.set()

    call.thread = threading.Thread(target=run, name=f"dlms-call-in-{state.serial}", daemon=True)
    call.thread.start()
    return call
