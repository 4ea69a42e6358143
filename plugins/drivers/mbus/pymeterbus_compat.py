"""pyMeterBus (``meterbus``), imported without its side effect, and the request frames it builds.

pyMeterBus 0.8.5 builds the master's request frames (short frames, the secondary-address
selection) and MeterHub uses it for exactly that. Its defect, worked around here and shown by
a canary test (``tests/plugins/drivers/mbus/test_pymeterbus_compat.py``):

1. ``import meterbus`` runs ``logging.basicConfig(level=logging.INFO)`` (in ``meterbus/serial.py``),
   which adds a stderr handler to the root logger and sets its level when the host has not
   configured logging yet. :func:`meterbus_module` imports it once and restores the root
   logger's handlers and level.

Its decoder is not used: it is about 5 times slower than pymbusparser, does not check the
wireless CRCs and knows only security mode 5 with a class-wide key table.
"""

from __future__ import annotations

import logging
import threading
from functools import cache
from types import ModuleType

__all__ = [
    "application_reset_frame",
    "meterbus_module",
    "request_frame",
    "select_frame",
    "set_clock_frame",
    "snd_nke_frame",
]

_IMPORT_LOCK = threading.Lock()

#: Control fields (EN 13757-2): SND_NKE, REQ_UD2 (+ FCV, FCB), SND_UD.
SND_NKE = 0x40
REQ_UD2 = 0x5B
FCV = 0x10
FCB = 0x20
SND_UD = 0x53
#: The network-layer address: the slave selected by its secondary address.
SELECTED = 0xFD


@cache
def meterbus_module() -> ModuleType:
    """The ``meterbus`` module, imported with the root logger left as it was (defect 1)."""
    with _IMPORT_LOCK:
        root = logging.getLogger()
        handlers, level = list(root.handlers), root.level
        try:
            import meterbus
        finally:
            for handler in list(root.handlers):
                if handler not in handlers:
                    root.removeHandler(handler)
            root.setLevel(level)
    return meterbus


class _Sink:
    """A write-only stand-in for a serial port, to collect what pyMeterBus would send."""

    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes | bytearray) -> None:
        self.data += bytes(data)


def _short(control: int, address: int) -> bytes:
    meterbus = meterbus_module()
    frame = meterbus.TelegramShort()
    frame.header.cField.parts = [control]
    frame.header.aField.parts = [address]
    return bytes(bytearray(frame))


def snd_nke_frame(address: int) -> bytes:
    """SND_NKE (link reset) to primary ``address`` (253 resets the selected slave)."""
    return _short(SND_NKE, address)


def request_frame(address: int, fcb: bool, fcv: bool = True) -> bytes:
    """REQ_UD2 to ``address`` with the frame count bit ``fcb`` (valid when ``fcv``)."""
    return _short(REQ_UD2 | (FCV if fcv else 0) | (FCB if fcb else 0), address)


def select_frame(mask: str) -> bytes:
    """SND_UD with CI 52h selecting the slaves that match the 16-digit secondary ``mask``.

    ``mask`` is identification number (8 BCD digits), manufacturer (4 hex digits in wire order),
    version and medium (2 hex digits each); ``F`` is a wildcard digit.
    """
    sink = _Sink()
    meterbus_module().send_select_frame(sink, mask)
    return sink.data


def _long(control: int, address: int, body: list[int]) -> bytes:
    meterbus = meterbus_module()
    frame = meterbus.TelegramLong()
    frame.header.cField.parts = [control]
    frame.header.aField.parts = [address]
    frame.body.bodyHeaderLength = len(body)
    frame.body.bodyHeader = body
    return bytes(bytearray(frame))


def application_reset_frame(address: int) -> bytes:
    """SND_UD with CI 50h: application reset (the meter restarts its readout list)."""
    return _long(SND_UD, address, [0x50])


def set_clock_frame(address: int, type_f: bytes) -> bytes:
    """SND_UD with CI 51h and the record ``04 6D`` (date and time, type F)."""
    return _long(SND_UD, address, [0x51, 0x04, 0x6D, *type_f])
