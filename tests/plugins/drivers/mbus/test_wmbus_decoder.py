"""The wireless decoder: link layer, OMS modes 5 and 7, replays, bad input, and the bulk path
checked against pymbusparser's own decoding of the same telegrams."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pymbusparser
import pytest
from mbus_clock import AT

from meterhub.plugins.drivers.mbus.obis import map_record
from meterhub.plugins.drivers.mbus.records import decode_records
from meterhub.plugins.drivers.mbus.simulator.air import build_telegram, link_frame, meter_key
from meterhub.plugins.drivers.mbus.simulator.model import HEAT, WARM_WATER, WATER, MeterSpec
from meterhub.plugins.drivers.mbus.wireless.decoder import DecodedBatch, TelegramDecoder
from meterhub.plugins.drivers.mbus.wireless.link import strip_link
from meterhub.plugins.drivers.mbus.wireless.security import MeterKey, cbc_decrypt, cmac_tag
from meterhub.plugins.drivers.mbus.wireless.status import Status, TelegramError

SPECS = [MeterSpec(f"{32000000 + n:08d}", (HEAT, WATER, WARM_WATER)[n % 3]) for n in range(1, 13)]
KEYS = {spec.identification: meter_key(spec.identification) for spec in SPECS}


def telegrams(
    security: int, frame_format: str = "a", access: int = 9, counter: int = 50
) -> list[bytes]:
    return [
        build_telegram(
            spec, AT, access=access, security=security, key=KEYS[spec.identification],
            counter=counter, frame_format=frame_format,
        )
        for spec in SPECS
    ]  # fmt: skip


def values_by_channel(
    decoder: TelegramDecoder, batch: DecodedBatch
) -> dict[tuple[str, str, str], float]:
    found = {}
    for channel, value, stamp in zip(batch.channel, batch.value, batch.time, strict=True):
        meter, obis, _unit = decoder.channels[channel]
        found[(meter, obis, str(stamp))] = float(value)
    return found


def library_values(spec: MeterSpec) -> dict[str, float]:
    """The same telegram's values through pymbusparser and the OBIS table, one by one."""
    clear = build_telegram(spec, AT, access=1, security=0, frame_format="none")
    found = {}
    for record in decode_records(clear[15:]):
        mapping = map_record(record, spec.medium)
        if mapping.obis is not None:
            found[mapping.obis] = record.value * 10.0**record.scaler  # type: ignore[operator]
    return found


@pytest.mark.parametrize("security", [0, 5, 7])
@pytest.mark.parametrize("frame_format", ["a", "b", "none"])
def test_every_mode_and_format_decodes_to_what_the_library_reads(
    security: int, frame_format: str
) -> None:
    decoder = TelegramDecoder(KEYS, link_crc="auto" if frame_format != "b" else "b")
    batch = decoder.decode(telegrams(security, frame_format))
    assert batch.count(Status.OK) == len(SPECS), batch.reasons
    got = values_by_channel(decoder, batch)
    for spec in SPECS:
        bulk = {
            obis: value for (meter, obis, _), value in got.items() if meter == spec.identification
        }
        assert bulk == pytest.approx(library_values(spec))


def test_bulk_values_equal_the_model_and_history_is_dated() -> None:
    decoder = TelegramDecoder(KEYS)
    batch = decoder.decode(telegrams(5), received=[datetime.fromtimestamp(AT, UTC)] * len(SPECS))
    got = values_by_channel(decoder, batch)
    from meterhub.plugins.drivers.mbus.simulator.model import month_starts, values_at

    heat = SPECS[2]  # n = 3 → HEAT
    assert heat.medium == HEAT
    now = str(np.datetime64(AT, "s"))
    values = values_at(heat, AT)
    assert got[(heat.identification, "6-0:1.0.0*255", now)] == values["energy_wh"] // 1000 * 1000
    assert got[(heat.identification, "6-0:10.0.0*255", now)] == pytest.approx(
        values["flow_temp"] / 100
    )
    start = month_starts(AT, 1)[0]
    then = str(np.datetime64(start, "s"))
    assert (
        got[(heat.identification, "6-0:1.0.0*1", then)]
        == values_at(heat, start)["energy_wh"] // 1000 * 1000
    )


def test_pymbusparser_decrypts_our_mode_5_telegrams() -> None:
    spec = SPECS[0]
    frame = build_telegram(
        spec, AT, access=4, security=5, key=KEYS[spec.identification], frame_format="none"
    )
    parsed = pymbusparser.parse(frame, key=KEYS[spec.identification])
    assert parsed["security"]["mode_code"] == 5
    assert parsed["security"]["decryption_state"].startswith("decrypted")
    clear = build_telegram(spec, AT, access=4, security=0, frame_format="none")
    assert [r["value"] for r in parsed["records"]] == [
        r["value"] for r in pymbusparser.parse(clear)["records"]
    ]


