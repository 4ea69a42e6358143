"""Peers that are not MeterHub's code: pyMeterBus's own example frame and request frames, and
the pyMeterBus import defect (canary: when it is fixed upstream, the workaround can go)."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from meterhub.extensions.driverkit import FrameServer
from meterhub.extensions.medium import Medium
from meterhub.plugins.drivers.mbus import pymeterbus_compat as requests
from meterhub.plugins.drivers.mbus.frames import Frame, read_frame
from meterhub.plugins.drivers.mbus.readout import Readout
from meterhub.plugins.drivers.mbus.wired import MbusDriver, parse_telegram
from meterhub.plugins.media.tcp import TcpMedium


def library_example_frame() -> bytes:
    """The RSP_UD of a heat meter that pyMeterBus ships in its package description."""
    description = importlib.metadata.metadata("pymeterbus").get_payload()  # type: ignore[attr-defined]
    block = description.split('data = "', 1)[1].split("\n\ntelegram")[0]
    return bytes(int(code, 16) for code in re.findall(r"\\x([0-9A-Fa-f]{2})", block))


def test_the_library_example_frame_reads_as_pymeterbus_says() -> None:
    raw = library_example_frame()
    meterbus = requests.meterbus_module()
    theirs = meterbus.load(raw)
    telegram = parse_telegram(Frame("long", raw))
    assert telegram.identification == "07935343"
    assert telegram.medium == 0x04  # heat
    assert telegram.manufacturer == theirs.body.bodyHeader.manufacturer_field.decodeManufacturer
    # pyMeterBus's README: record 3 is the date 2014-02-19T11:18
    assert str(theirs.records[3].parsed_value) == "2014-02-19T11:18"
    assert telegram.records[3].value == datetime(2014, 2, 19, 11, 18)
    readout = Readout("07935343", "LSE", 16, telegram.medium, 0, 0, telegram.records,
                      datetime(2026, 3, 2, tzinfo=UTC))  # fmt: skip
    current = {reading.obis: reading.scaled for reading in readout.current()}
    assert current["6-0:1.0.0*255"] == float(theirs.records[0].parsed_value)  # both in Wh
    assert current["6-0:2.0.0*255"] == pytest.approx(float(theirs.records[1].parsed_value))
    assert [item.reason for item in readout.unmapped()][-1].startswith("manufacturer data")


def test_the_driver_reads_the_library_frame_from_a_gateway() -> None:
    raw = library_example_frame()

    def gateway(channel) -> None:  # noqa: ANN001 - a ByteChannel
        buffer = b""
        while True:
            buffer += channel.read(64, 0.1)
            while len(buffer) >= 5 and buffer[0] == 0x10:
                request, buffer = buffer[:5], buffer[5:]
                channel.write(b"\xe5" if request[1] == 0x40 else raw)

    server = FrameServer("pymeterbus-frame")
    try:
        host, port = server.listen("127.0.0.1", 0, gateway)
        with MbusDriver().connect(f"{host}:{port}", {"primary_address": "1"}) as connection:
            (energy,) = connection.read_registers(["6-0:1.0.0"])
            history = connection.read_billing(
                datetime(2013, 1, 1, tzinfo=UTC), datetime(2015, 1, 1, tzinfo=UTC)
            )
        assert energy.scaled == 1400.0 and energy.unit == "Wh"
        assert [reading.timestamp.date().isoformat() for reading in history.readings][:1] == [
            "2013-12-31"
        ]
    finally:
        server.stop()


def test_request_frames_built_by_pymeterbus_read_back_with_its_decoder() -> None:
    meterbus = requests.meterbus_module()
    assert requests.snd_nke_frame(5) == bytes.fromhex("1040054516")
    assert requests.request_frame(5, True) == bytes.fromhex("107B058016")
    assert requests.request_frame(5, False) == bytes.fromhex("105B056016")
    select = requests.select_frame("12345678FFFFFFFF")
    assert select == bytes.fromhex("680B0B6873FD5278563412FFFFFFFFD216")
    for frame in (requests.snd_nke_frame(1), requests.request_frame(250, True)):
        assert bytes(bytearray(meterbus.load(frame))) == frame


class _Bytes(Medium):
    name = "bytes"

    def __init__(self, data: bytes) -> None:
        super().__init__("memory")
        self.data = data

    def open(self, timeout: float) -> None:  # noqa: D102
        pass

    def read(self, size: int, timeout: float) -> bytes:  # noqa: D102
        chunk, self.data = self.data[:size], self.data[size:]
        return chunk

    def write(self, data: bytes) -> None:  # noqa: D102
        pass

    def close(self) -> None:  # noqa: D102
        pass


def test_truncated_and_broken_library_frames_are_classified() -> None:
    from meterhub.extensions.driver import MeterTimeout
    from meterhub.plugins.drivers.mbus.frames import FrameError

    raw = library_example_frame()
    with pytest.raises(MeterTimeout, match="truncated"):
        read_frame(_Bytes(raw[:-10]), 0.05)
    broken = raw[:-2] + bytes([raw[-2] ^ 1]) + raw[-1:]
    with pytest.raises(FrameError, match="checksum"):
        read_frame(_Bytes(broken), 0.05)
    with pytest.raises(FrameError, match="no frame start"):
        read_frame(_Bytes(b"\x42"), 0.05)


def test_canary_importing_pymeterbus_configures_the_root_logger() -> None:
    """Defect 1 of pymeterbus_compat: still there (else drop the workaround)."""
    probe = "import logging, meterbus; print(len(logging.getLogger().handlers))"
    output = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert output.stdout.strip() == "1"
    workaround = (
        "import logging; from meterhub.plugins.drivers.mbus.pymeterbus_compat import "
        "meterbus_module as m; m(); print(len(logging.getLogger().handlers), "
        "logging.getLogger().level)"
    )
    output = subprocess.run(
        [sys.executable, "-c", workaround], capture_output=True, text=True, check=True
    )
    assert output.stdout.split() == ["0", "30"]


def test_tcp_medium_is_what_the_driver_uses_for_gateways() -> None:
    assert "tcp" in MbusDriver.info().media and TcpMedium.name == "tcp"
