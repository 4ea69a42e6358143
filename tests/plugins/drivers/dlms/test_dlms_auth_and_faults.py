"""Authentication levels, bad credentials and line faults: classified errors, never a hang."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from meterhub.extensions.driver import (
    AuthenticationFailed,
    LinkLost,
    MeterTimeout,
    ProtocolError,
    Quality,
)
from meterhub.extensions.simulator import Faults
from meterhub.plugins.drivers.dlms.driver import DlmsDriver
from meterhub.plugins.drivers.dlms.simulator import DlmsFleet

pytestmark = pytest.mark.timeout(30)


def connect(fleet: DlmsFleet, **extra: str):
    endpoint = fleet.endpoints[0]
    return DlmsDriver().connect(endpoint.address, {**endpoint.settings, **extra})


def test_low_authentication(start_fleet) -> None:
    fleet = start_fleet(authentication="low")
    assert fleet.endpoints[0].settings["password"]
    with connect(fleet) as connection:
        assert connection.read_clock().quality is Quality.VALID


def test_wrong_password_is_an_authentication_failure(start_fleet) -> None:
    fleet = start_fleet(authentication="low")
    with pytest.raises(AuthenticationFailed) as caught:
        connect(fleet, password="not-the-password")
    assert caught.value.frame  # the AARE that refused


def test_meter_expecting_another_password(start_fleet) -> None:
    fleet = start_fleet(authentication="low", faults=Faults(wrong_password=True))
    with pytest.raises(AuthenticationFailed):
        connect(fleet)


@pytest.mark.parametrize("framing", ["wrapper", "hdlc"])
def test_high_authentication_with_encryption(start_fleet, framing: str) -> None:
    fleet = start_fleet(authentication="high", framing=framing)
    endpoint = fleet.endpoints[0]
    with connect(fleet) as connection:
        clock = connection.read_clock()
        profile_ok = connection.read_registers(["1-0:1.8.0"])[0]
    assert clock.quality is Quality.VALID and profile_ok.quality is Quality.VALID
    # Ciphered APDUs on the wire: glo-get-request (C8) / glo-get-response (CC).
    frames = b"".join(entry.data for entry in connection.trace.entries)
    assert b"\xc8" in frames and b"\xcc" in frames
    first = int(connection.state["invocation_counter"])
    assert first > 1
    # The counter survives sessions through the stored state ...
    with connect(fleet, invocation_counter=str(first)) as again:
        again.read_clock()
    assert int(again.state["invocation_counter"]) > first
    # ... and a meter refuses one it has seen (replay) unless the driver resynchronises.
    with pytest.raises(AuthenticationFailed):
        connect(fleet, invocation_counter="1", invocation_counter_resync="false")
    assert fleet.state(endpoint.serial).invocation_counter >= first


def test_wrong_block_cipher_key(start_fleet) -> None:
    fleet = start_fleet(authentication="high")
    key = fleet.endpoints[0].settings["block_cipher_key"]
    wrong = ("0" if key[0] != "0" else "1") + key[1:]
    with pytest.raises(AuthenticationFailed):
        connect(fleet, block_cipher_key=wrong)


def test_meter_with_another_authentication_key(start_fleet) -> None:
    fleet = start_fleet(authentication="high", faults=Faults(wrong_password=True))
    with pytest.raises(AuthenticationFailed):
        connect(fleet)


def test_no_authentication_where_the_meter_wants_it(start_fleet) -> None:
    fleet = start_fleet(authentication="low")
    with pytest.raises(AuthenticationFailed):
        connect(fleet, authentication="none")


@pytest.mark.parametrize("framing", ["wrapper", "hdlc"])
def test_corrupt_frame_is_a_protocol_error_with_the_frame(start_fleet, framing: str) -> None:
    fleet = start_fleet(framing=framing, faults=Faults(corrupt_every=3))
    connection = None
    with pytest.raises(ProtocolError) as caught:
        connection = connect(fleet)
        connection.read_registers(["1-0:1.8.0", "1-0:2.8.0"])  # by list: one exchange
        connection.read_clock()  # the third answer is the corrupt one
    frame = caught.value.frame
    assert frame
    if connection is not None:
        connection.close()
        received = [entry.data for entry in connection.trace.entries if entry.direction == "rx"]
        assert any(frame.endswith(chunk) or chunk in frame for chunk in received)


def test_dropped_connection_is_link_lost(start_fleet) -> None:
    fleet = start_fleet(faults=Faults(drop_after=2))
    connection = connect(fleet)  # AARE is reply 1
    try:
        connection.read_clock()  # reply 2, then the meter hangs up
        with pytest.raises(LinkLost):
            connection.read_clock()
    finally:
        connection.close()


@pytest.mark.parametrize("framing", ["wrapper", "hdlc"])
def test_silence_is_a_meter_timeout_within_the_timeout(start_fleet, framing: str) -> None:
    fleet = start_fleet(framing=framing, faults=Faults(silent_after=2 if framing == "hdlc" else 1))
    connection = connect(fleet, timeout="1")
    try:
        started = time.monotonic()
        with pytest.raises(MeterTimeout):
            connection.read_registers(["1-0:1.8.0"])
        assert time.monotonic() - started < 2.5
    finally:
        connection.close()


def test_latency_is_tolerated(start_fleet) -> None:
    fleet = start_fleet(faults=Faults(latency=0.05))
    with connect(fleet) as connection:
        assert connection.read_clock().quality is Quality.VALID


def test_clock_drift_fault(start_fleet) -> None:
    fleet = start_fleet(faults=Faults(clock_drift=600))
    meter_drift = fleet.state(fleet.endpoints[0].serial).model.clock_drift
    with connect(fleet) as connection:
        clock = connection.read_clock()
    assert abs((clock.value - clock.timestamp).total_seconds() - 600 - meter_drift) <= 2


def test_unreachable_meter_is_link_lost() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(LinkLost):
        DlmsDriver().connect(f"127.0.0.1:{port}", {"timeout": "1"})


@pytest.fixture
def fake_meter() -> Iterator[tuple[str, list[bytes]]]:
    """A socket peer that answers the first request with the bytes the test queues."""
    answers: list[bytes] = []
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(5)
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.recv(4096)
            for answer in answers:
                conn.sendall(answer)
            stop.wait(5)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"127.0.0.1:{listener.getsockname()[1]}", answers
    stop.set()
    listener.close()
    thread.join(5)


def test_oversized_frame_is_a_protocol_error(fake_meter) -> None:
    address, answers = fake_meter
    answers.append(bytes.fromhex("000100010010ffff") + b"\x61" * 16)
    with pytest.raises(ProtocolError, match="oversized") as caught:
        DlmsDriver().connect(address, {"timeout": "2"})
    assert caught.value.frame.startswith(bytes.fromhex("000100010010ffff"))


def test_truncated_frame_is_a_protocol_error(fake_meter) -> None:
    address, answers = fake_meter
    answers.append(bytes.fromhex("00010001001000200061"))  # 0x20 bytes announced, 2 sent
    with pytest.raises(ProtocolError, match="truncated") as caught:
        DlmsDriver().connect(address, {"timeout": "1"})
    assert caught.value.frame == bytes.fromhex("00010001001000200061")


def test_garbage_answer_is_a_protocol_error(fake_meter) -> None:
    address, answers = fake_meter
    answers.append(bytes.fromhex("0001000100100004deadbeef"))
    with pytest.raises(ProtocolError) as caught:
        DlmsDriver().connect(address, {"timeout": "2"})
    assert caught.value.frame == bytes.fromhex("0001000100100004deadbeef")