def test_cached_key_schedules_agree_with_plain_aes_and_cmac() -> None:
    key = bytes(range(16))
    cached = MeterKey(key)
    data = bytes(range(64))
    iv = bytes(range(16, 32))
    assert cached.decrypt_cbc(iv, data) == cbc_decrypt(key, iv, data)
    counter, ident = b"\x01\x02\x03\x04", b"\x78\x56\x34\x12"
    encryption, mac = cached.derive(counter, ident)
    assert encryption == cmac_tag(key, b"\x00" + counter + ident + b"\x07" * 7)
    assert mac == cmac_tag(key, b"\x01" + counter + ident + b"\x07" * 7)
    # RFC 4493 example 2 (AES-CMAC of one block): the primitive the KDF stands on.
    rfc_key = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
    message = bytes.fromhex("6bc1bee22e409f96e93d7e117393172a")
    assert cmac_tag(rfc_key, message).hex() == "070a16b46b4d4144f79bdd9dd04a287c"


def test_bad_input_is_classified_never_taken() -> None:
    good = telegrams(5)
    flipped = bytearray(good[0])
    flipped[20] ^= 0x01
    truncated = good[1][:-5]
    wrong_key = TelegramDecoder({**KEYS, SPECS[2].identification: bytes(16)})
    unknown = build_telegram(MeterSpec("99999999", WATER), AT, access=1, security=5, key=bytes(16))
    batch = wrong_key.decode([bytes(flipped), truncated, good[2], unknown, b"\x05\x44", b""])
    assert batch.status.tolist() == [
        Status.CRC_ERROR, Status.TRUNCATED, Status.WRONG_KEY, Status.UNKNOWN_METER,
        Status.TRUNCATED, Status.TRUNCATED,
    ]  # fmt: skip
    assert len(batch.value) == 0
    heard = {meter.meter_id: meter for meter in wrong_key.heard_meters()}
    assert heard["99999999"].last_status is Status.UNKNOWN_METER
    assert [meter.meter_id for meter in wrong_key.unknown_meters(KEYS)] == ["99999999"]


def test_mode_7_wrong_key_fails_the_mac() -> None:
    decoder = TelegramDecoder({SPECS[0].identification: bytes(16)})
    batch = decoder.decode(telegrams(7)[:1])
    assert batch.status.tolist() == [Status.WRONG_KEY]
    assert "MAC" in batch.reasons[0]


def test_replayed_and_out_of_order_telegrams_are_flagged() -> None:
    spec = SPECS[0]
    key = KEYS[spec.identification]
    decoder = TelegramDecoder({spec.identification: key})

    def one(access: int, counter: int, security: int = 5) -> bytes:
        return build_telegram(spec, AT, access=access, security=security, key=key, counter=counter)

    batch = decoder.decode([one(10, 1), one(10, 1), one(11, 2), one(5, 3), one(12, 4)])
    assert batch.status.tolist() == [
        Status.OK, Status.REPLAYED, Status.OK, Status.OUT_OF_ORDER, Status.OK,
    ]  # fmt: skip
    # mode 7: a counter that does not grow is a replay even with a new access number
    batch = decoder.decode([one(13, 100, 7), one(14, 100, 7), one(15, 101, 7)])
    assert batch.status.tolist() == [Status.OK, Status.REPLAYED, Status.OK]


def test_unknown_vif_and_layout_mismatch_keep_records_raw() -> None:
    spec = MeterSpec("32009999", WATER)
    key = KEYS[SPECS[0].identification]
    # a record with the reserved VIF 6Fh: the library stops there, the bytes are kept raw
    records = decode_records(bytes.fromhex("0C1412345678016F05"))
    assert records[-1].function.value == "undecoded"
    assert records[-1].data == bytes.fromhex("016F05")
    link = bytes([0x44]) + b"\x22\x36" + bytes.fromhex("99990032") + bytes([1, WATER])
    frame = link_frame(link + bytes([0x7A, 1, 0, 0, 0]) + bytes.fromhex("0C1412345678016F05"), "a")
    decoder = TelegramDecoder({spec.identification: None})
    batch = decoder.decode([frame])
    assert batch.status.tolist() == [Status.OK]
    assert batch.raw_records == 1 and "kept raw" in batch.reasons[0]
    del key


def test_link_layer_errors_name_the_block() -> None:
    frame = telegrams(0, "a")[0]
    broken = bytearray(frame)
    broken[-1] ^= 0xFF
    with pytest.raises(TelegramError, match="block") as caught:
        strip_link(bytes(broken), "a")
    assert caught.value.status is Status.CRC_ERROR
    with pytest.raises(TelegramError) as caught:
        strip_link(frame + b"\x00", "a")
    assert caught.value.status is Status.MALFORMED
