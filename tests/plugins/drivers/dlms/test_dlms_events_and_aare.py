"""Event texts from the table of the meter's type, and malformed AAREs that say what is wrong."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from meterhub.errors import InvalidValue
from meterhub.extensions.driver import ProtocolError, Quality
from meterhub.plugins.drivers.dlms.aare import authentication_value, check_aare
from meterhub.plugins.drivers.dlms.driver import DlmsDriver
from meterhub.plugins.drivers.dlms.events import EventTable, event_table, event_tables
from meterhub.plugins.drivers.dlms.simulator import DlmsFleet

pytestmark = pytest.mark.timeout(30)

#: The AARE of an accepted association without security (from the simulator).
GOOD_AARE = bytes.fromhex(
    "6129a109060760857405080101a203020100a305a103020100be10040e0800065f1f0400401e5d04000007"
)


def test_the_shipped_tables() -> None:
    assert set(event_tables()) == {"standard", "elvaco_cme3100"}
    standard = event_table("standard")
    assert standard.text(1) == "Power down" and standard.text(2) == "Power up"
    assert standard.text(18) == "Firmware activated"
    assert [standard.text(code) for code in (0, 19, 47, 4005)] == ["", "", "", ""]
    elvaco = event_table("elvaco_cme3100")
    assert elvaco.text(4000) == "M-Bus meter status byte 0x00"
    assert elvaco.text(4005) == "M-Bus meter status byte 0x05"
    assert elvaco.text(4255) == "M-Bus meter status byte 0xFF"
    # Never a text from another table.
    assert [elvaco.text(code) for code in (1, 2, 18, 3999, 4256)] == ["", "", "", "", ""]


def test_every_table_says_where_its_codes_come_from() -> None:
    from importlib import resources

    folder = resources.files("meterhub.plugins.drivers.dlms").joinpath("event_tables")
    for entry in folder.iterdir():
        if entry.name.endswith(".toml"):
            head = entry.read_text(encoding="utf-8").split("\n\n", 1)[0]
            assert "Source" in head or "published" in head, entry.name


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("name = ", "not valid TOML"),
        ('title = "x"', "needs a name"),
        ('name = "t"\n[codes]\nx = "y"', "code 'x'"),
        ('name = "t"\n[codes]\n1 = 2', "code '1'"),
        ('name = "t"\n[[ranges]]\nfirst = 5\nlast = 1\ntext = "x"', "first <= last"),
        ('name = "t"\n[[ranges]]\nfirst = 1\nlast = 5', "needs a text"),
        ('name = "t"\n[[ranges]]\nfirst = 1\nlast = 5\ntext = "{nope}"', "range text"),
    ],
)
def test_a_malformed_table_is_refused(text: str, reason: str) -> None:
    with pytest.raises(InvalidValue, match=reason):
        EventTable.from_toml(text, "test.toml")


def test_the_event_table_setting(wrapper_fleet: DlmsFleet) -> None:
    endpoint = wrapper_fleet.endpoints[0]
    with pytest.raises(InvalidValue, match="unknown table 'acme'; known: elvaco_cme3100, standard"):
        DlmsDriver().connect(endpoint.address, {**endpoint.settings, "event_table": "acme"})
    now = datetime.now(UTC)
    start = now - timedelta(days=59)
    logs = {}
    for table in ("standard", "elvaco_cme3100"):
        settings = {**endpoint.settings, "event_table": table}
        with DlmsDriver().connect(endpoint.address, settings) as connection:
            logs[table] = connection.read_events(start, now)
    standard, elvaco = logs["standard"], logs["elvaco_cme3100"]
    assert standard.quality is Quality.VALID and standard.events
    assert {event.description for event in standard.events} <= {"Power down", "Power up"}
    # The same codes on a meter type that numbers otherwise: no text rather than a wrong one.
    assert [event.code for event in elvaco.events] == [event.code for event in standard.events]
    assert {event.description for event in elvaco.events} == {""}


# -- the AARE --------------------------------------------------------------------------------


def test_check_aare() -> None:
    check_aare(GOOD_AARE)
    cases = [
        (b"", "empty"),
        (b"\x62\x00", "starts with 0x62"),
        (GOOD_AARE[:-3], "announces"),
        (GOOD_AARE[:2] + b"\xff\x01\x00" + GOOD_AARE[5:], "unknown tag 0xFF at byte 2"),
        (bytes.fromhex("6105a203020100"), "no application-context-name, result-source-diag"),
        (bytes.fromhex("6104a20a0201"), "0xA2 at byte 2 announces 10 bytes"),
    ]
    for apdu, message in cases:
        with pytest.raises(ProtocolError, match=message) as caught:
            check_aare(apdu)
        assert str(caught.value).startswith("malformed AARE")
        assert caught.value.frame == apdu


def test_authentication_value_of_an_aarq() -> None:
    aarq = bytes.fromhex("6015a109060760857405080102ac0a8008") + b"SECRET12"
    start, end = authentication_value(aarq) or (0, 0)
    assert aarq[start:end] == b"SECRET12"
    assert authentication_value(GOOD_AARE) is None
    assert authentication_value(b"\x60\x05\xac\x09") is None  # cut short: no span


@pytest.fixture
def aare_peer() -> Iterator[tuple[str, list[bytes]]]:
    """A TCP peer that answers an AARQ with the wrapper frame the test puts in the list."""
    answers: list[bytes] = []
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(5)
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        with connection:
            connection.recv(4096)
            payload = answers[0]
            # Wrapper: version 1, from the server (1) to the public client (16), length.
            header = bytes.fromhex("000100010010") + len(payload).to_bytes(2, "big")
            connection.sendall(header + payload)
            stop.wait(5)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"127.0.0.1:{listener.getsockname()[1]}", answers
    stop.set()
    listener.close()
    thread.join(5)


def test_a_malformed_aare_prints_nothing_and_says_what_is_wrong(aare_peer, capsys) -> None:
    address, answers = aare_peer
    # An AARE with a field gurux does not know (tag 0xFF), where it prints "Unknown tag: 255."
    answers.append(GOOD_AARE[:2] + b"\xff\x01\x00" + GOOD_AARE[5:])
    with pytest.raises(
        ProtocolError, match=r"malformed AARE: unknown tag 0xFF at byte 2"
    ) as caught:
        DlmsDriver().connect(address, {"timeout": "2"})
    assert caught.value.frame.startswith(b"\x61")
    assert capsys.readouterr().out == ""


def test_gurux_prints_nothing_even_when_it_parses_a_strange_aare(capsys) -> None:
    """The same AARE straight to gurux's parser, silenced by gurux_compat (defect 14)."""
    from gurux_dlms import GXByteBuffer
    from gurux_dlms.enums import Authentication, InterfaceType
    from gurux_dlms.GXDLMSClient import GXDLMSClient

    from meterhub.plugins.drivers.dlms import gurux_compat

    gurux_compat.install()
    client = GXDLMSClient(True, 16, 1, Authentication.NONE, None, InterfaceType.WRAPPER)
    client.aarqRequest()
    try:
        client.parseAareResponse(GXByteBuffer(GOOD_AARE[:2] + b"\xff\x01\x00" + GOOD_AARE[5:]))
    except Exception:  # noqa: BLE001 - only what it prints matters here
        pass
    assert capsys.readouterr().out == ""
