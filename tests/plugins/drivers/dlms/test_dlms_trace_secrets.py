"""Frame traces never hold secrets: LLS password, HLS challenge and answer, keys, system title.

Each test reads through a medium whose trace the test holds, then looks for every secret byte
sequence in the stored records (hex) and in the text (spaced hex), as an operator would see it.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from meterhub.extensions.driver import Quality
from meterhub.extensions.driverkit import open_medium
from meterhub.extensions.trace import MASK_BYTE, FrameTrace
from meterhub.plugins.drivers.dlms.driver import DlmsDriver
from meterhub.plugins.drivers.dlms.simulator import DlmsFleet

pytestmark = pytest.mark.timeout(30)


def spaced(data: bytes) -> str:
    return " ".join(f"{byte:02X}" for byte in data)


def assert_absent(trace: FrameTrace, secrets: dict[str, bytes]) -> None:
    records = trace.as_records()
    stored = "".join(record["hex"] for record in records)
    text = trace.text()
    for name, value in secrets.items():
        assert value, name
        assert value.hex() not in stored, f"{name} is in the stored trace"
        assert spaced(value) not in text, f"{name} is in the trace text"


def session(fleet: DlmsFleet, kind: str, **extra: str) -> tuple[FrameTrace, dict[str, Any]]:
    endpoint = fleet.endpoints[0]
    trace = FrameTrace()
    medium = open_medium(kind, endpoint.address, {}, timeout=5, trace=trace)
    seen: dict[str, Any] = {}
    try:
        with DlmsDriver().connect(endpoint.address, {**endpoint.settings, **extra}, medium) as c:
            seen["challenge"] = bytes(c.client.settings.ctoSChallenge or b"")
            seen["stoc"] = bytes(c.client.settings.stoCChallenge or b"")
            seen["server_title"] = bytes(c.client.settings.sourceSystemTitle or b"")
            seen["clock"] = c.read_clock().quality
    finally:
        medium.close()
    return trace, seen


@pytest.mark.parametrize(("framing", "transport"), [("wrapper", "tcp"), ("hdlc", "serial")])
def test_low_authentication_password_is_masked(start_fleet, framing: str, transport: str) -> None:
    fleet = start_fleet(authentication="low", framing=framing, transport=transport)
    password = fleet.endpoints[0].settings["password"].encode()
    trace, seen = session(fleet, "tcp" if transport == "tcp" else "serial")
    assert seen["clock"] is Quality.VALID
    assert_absent(trace, {"password": password})
    # Masked in place, same length, and marked.
    aarq = next(entry for entry in trace.entries if entry.direction == "tx" and entry.masked)
    (start, end), *_ = aarq.masked
    assert aarq.data[start:end] == bytes([MASK_BYTE]) * len(password)
    assert f"{'** ' * len(password)}".strip() in aarq.line() and aarq.line().endswith("(masked)")


def test_a_short_password_is_masked_where_it_is(start_fleet) -> None:
    fleet = start_fleet(authentication="low")
    endpoint = fleet.endpoints[0]
    state = fleet.state(endpoint.serial)
    state.secrets["password"] = "7"  # the meter's password is one character
    trace, seen = session(fleet, "tcp", password="7")
    assert seen["clock"] is Quality.VALID
    aarq = next(entry for entry in trace.entries if entry.direction == "tx" and entry.masked)
    assert aarq.masked and all(end - start == 1 for start, end in aarq.masked)
    # Only the AARQ's field is masked: other frames keep their 0x37 bytes.
    assert sum(bool(entry.masked) for entry in trace.entries) == 1


@pytest.mark.parametrize(("framing", "transport"), [("wrapper", "tcp"), ("hdlc", "tcp")])
def test_high_authentication_secrets_are_masked(start_fleet, framing: str, transport: str) -> None:
    fleet = start_fleet(authentication="high", framing=framing)
    settings = fleet.endpoints[0].settings
    trace, seen = session(fleet, transport)
    assert seen["clock"] is Quality.VALID
    secrets = {
        name: bytes.fromhex(settings[name])
        for name in ("authentication_key", "block_cipher_key", "system_title")
    }
    secrets["challenge CtoS"] = seen["challenge"]
    assert len(secrets["challenge CtoS"]) >= 8
    assert_absent(trace, secrets)
    masked = [entry for entry in trace.entries if entry.masked]
    assert masked and all(entry.direction == "tx" for entry in masked)


def test_the_hls_answer_is_masked_when_it_travels_in_clear(start_fleet) -> None:
    """With security none the pass 3 ACTION is not ciphered: its f(StoC) is masked."""
    fleet = start_fleet(authentication="high")
    trace, seen = session(fleet, "tcp", security="none")
    assert seen["clock"] is Quality.VALID
    (action,) = [
        entry
        for entry in trace.entries
        if entry.direction == "tx" and entry.data[8:10] == b"\xc3\x01"
    ]
    # ACTION-request on 0-0:40.0.0 method 1: C3 01 id 000F <LN> 01 01 09 <length> f(StoC)
    assert action.data[8 + 3 : 8 + 12] == bytes.fromhex("000f0000280000ff01")
    length = action.data[8 + 14]
    assert action.masked == ((8 + 15, 8 + 15 + length),)
    assert action.data[8 + 15 :] == bytes([MASK_BYTE]) * length


def test_a_password_split_over_hdlc_frames_is_masked_in_each() -> None:
    from gurux_dlms.enums import Authentication, InterfaceType
    from gurux_dlms.GXDLMSClient import GXDLMSClient

    from meterhub.plugins.drivers.dlms.aare import authentication_value
    from meterhub.plugins.drivers.dlms.masking import apdu_of, frame_spans

    password = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
    client = GXDLMSClient(True, 1, 0x91, Authentication.LOW, password.decode(), InterfaceType.HDLC)
    client.hdlcSettings.maxInfoTX = 32  # a meter with a small information field
    frames = [bytes(frame) for frame in client.aarqRequest()]
    assert len(frames) >= 3
    apdu = apdu_of(frames, "hdlc")
    assert apdu.startswith(b"\x60") and password in apdu
    assert not any(password in frame for frame in frames)  # it is split
    span = authentication_value(apdu)
    assert span is not None and apdu[span[0] : span[1]] == password
    trace = FrameTrace()
    for frame, spans in zip(frames, frame_spans(frames, "hdlc", [span]), strict=True):
        trace.mask_next(spans)
        trace.sent(frame)
    masked = [entry for entry in trace.entries if entry.masked]
    assert len(masked) >= 2
    assert sum(end - start for entry in masked for start, end in entry.masked) == len(password)
    recorded = b"".join(entry.data for entry in trace.entries)
    for size in (4, 5, 6):  # no piece of the password of any length is left
        pieces = {password[i : i + size] for i in range(len(password) - size + 1)}
        assert not any(piece in recorded for piece in pieces)


def hls_answer(mechanism: str, secret: bytes, own: bytes, other: bytes, titles: bytes) -> bytes:
    """f(challenge) of HLS mechanisms 2, 3, 4, 6 as the Green Book defines them.

    ``own`` is the challenge answered, ``other`` the other side's; ``titles`` the system titles
    of the answering side, then the other's (SHA-256 only).
    """
    if mechanism == "md5":
        return hashlib.md5(own + secret).digest()
    if mechanism == "sha1":
        return hashlib.sha1(own + secret).digest()
    if mechanism == "sha256":
        return hashlib.sha256(secret + titles + own + other).digest()
    padded = own + bytes(-len(own) % 16)
    encryptor = Cipher(algorithms.AES(secret.ljust(16, b"\0")), modes.ECB()).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


@pytest.mark.parametrize("mechanism", ["manufacturer", "md5", "sha1", "sha256"])
@pytest.mark.parametrize(("framing", "transport"), [("wrapper", "tcp"), ("hdlc", "serial")])
def test_hls_secrets_and_the_clients_answer_are_masked(
    start_fleet, mechanism: str, framing: str, transport: str
) -> None:
    fleet = start_fleet(authentication=mechanism, framing=framing, transport=transport)
    settings = fleet.endpoints[0].settings
    secret = settings["password"].encode()
    trace, seen = session(fleet, "tcp" if transport == "tcp" else "serial")
    assert seen["clock"] is Quality.VALID
    client_title = bytes.fromhex(settings.get("system_title", ""))
    ctos, stoc, server_title = seen["challenge"], seen["stoc"], seen["server_title"]
    assert len(ctos) >= 8 and len(stoc) >= 8
    answer = hls_answer(mechanism, secret, stoc, ctos, client_title + server_title)
    secrets = {"HLS secret": secret, "challenge CtoS": ctos, "f(StoC)": answer}
    if mechanism == "sha256":
        assert len(server_title) == 8  # the meter's AARE carried it (defect 26)
        secrets["system_title"] = client_title
    assert_absent(trace, secrets)
    # Pass 3 went out masked, exactly over the answer ...
    (pass3,) = [
        entry for entry in trace.entries if entry.direction == "tx" and b"\xc3\x01" in entry.data
    ]
    assert sum(end - start for start, end in pass3.masked) == len(answer)
    # ... and the meter's f(CtoS), visible, is the standard's.
    meter_answer = hls_answer(mechanism, secret, ctos, stoc, server_title + client_title)
    received = b"".join(bytes(entry.data) for entry in trace.entries if entry.direction == "rx")
    assert meter_answer in received


@pytest.mark.parametrize("mechanism", ["low", "manufacturer", "md5", "sha1", "gmac", "sha256"])
@pytest.mark.parametrize(("framing", "transport"), [("wrapper", "tcp"), ("hdlc", "serial")])
def test_secrets_are_masked_with_short_names(
    start_fleet, mechanism: str, framing: str, transport: str
) -> None:
    """SN pass 3 is a ReadRequest on 0xFA58: its f(StoC) is masked like LN's ACTION's."""
    fleet = start_fleet(
        referencing="sn", authentication=mechanism, framing=framing, transport=transport
    )
    settings = fleet.endpoints[0].settings
    trace, seen = session(fleet, "tcp" if transport == "tcp" else "serial")
    assert seen["clock"] is Quality.VALID
    secrets = {
        name: bytes.fromhex(settings[name])
        for name in ("authentication_key", "block_cipher_key", "system_title")
        if name in settings
    }
    if "password" in settings:  # the LLS password or the HLS secret
        secrets["password"] = settings["password"].encode()
    if mechanism != "low":
        secrets["challenge CtoS"] = seen["challenge"]
    assert_absent(trace, secrets)
    if mechanism == "low":
        return
    (pass3,) = [
        entry
        for entry in trace.entries
        if entry.direction == "tx" and b"\x05\x01\x04\xfa\x58\x00\x09" in entry.data
    ]
    at = bytes(pass3.data).index(b"\x05\x01\x04\xfa\x58\x00\x09") + 7
    length = pass3.data[at]
    assert pass3.masked == ((at + 1, at + 1 + length),)
    if mechanism != "gmac":
        answer = hls_answer(
            mechanism,
            settings["password"].encode(),
            seen["stoc"],
            seen["challenge"],
            bytes.fromhex(settings.get("system_title", "")) + seen["server_title"],
        )
        assert length == len(answer)
