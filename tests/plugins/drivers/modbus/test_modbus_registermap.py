"""Register maps and value encodings, fuzzed with hypothesis."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterhub.errors import InvalidValue
from meterhub.plugins.drivers.modbus.registermap import (
    DATA_TYPES,
    MapError,
    RegisterDecodeError,
    decode_value,
    encode_value,
    load_map,
    parse_map,
    shipped_map,
    shipped_map_names,
)

ORDERS = st.sampled_from(["big", "little"])
RANGES = {
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
}


@given(st.data(), st.sampled_from(sorted(RANGES)), ORDERS, ORDERS)
def test_integer_round_trip(data, data_type, word_order, byte_order) -> None:  # type: ignore[no-untyped-def]
    low, high = RANGES[data_type]
    value = data.draw(st.integers(low, high))
    registers = encode_value(value, data_type, word_order, byte_order)
    assert len(registers) == DATA_TYPES[data_type][1]
    assert all(0 <= r <= 0xFFFF for r in registers)
    assert decode_value(registers, data_type, word_order, byte_order) == value


@given(st.floats(width=32, allow_nan=False), ORDERS, ORDERS)
def test_float32_round_trip(value: float, word_order: str, byte_order: str) -> None:
    registers = encode_value(value, "float32", word_order, byte_order)
    assert decode_value(registers, "float32", word_order, byte_order) == value


@given(st.floats(allow_nan=False), ORDERS, ORDERS)
def test_float64_round_trip(value: float, word_order: str, byte_order: str) -> None:
    registers = encode_value(value, "float64", word_order, byte_order)
    assert decode_value(registers, "float64", word_order, byte_order) == value


def test_nan_survives_as_nan() -> None:
    assert math.isnan(decode_value(encode_value(math.nan, "float32"), "float32"))


@given(
    st.lists(st.one_of(st.integers(-(2**20), 2**20), st.just(True), st.none()), max_size=6),
    st.sampled_from([*DATA_TYPES, "int24", ""]),
    st.sampled_from(["big", "little", "middle"]),
    ORDERS,
)
def test_random_registers_never_crash(registers, data_type, word_order, byte_order) -> None:  # type: ignore[no-untyped-def]
    try:
        value = decode_value(registers, data_type, word_order, byte_order)
    except RegisterDecodeError as exc:
        assert str(exc)
    else:
        assert isinstance(value, int | float)


@given(st.one_of(st.integers(), st.floats()), st.sampled_from(list(DATA_TYPES)), ORDERS, ORDERS)
def test_encode_rejects_clearly(value, data_type, word_order, byte_order) -> None:  # type: ignore[no-untyped-def]
    try:
        registers = encode_value(value, data_type, word_order, byte_order)
    except RegisterDecodeError as exc:
        assert data_type in str(exc)
    else:
        assert len(registers) == DATA_TYPES[data_type][1]


def test_word_and_byte_order_examples() -> None:
    # 0x12345678 as int32: big words [0x1234, 0x5678]; low word first [0x5678, 0x1234]
    assert encode_value(0x12345678, "int32") == [0x1234, 0x5678]
    assert encode_value(0x12345678, "int32", "little") == [0x5678, 0x1234]
    assert encode_value(0x12345678, "int32", "big", "little") == [0x3412, 0x7856]
    # SDM630 style float32: 230.0 V
    assert encode_value(230.0, "float32") == list(struct.unpack(">HH", struct.pack(">f", 230.0)))


def test_shipped_maps() -> None:
    assert shipped_map_names() == ["em24", "int32-lw", "sdm120", "sdm630", "umg96rm"]
    sdm = shipped_map("sdm630")
    by_obis = sdm.by_obis()
    assert by_obis["1-0:1.8.0*255"].address == 0x0048
    assert by_obis["1-0:15.8.0*255"].address == 0x0156
    assert {r.function for r in sdm.registers} == {4}
    assert {r.data_type for r in sdm.registers} == {"float32"}
    lw = shipped_map("int32-lw")
    energy = lw.by_obis()["1-0:1.8.0*255"]
    assert (energy.word_order, energy.scaler, energy.unit) == ("little", -3, "kWh")
    assert lw.clock is not None and lw.clock.writable


def _map(**register: object) -> dict[str, object]:
    base = {"name": "e1", "address": 0, "function": 4, "type": "float32", "obis": "1.8.0"}
    return {"name": "m", "registers": [{**base, **register}]}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"type": "int24"}, "register 1 ('e1'): field 'type': must be one of"),
        ({"function": 6}, "register 1 ('e1'): field 'function': must be 3 (holding) or 4"),
        ({"address": 70000}, "field 'address': must be 0..65535"),
        ({"address": "0x10"}, "field 'address': must be a whole number"),
        ({"word_order": "middle"}, "field 'word_order': must be big or little"),
        ({"scale": 0}, "field 'scale': must be a non-zero number"),
        ({"obis": "1.8.x"}, "field 'obis'"),
        ({"kind": "profile"}, "field 'kind': must be one of"),
        ({"writable": True}, "only holding registers"),
        ({"colour": "red"}, "field 'colour': unknown field"),
        ({"obis": None}, "field 'obis': must be an OBIS code"),
    ],
)
def test_map_errors_name_entry_and_field(change: dict[str, object], message: str) -> None:
    with pytest.raises(MapError) as caught:
        parse_map(_map(**change), "meter.toml")
    assert message in str(caught.value)
    assert str(caught.value).startswith("meter.toml: ")


def test_overlap_and_duplicate_obis() -> None:
    data = _map()
    data["registers"].append(  # type: ignore[attr-defined]
        {"name": "e2", "address": 1, "function": 4, "type": "float32", "obis": "2.8.0"}
    )
    with pytest.raises(MapError, match="register 2 \\('e2'\\): field 'address': register 1 is"):
        parse_map(data, "m.toml")
    data["registers"][1]["address"] = 2  # type: ignore[index]
    data["registers"][1]["obis"] = "1-0:1.8.0*255"  # type: ignore[index]
    with pytest.raises(MapError, match="field 'obis': 1-0:1.8.0\\*255 is also 'e1'"):
        parse_map(data, "m.toml")


def test_load_json_and_toml_files(tmp_path: Path) -> None:
    (tmp_path / "m.json").write_text(json.dumps(_map()), encoding="utf-8")
    assert load_map(tmp_path / "m.json").registers[0].obis == "1-0:1.8.0*255"
    (tmp_path / "m.toml").write_text(
        'name = "t"\n[[registers]]\nname = "v"\naddress = 0\nfunction = 3\ntype = "int16"\n'
        'obis = "32.7.0"\nscale = 0.1\n',
        encoding="utf-8",
    )
    assert load_map(tmp_path / "m.toml").registers[0].scaler == -1
    (tmp_path / "bad.toml").write_text("name = ", encoding="utf-8")
    with pytest.raises(MapError, match="not valid TOML"):
        load_map(tmp_path / "bad.toml")
    with pytest.raises(MapError, match="cannot read"):
        load_map(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sign": "both"}, "field 'sign': must be one of none, import-export, reactive"),
        ({"type": "uint32", "sign": "import-export"}, "a uint32 cannot hold a negative value"),
        ({"obis": "1.8.0", "kind": "instantaneous"}, "is a time integral (an energy counter)"),
        ({"byte_order": "LSB"}, "field 'byte_order': must be big or little, got 'LSB'"),
        ({"word_order": "lsw"}, "field 'word_order': must be big or little, got 'lsw'"),
        ({"type": "float"}, "field 'type': must be one of int16, uint16, int32"),
        ({"type": 32}, "field 'type': must be a data type, got 32"),
        ({"unit": ""}, "field 'unit': must be a non-empty text"),
        ({"description": 5}, "field 'description': must be a non-empty text"),
        ({"obis": "0-0:1.0.0", "type": "uint32", "sign": "import-export"}, "field 'sign'"),
    ],
)
def test_more_map_errors_name_file_register_and_field(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(MapError) as caught:
        parse_map(_map(**change), "meter.toml")
    assert message in str(caught.value)
    assert str(caught.value).startswith("meter.toml: register 1 ('e1'): ")


def test_kind_follows_the_obis_code() -> None:
    register = parse_map(_map(obis="32.7.0"), "m.toml").registers[0]
    assert register.kind == "instantaneous"
    assert parse_map(_map(obis="1.8.0"), "m.toml").registers[0].kind == "register"
    assert parse_map(_map(obis="1.6.0"), "m.toml").registers[0].kind == "register"
    clock = parse_map(_map(obis="0-0:1.0.0", type="uint32"), "m.toml").registers[0]
    assert clock.kind == "clock"


@pytest.mark.parametrize(
    ("top", "message"),
    [
        ({"max_read": 0}, "m.toml: max_read: must be a whole number 1..125"),
        ({"max_read": 126}, "m.toml: max_read: must be a whole number 1..125"),
        ({"max_read": "80"}, "m.toml: max_read: must be a whole number 1..125"),
        ({"max_read": 10, "max_gap": 10}, "m.toml: max_gap: must be less than max_read (10)"),
        ({"max_read": 1}, "register 1 ('e1'): field 'type': float32 takes 2 registers"),
        ({"reference": 3}, "m.toml: reference: must be a text"),
        ({"defaults": {"description": "x"}}, "m.toml: defaults.description: is not a field"),
        ({"owner": "me"}, "m.toml: owner: unknown top-level field"),
    ],
)
def test_map_level_errors(top: dict[str, object], message: str) -> None:
    with pytest.raises(MapError) as caught:
        parse_map({**_map(), **top}, "m.toml")
    assert message in str(caught.value)


def test_overlap_of_a_multi_register_value_names_file_register_and_address(
    tmp_path: Path,
) -> None:
    (tmp_path / "em.toml").write_text(
        'name = "em"\n[defaults]\nfunction = 4\ntype = "int32"\nword_order = "little"\n'
        '[[registers]]\nname = "current"\naddress = 12\nobis = "31.7.0"\n'
        '[[registers]]\nname = "power"\naddress = 13\nobis = "36.7.0"\n',
        encoding="utf-8",
    )
    with pytest.raises(InvalidValue) as caught:
        load_map(tmp_path / "em.toml")
    assert str(caught.value) == (
        "em.toml: register 2 ('power'): field 'address': "
        "register 13 is also used by 'current' (address 0x000D)"
    )
    # the same register number under another function code is no overlap
    text = (tmp_path / "em.toml").read_text(encoding="utf-8")
    (tmp_path / "em.toml").write_text(
        text.replace("address = 13\n", "address = 13\nfunction = 3\n"), encoding="utf-8"
    )
    assert len(load_map(tmp_path / "em.toml").registers) == 2


def test_bad_files_are_named(tmp_path: Path) -> None:
    (tmp_path / "latin.toml").write_bytes('name = "Z\xe4hler"\n'.encode("latin-1"))
    with pytest.raises(MapError, match="latin.toml: not UTF-8 text"):
        load_map(tmp_path / "latin.toml")
    (tmp_path / "m.json").write_text('{"name": "m", "registers": [{"name": "x"}]}')
    with pytest.raises(MapError, match="m.json: register 1 \\('x'\\): field 'address': is missing"):
        load_map(tmp_path / "m.json")


def test_the_driver_refuses_a_bad_map_file_before_opening_a_line(tmp_path: Path) -> None:
    from meterhub.plugins.drivers.modbus.driver import ModbusDriver

    (tmp_path / "bad.toml").write_text(
        'name = "b"\n[[registers]]\nname = "e"\naddress = 0\nfunction = 4\ntype = "uint16"\n'
        'obis = "36.7.0"\nsign = "import-export"\n',
        encoding="utf-8",
    )
    with pytest.raises(InvalidValue, match="bad.toml: register 1 \\('e'\\): field 'sign'"):
        # port 1 on loopback: nothing listens, so reaching the line would fail differently
        ModbusDriver().connect("127.0.0.1:1", {"map_file": str(tmp_path / "bad.toml")})
