"""The ``modem`` medium against the modem emulator on a pty."""

from __future__ import annotations

import time

import pytest

from meterhub.errors import InvalidValue
from meterhub.extensions.driver import LinkLost
from meterhub.extensions.driverkit import read_exactly
from meterhub.extensions.trace import FrameTrace
from meterhub.plugins.media.modem import DialFailed, ModemFailure, ModemMedium, parse_result
from meterhub.plugins.media.modem_emulator import ModemEmulator

pytestmark = pytest.mark.timeout(30)

FAST = {"guard_time": "0.1", "command_timeout": "2", "dial_timeout": "2"}


def settings(emulator: ModemEmulator, **extra: str) -> dict[str, str]:
    return {"port": emulator.port, **FAST, **extra}


def test_dial_connect_transparent_and_hang_up(echo_peer) -> None:  # type: ignore[no-untyped-def]
    trace = FrameTrace()
    with ModemEmulator({"+420123456789": echo_peer.address}, guard_time=0.1) as emulator:
        medium = ModemMedium("+420123456789", settings(emulator), trace)
        medium.open(timeout=2)
        assert medium.connect_rate == 9600
        medium.write(b"\x02binary\x00+++\x03")
        assert read_exactly(medium, 12, 2) == b"\x02binary\x00+++\x03"
        medium.close()
        assert emulator.dialled == ["+420123456789"]
        assert emulator.commands[:3] == ["ATZ", "ATE0V1", "ATD+420123456789"]
        deadline = time.monotonic() + 2
        while "ATH" not in emulator.commands and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "ATH" in emulator.commands
    text = trace.text()
    assert "dialling +420123456789" in text and "connected to +420123456789 at 9600" in text
    assert "hanging up (escape)" in text


@pytest.mark.parametrize(
    "failure",
    [
        ModemFailure.BUSY,
        ModemFailure.NO_CARRIER,
        ModemFailure.NO_DIALTONE,
        ModemFailure.NO_ANSWER,
        ModemFailure.ERROR,
    ],
)
def test_classified_dial_failures(failure: ModemFailure) -> None:
    with ModemEmulator({"555": failure}) as emulator:
        medium = ModemMedium("555", settings(emulator))
        with pytest.raises(DialFailed) as caught:
            medium.open(timeout=2)
    assert caught.value.reason is failure
    assert isinstance(caught.value, LinkLost)
    assert medium.serial.port is None


def test_no_answer_at_all_times_out() -> None:
    with ModemEmulator({"555": ModemFailure.TIMEOUT}) as emulator:
        medium = ModemMedium("555", settings(emulator, dial_timeout="0.5"))
        started = time.monotonic()
        with pytest.raises(DialFailed) as caught:
            medium.open(timeout=2)
    assert caught.value.reason is ModemFailure.TIMEOUT
    assert time.monotonic() - started < 2


def test_unknown_number_is_no_carrier() -> None:
    with ModemEmulator({}) as emulator:
        with pytest.raises(DialFailed) as caught:
            ModemMedium("999", settings(emulator)).open(timeout=2)
    assert caught.value.reason is ModemFailure.NO_CARRIER


def test_remote_hang_up_mid_call(echo_peer) -> None:  # type: ignore[no-untyped-def]
    with ModemEmulator({"1": echo_peer.address}) as emulator:
        with ModemMedium("1", settings(emulator)) as medium:
            medium.open(timeout=2)
            medium.write(b"bye")
            with pytest.raises(DialFailed) as caught:
                read_exactly(medium, 100, 2)
            assert caught.value.reason is ModemFailure.NO_CARRIER


def test_missing_port_is_a_port_failure() -> None:
    medium = ModemMedium("1", {"port": "/dev/no-such-modem"})
    with pytest.raises(DialFailed) as caught:
        medium.open(timeout=0.5)
    assert caught.value.reason is ModemFailure.PORT


def test_dtr_hang_up_falls_back_to_escape_on_a_pty(echo_peer) -> None:  # type: ignore[no-untyped-def]
    with ModemEmulator({"1": echo_peer.address}, guard_time=0.1) as emulator:
        medium = ModemMedium("1", settings(emulator, hangup="dtr"))
        medium.open(timeout=2)
        medium.close()
        assert not medium.connected


def test_result_codes() -> None:
    assert parse_result("CONNECT 9600/ARQ") == ("CONNECT", 9600)
    assert parse_result("connect") == ("CONNECT", None)
    assert parse_result("OK") == ("OK", None)
    assert parse_result("NO DIAL TONE") is ModemFailure.NO_DIALTONE
    assert parse_result("RING") is None


@pytest.mark.parametrize(
    ("address", "extra", "field"),
    [
        ("not a number!", {"port": "/dev/x"}, "address"),
        ("123", {}, "settings.port"),
        ("123", {"port": "/dev/x", "dial": "XYZ"}, "settings.dial"),
        ("123", {"port": "/dev/x", "hangup": "pull-plug"}, "settings.hangup"),
    ],
)
def test_bad_configuration(address: str, extra: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        ModemMedium(address, extra)
    assert field in str(caught.value)
