"""The wmbus driver reading a receiver's stream for the core: telegrams cut from hex lines and
Amber frames, named by their M-Bus address, deciphered one by one and in bulk (the same
values), replays and wrong keys refused in their place."""

from __future__ import annotations

import socket

import pytest
from mbus_clock import AT

from meterhub.errors import InvalidValue
from meterhub.extensions.driver import AuthenticationFailed, MeterTimeout, ProtocolError
from meterhub.extensions.push import NoKey, PushContent, Replayed
from meterhub.plugins.drivers.mbus.simulator.air import build_telegram, meter_key
from meterhub.plugins.drivers.mbus.simulator.model import HEAT, WATER, MeterSpec
from meterhub.plugins.drivers.mbus.wireless.driver import WmbusDriver
from meterhub.plugins.media.tcp import TcpMedium

WATER_METER = MeterSpec("32000042", WATER)
HEAT_METER = MeterSpec("32000043", HEAT)


class _PairLine(TcpMedium):
    def __init__(self, sock: socket.socket) -> None:
        super().__init__("pair:1", {})
        self._socket = sock


def _telegram(spec: MeterSpec, access: int, at: int = AT, key: bytes | None = None) -> bytes:
    key = key or meter_key(spec.identification)
    return build_telegram(spec, at, access=access, security=5, key=key)


def _settings(spec: MeterSpec, **extra: str) -> dict[str, str]:
    return {"meter_id": spec.identification, "key": meter_key(spec.identification).hex()} | extra


def _amber(telegram: bytes) -> bytes:
    from meterhub.plugins.drivers.mbus.wireless.link import strip_link

    payload = strip_link(telegram, "auto")[1:]
    frame = bytes([0xFF, 0x03, len(payload)]) + payload
    check = 0
    for byte in frame:
        check ^= byte
    return frame + bytes([check])


def test_telegrams_are_cut_from_lines_and_amber_frames_and_named() -> None:
    driver = WmbusDriver()
    first, second = _telegram(WATER_METER, 1), _telegram(HEAT_METER, 1)
    stream = (
        b"not a telegram\n2026-03-02T12:00:00Z " + first.hex().encode() + b"\n" + _amber(second)
    )
    ours, theirs = socket.socketpair()
    try:
        theirs.sendall(stream)
        line = _PairLine(ours)
        one = driver.read_push(line, 2)
        two = driver.read_push(line, 2)
        with pytest.raises(MeterTimeout, match="no telegram within 0.2 s"):
            driver.read_push(line, 0.2)
    finally:
        ours.close()
        theirs.close()
    letters = WATER_METER.manufacturer
    assert one.identities == (f"{letters} 32000042", "32000042")
    assert one.received.isoformat() == "2026-03-02T12:00:00+00:00" and one.frame == first
    assert two.identities == (f"{letters} 32000043", "32000043")


def test_the_bulk_path_gives_the_values_of_the_one_by_one_path() -> None:
    driver = WmbusDriver()
    messages = []
    ours, theirs = socket.socketpair()
    try:
        for access in (5, 6):
            for spec in (WATER_METER, HEAT_METER):
                theirs.sendall(_telegram(spec, access, AT + access).hex().encode() + b"\n")
        line = _PairLine(ours)
        messages = [driver.read_push(line, 2) for _ in range(4)]
    finally:
        ours.close()
        theirs.close()
    settings = [_settings(WATER_METER), _settings(HEAT_METER)] * 2
    bulk = driver.decode_pushes(messages, settings)
    assert all(isinstance(content, PushContent) for content in bulk)
    for message, meter_settings, content in zip(messages, settings, bulk, strict=True):
        single = driver.decode_push(message, meter_settings)
        assert isinstance(content, PushContent)
        expected = {r.obis: r.scaled for r in single.readings}
        got = {r.obis: r.scaled for r in content.readings}
        assert got.keys() <= expected.keys() and got
        assert got == pytest.approx({k: expected[k] for k in got}, rel=1e-12)
    assert bulk[-1].state == {"last_access_number": "6"}  # type: ignore[union-attr]


def test_replays_wrong_keys_and_bad_settings_fail_in_their_place() -> None:
    driver = WmbusDriver()
    ours, theirs = socket.socketpair()
    try:
        theirs.sendall(
            b"".join(
                t.hex().encode() + b"\n"
                for t in (
                    _telegram(WATER_METER, 9),
                    _telegram(WATER_METER, 9),  # the same access number again
                    _telegram(HEAT_METER, 3, key=b"\x07" * 16),
                    _telegram(WATER_METER, 8),  # older than 9: out of order
                )
            )
        )
        line = _PairLine(ours)
        messages = [driver.read_push(line, 2) for _ in range(4)]
    finally:
        ours.close()
        theirs.close()
    settings = [
        _settings(WATER_METER, last_access_number="8"),
        _settings(WATER_METER, last_access_number="8"),
        _settings(HEAT_METER),
        _settings(WATER_METER, key="abc"),
    ]
    ok, replay, wrong, bad = driver.decode_pushes(messages, settings)
    assert isinstance(ok, PushContent) and ok.state == {"last_access_number": "9"}
    assert isinstance(replay, ProtocolError) and "replayed" in str(replay)
    assert isinstance(wrong, AuthenticationFailed) and "wrong_key" in str(wrong)
    assert isinstance(bad, InvalidValue) and "settings.key" in str(bad)
    with pytest.raises(ProtocolError, match="replayed"):
        driver.decode_push(messages[1], _settings(WATER_METER, last_access_number="9"))


def test_refusals_say_why_and_telegrams_name_their_sender() -> None:
    """No key, a wrong key and a replay are told apart (the stream records them as such), and
    a telegram carries its sender's M-Bus address for the list of meters heard."""
    driver = WmbusDriver()
    ours, theirs = socket.socketpair()
    try:
        telegrams = (_telegram(WATER_METER, 5), _telegram(HEAT_METER, 3, key=b"\x07" * 16))
        theirs.sendall(b"".join(t.hex().encode() + b"\n" for t in telegrams))
        line = _PairLine(ours)
        water, heat = (driver.read_push(line, 2) for _ in range(2))
    finally:
        ours.close()
        theirs.close()
    letters = WATER_METER.manufacturer
    assert water.sender == {
        "address": f"{letters} 32000042 01 {WATER:02X}", "manufacturer": letters,
        "identification": "32000042", "version": 1, "device_type": WATER, "medium": "water",
    }  # fmt: skip
    assert heat.sender["medium"] == "heat (return)" and heat.sender["device_type"] == HEAT
    no_key = {"meter_id": WATER_METER.identification}
    replayed = _settings(WATER_METER, last_access_number="5")
    # one meter's settings per batch, as the stream hands them
    bulk = [driver.decode_pushes([message], [settings])[0] for message, settings in
            ((water, no_key), (water, replayed), (heat, _settings(HEAT_METER)))]  # fmt: skip
    for found in (bulk, [_refused(driver, water, no_key), _refused(driver, water, replayed),
                         _refused(driver, heat, _settings(HEAT_METER))]):  # fmt: skip
        missing, replay, wrong = found
        assert isinstance(missing, NoKey) and "no key" in str(missing)
        assert isinstance(replay, Replayed) and isinstance(replay, ProtocolError)
        assert isinstance(wrong, AuthenticationFailed) and not isinstance(wrong, NoKey)


def _refused(driver: WmbusDriver, message, settings) -> Exception:
    try:
        driver.decode_push(message, settings)
    except Exception as exc:
        return exc
    raise AssertionError("the telegram was taken")
