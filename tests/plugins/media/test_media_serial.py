"""The ``serial`` medium on a pseudo-terminal pair."""

from __future__ import annotations

import pytest
import serial

from meterhub.errors import InvalidValue
from meterhub.extensions.driver import LinkLost
from meterhub.extensions.driverkit import PtyPair, read_exactly
from meterhub.extensions.trace import FrameTrace
from meterhub.plugins.media.serial import SerialMedium

pytestmark = pytest.mark.timeout(20)


def test_bytes_both_ways_and_line_settings() -> None:
    pair = PtyPair()
    trace = FrameTrace()
    settings = {"baudrate": "300", "bytesize": "7", "parity": "e", "stopbits": "1"}
    try:
        with SerialMedium(pair.path, settings, trace) as medium:
            medium.open(timeout=1)
            assert medium.port is not None
            assert (medium.port.baudrate, medium.port.bytesize, medium.port.parity) == (
                300,
                7,
                serial.PARITY_EVEN,
            )
            medium.write(b"/?!\r\n")
            assert pair.read(10, 1) == b"/?!\r\n"
            pair.write(b"/ABC5METER\r\n")
            assert read_exactly(medium, 12, 1) == b"/ABC5METER\r\n"
            medium.set_baudrate(9600)
            assert medium.port.baudrate == 9600
            assert repr(medium.line) == "9600 7E1"
            assert medium.read(4, 0.05) == b""
        assert "serial line now 9600 7E1" in trace.text()
        assert "2F 3F 21 0D 0A" in trace.text()
    finally:
        pair.close()


def test_missing_port_is_link_lost() -> None:
    with pytest.raises(LinkLost, match="cannot open"):
        SerialMedium("/dev/does-not-exist").open(timeout=0.5)


def test_other_side_gone_is_link_lost() -> None:
    pair = PtyPair()
    medium = SerialMedium(pair.path)
    medium.open(timeout=1)
    pair.close()
    with pytest.raises(LinkLost):
        for _ in range(3):
            medium.read(10, 0.2)
    medium.close()


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"baudrate": "fast"}, "settings.baudrate"),
        ({"bytesize": "9"}, "settings.bytesize"),
        ({"parity": "X"}, "settings.parity"),
        ({"stopbits": "3"}, "settings.stopbits"),
    ],
)
def test_bad_settings_name_the_field(settings: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        SerialMedium("/dev/ttyS0", settings)
    assert field in str(caught.value)
