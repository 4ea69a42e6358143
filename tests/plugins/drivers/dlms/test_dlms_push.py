"""Pushed data-notifications: read from a line, identified, interpreted by the push layout.

The frames come from gurux's own push classes (``GXDLMSNotify.generatePushSetupMessages``,
through the simulator's :func:`push_frames`), the line is a socket pair.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest

from meterhub.errors import InvalidValue
from meterhub.extensions.driver import MeterTimeout, ProtocolError
from meterhub.extensions.driverkit import SimulatedMeter
from meterhub.extensions.push import PushMessage
from meterhub.extensions.simulator import Faults
from meterhub.plugins.drivers.dlms.driver import DlmsDriver
from meterhub.plugins.drivers.dlms.push import parse_push_objects
from meterhub.plugins.drivers.dlms.settings import DlmsSettings
from meterhub.plugins.drivers.dlms.simulator import MeterState, meter_secrets
from meterhub.plugins.drivers.dlms.simulator.push import PUSH_OBJECTS, push_frames
from meterhub.plugins.media.tcp import TcpMedium

AT = int(datetime(2026, 5, 4, 3, 2, 1, tzinfo=UTC).timestamp())


def _state(serial: str = "DLMS-0007") -> MeterState:
    return MeterState(serial, SimulatedMeter(serial), Faults(), "none", meter_secrets(serial))


class _PairLine(TcpMedium):
    """One end of a socket pair as the medium the driver reads from."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__("pair:1", {})
        self._socket = sock


def _read(data: bytes, timeout: float = 2.0) -> PushMessage:
    ours, theirs = socket.socketpair()
    try:
        theirs.sendall(data)
        return DlmsDriver().read_push(_PairLine(ours), timeout)
    finally:
        ours.close()
        theirs.close()


@pytest.mark.parametrize("framing", ["wrapper", "hdlc"])
def test_a_gurux_push_is_read_identified_and_interpreted(framing: str) -> None:
    state = _state()
    (frame,) = push_frames(state, AT, alarm_bits=0b110, event_code=2, framing=framing)
    message = _read(frame)
    assert message.identities == ("MHSDLMS-0007",)
    assert message.time == datetime.fromtimestamp(AT, UTC) and message.frame == frame
    content = DlmsDriver().decode_push(message, {"push_objects": PUSH_OBJECTS})
    readings = {r.obis: (r.value, r.scaler, r.unit) for r in content.readings}
    assert readings == {
        "1-0:1.8.0*255": (SimulatedMeter("DLMS-0007").active_energy(AT), 0, "Wh"),
        "1-0:2.8.0*255": (state.export_energy(AT) // 10, 1, "Wh"),
    }
    events = [(e.log, e.code, e.description) for e in content.events]
    assert events == [
        ("0-0:97.98.0*255", 1, "alarm bit 1"),
        ("0-0:97.98.0*255", 2, "alarm bit 2"),
        ("0-0:99.98.0*255", 2, "Power up"),
    ]
    assert {e.timestamp for e in content.events} == {message.time}
    assert content.warnings == ()


def test_the_layout_is_chosen_by_the_push_setup_name_and_count() -> None:
    message = _read(push_frames(_state(), AT, event_code=1)[0])
    other = PUSH_OBJECTS.replace("0-0:25.9.0*255", "0-4:25.9.0*255")
    short = "1/0-0:42.0.0*255/2,3/1-0:1.8.0*255/2"
    # the alarm push's layout has the same count, but another push setup name: not chosen
    content = DlmsDriver().decode_push(message, {"push_objects": f"{other};{short};{PUSH_OBJECTS}"})
    assert [e.code for e in content.events] == [1] and len(content.readings) == 2
    refused = DlmsDriver().decode_push(message, {"push_objects": f"{other};{short}"})
    assert refused.readings == () and refused.events == ()
    assert refused.warnings == (
        "the meter pushed 8 values, but its push_objects describe 8 or 2 values: nothing stored",
    )
    nothing = DlmsDriver().decode_push(message, {})
    assert nothing.warnings[0].endswith("its push_objects describe no values: nothing stored")


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (b"\x16\x03\x01\x00", ProtocolError, "not a DLMS frame: starts with 16030100"),
        (
            bytes.fromhex("0002000100010001") + b"\x0f",
            ProtocolError,
            "starts with 0002000100010001",
        ),
        (bytes.fromhex("0001000100010003") + b"\xc0\x01\x00", ProtocolError, "got a get-request"),
        (bytes.fromhex("0001000100010005") + b"\x0f\x00", ProtocolError, "truncated wrapper"),
        (b"", MeterTimeout, "the meter sent nothing within 0.3 s"),
    ],
)
def test_what_is_not_a_push_is_refused_by_name(data: bytes, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        _read(data, timeout=0.3)


def test_a_ciphered_push_names_its_system_title_and_is_refused() -> None:
    apdu = b"\xdb\x08" + bytes.fromhex("4D4853000000002A") + b"\x10\x30" + bytes(20)
    frame = bytes.fromhex("00010001000100") + bytes([len(apdu)]) + apdu
    message = _read(frame)
    assert message.identities == ("4D4853000000002A",) and message.values == ()
    with pytest.raises(ProtocolError, match="deciphering pushes is not supported"):
        DlmsDriver().decode_push(message, {"push_objects": PUSH_OBJECTS})


def test_push_objects_are_checked_and_written_canonically() -> None:
    parsed = DlmsSettings.parse({"push_objects": "3/1.8.0/2 ; 40/0-0:25.9.0/1,1/0.0.42.0.0.255/2"})
    assert parsed.push_objects == "3/1-0:1.8.0*255/2;40/0-0:25.9.0*255/1,1/0-0:42.0.0*255/2"
    with pytest.raises(InvalidValue, match="settings.push_objects: '3/1.8.0' is not class/OBIS"):
        parse_push_objects("3/1.8.0")
    with pytest.raises(InvalidValue, match="attribute 1..255"):
        parse_push_objects("3/1.8.0/0")
    with pytest.raises(InvalidValue, match="server_system_title"):
        DlmsSettings.parse({"server_system_title": "XYZ"})
    assert DlmsSettings.parse({"server_system_title": "4d4853000000002a"}).server_system_title == (
        "4D4853000000002A"
    )
