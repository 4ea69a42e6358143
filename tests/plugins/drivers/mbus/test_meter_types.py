"""The shipped M-Bus meter types: they load, promise only channels the driver's mapping gives,
come through the plugin hook under each driver's feature, and a simulated meter of a type read
through the driver fills every channel of its type."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from mbus_clock import AT, NOW

from meterhub.config import load_settings
from meterhub.errors import InvalidValue
from meterhub.extensions.driver import Quality
from meterhub.extensions.metertype import MeterType
from meterhub.pluginhost import build_plugin_host
from meterhub.plugins.drivers.mbus.catalogue import (
    CATALOGUES,
    check_type,
    load_catalogue,
    parse_catalogue,
)
from meterhub.plugins.drivers.mbus.obis import channel_problem, map_record
from meterhub.plugins.drivers.mbus.records import decode_records
from meterhub.plugins.drivers.mbus.simulator.air import build_telegram, meter_key
from meterhub.plugins.drivers.mbus.simulator.fleet import MbusSimulator, WmbusSimulator
from meterhub.plugins.drivers.mbus.simulator.layouts import layout, layout_names, parse_layouts
from meterhub.plugins.drivers.mbus.simulator.model import values_at
from meterhub.plugins.drivers.mbus.wired import MbusDriver
from meterhub.plugins.drivers.mbus.wireless.driver import WmbusDriver

pytestmark = pytest.mark.timeout(60)

ALL = [(driver, kind) for driver in CATALOGUES for kind in load_catalogue(driver)]


def _raw_tables(driver: str) -> list[dict[str, Any]]:
    folder = resources.files("meterhub.plugins.drivers.mbus").joinpath("types")
    text = folder.joinpath(CATALOGUES[driver]).read_text(encoding="utf-8")
    tables: list[dict[str, Any]] = tomllib.loads(text)["type"]
    return tables


@pytest.mark.parametrize("driver", sorted(CATALOGUES))
def test_every_shipped_type_loads_from_its_table(driver: str) -> None:
    tables = _raw_tables(driver)
    assert len(tables) == len(load_catalogue(driver)) >= 2
    for table in tables:
        kind = MeterType.from_mapping(table)
        assert kind.driver == driver and kind.reference and kind.channels
        assert len(kind.manufacturer) == 3 and kind.manufacturer.isupper()


@pytest.mark.parametrize(("driver", "kind"), ALL, ids=[kind.name for _, kind in ALL])
def test_every_channel_is_one_the_driver_maps(driver: str, kind: type[MeterType]) -> None:
    assert check_type(kind, driver) == []
    for channel in kind.channels:
        assert channel.kind == "register"
        assert channel_problem(channel.obis, channel.unit, kind.medium) is None


def test_the_catalogue_is_varied_enough() -> None:
    media = {kind.medium for _, kind in ALL}
    assert {"heat", "water", "gas"} <= media
    assert 8 <= len(ALL) <= 12
    assert len({kind.name for _, kind in ALL}) == len(ALL)


@pytest.mark.parametrize(
    ("obis", "unit", "medium", "words"),
    [
        ("8-0:1.0.0", "m³", "heat", "not a heat meter's"),
        ("6-0:1.0.0", "m³", "heat", "other units"),
        ("6-0:1.8.0", "Wh", "heat", "no record maps"),
        ("6-0:1.0.0*0", "Wh", "heat", "storage number"),
        ("0-0:96.8.0*1", "h", "heat", "current values"),
        ("0-0:96.99.0", None, "water", "no device record"),
        ("7-0:43.0.0", "m³", "gas", "other units"),
    ],
)
def test_channels_the_driver_cannot_fill_are_named(
    obis: str, unit: str | None, medium: str, words: str
) -> None:
    problem = channel_problem(obis, unit, medium)
    assert problem is not None and words in problem


def _one_type(**change: Any) -> str:
    table = {
        "name": "acme-heat",
        "manufacturer": "ACM",
        "model": "Heat 1",
        "medium": "heat",
        "driver": "mbus",
        "reference": "Acme data sheet",
        "channels": [{"obis": "6-0:1.0.0", "unit": "Wh", "scaler": 3}],
        **change,
    }
    lines = []
    for key, value in table.items():
        if key == "channels":
            cells = ", ".join(
                "{" + ", ".join(f"{k} = {v!r}".replace("'", '"') for k, v in c.items()) + "}"
                for c in value
            )
            lines.append(f"channels = [{cells}]")
        else:
            lines.append(f'{key} = "{value}"')
    return "[[type]]\n" + "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("not = [toml", "x.toml", "not valid TOML"),
        ("[meter]\nname = 1\n", "x.toml", "unknown table"),
        ("", "x.toml", "no [[type]]"),
        (_one_type(medium="steam"), "x.toml: type[0].medium", "must be one of"),
        (_one_type(driver="wmbus"), "x.toml: type[0]", "driver is 'wmbus'"),
        (
            _one_type(channels=[{"obis": "6-0:1.0.0", "unit": "J/h", "scaler": 0}]),
            "x.toml: type[0]",
            "other units",
        ),
        (
            _one_type(channels=[{"obis": "6-0:1.0.0", "kind": "profile", "interval_minutes": 60}]),
            "x.toml: type[0]",
            "registers",
        ),
        (_one_type() + _one_type(), "x.toml: type[1].name", "appears twice"),
    ],
)
def test_a_bad_catalogue_is_refused_by_table_and_field(text: str, field: str, words: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        parse_catalogue(text, "mbus", "x.toml")
    assert caught.value.field == field and words in str(caught.value)


def test_a_good_catalogue_text_parses() -> None:
    (kind,) = parse_catalogue(_one_type(), "mbus", "x.toml")
    assert kind.name == "acme-heat" and kind.channels[0].scaler == 3


def test_each_plugin_contributes_its_own_types_under_its_feature() -> None:
    @dataclass
    class OnlyWired:
        customer: str = "test"
        development: bool = False

        def allows(self, feature: str) -> bool:
            return feature != "driver:wmbus"

    wired = {kind.name for kind in load_catalogue("mbus")}
    wireless = {kind.name for kind in load_catalogue("wmbus")}
    host = build_plugin_host(OnlyWired(), load_settings())
    assert set(host.meter_types()) >= wired
    assert not set(host.meter_types()) & wireless
    assert "wmbus" not in host.drivers()

    class Everything(OnlyWired):
        def allows(self, feature: str) -> bool:
            return True

    everything = build_plugin_host(Everything(), load_settings()).meter_types()
    assert set(everything) >= wired | wireless
    assert everything["kamstrup-flowiq-2101"] is dict(ALL_BY_NAME)["kamstrup-flowiq-2101"]


ALL_BY_NAME = [(kind.name, kind) for _, kind in ALL]


# -- simulated meters of a type -------------------------------------------------------------------


def test_every_type_has_a_simulated_layout_with_its_header() -> None:
    assert layout_names() == sorted(kind.name for _, kind in ALL)
    for _, kind in ALL:
        shape = layout(kind.name)
        assert MEDIUM_OF_DEVICE[shape.medium] == kind.medium, kind.name


MEDIUM_OF_DEVICE = {0x04: "heat", 0x07: "water", 0x16: "water", 0x03: "gas"}


@pytest.mark.parametrize("name", layout_names())
def test_a_layout_decodes_into_every_channel_of_its_type(name: str) -> None:
    """pymbusparser (not the simulator) decodes the records; the mapping finds each channel."""
    from meterhub.plugins.drivers.mbus.simulator.model import MeterSpec, records_of

    kind = dict(ALL_BY_NAME)[name]
    shape = layout(name)
    spec = MeterSpec("31000001", shape.medium, 1, shape.version, kind.manufacturer, layout=name)
    records = decode_records(b"".join(records_of(spec, AT)))
    assert all(record.function.value != "undecoded" for record in records)
    mapped = {}
    for record in records:
        mapping = map_record(record, shape.medium)
        if mapping.obis is not None:
            assert mapping.obis not in mapped or record.storage, (name, mapping.obis)
            mapped.setdefault(mapping.obis, mapping.unit)
    for channel in kind.channels:
        assert mapped.get(channel.obis) == channel.unit, (name, channel.obis)


WIRED = [kind.name for kind in load_catalogue("mbus")]


def test_a_bus_of_every_wired_type_read_through_the_driver() -> None:
    options = {"time": NOW.isoformat(), "types": ",".join(WIRED)}
    with MbusSimulator().start(len(WIRED), options=options) as fleet:
        assert [endpoint.meter_type for endpoint in fleet.endpoints] == WIRED
        for endpoint, slave in zip(fleet.endpoints, fleet.bus.slaves, strict=True):
            kind = dict(ALL_BY_NAME)[endpoint.meter_type]
            assert [obis for obis, _, _ in endpoint.channels] == [c.obis for c in kind.channels]
            codes = [channel.obis for channel in kind.channels]
            with MbusDriver().connect(endpoint.address, endpoint.settings) as connection:
                readings = connection.read_registers(codes)
            for channel, reading in zip(kind.channels, readings, strict=True):
                assert reading.quality is Quality.VALID, (kind.name, channel.obis)
                assert reading.unit == channel.unit, (kind.name, channel.obis)
            values = values_at(slave.spec, AT)
            first = readings[0]  # energy of a heat meter, volume of a water or gas meter
            if kind.medium == "heat":
                assert first.obis == "6-0:1.0.0*255"
                assert first.scaled == values["energy_wh"] // 1000 * 1000
            else:
                step = 10.0 ** kind.channels[0].scaler
                expected = values["volume_l"] // (step * 1000) * step
                assert first.scaled == pytest.approx(expected, abs=1e-9)


def test_a_simulated_meter_of_a_type_sends_its_manufacturer_and_medium() -> None:
    options = {"time": NOW.isoformat(), "types": "kamstrup-flowiq-2101"}
    with MbusSimulator().start(1, options=options) as fleet:
        endpoint = fleet.endpoints[0]
        with MbusDriver().connect(endpoint.address, endpoint.settings) as connection:
            readout = connection.readout()
        assert (readout.manufacturer, readout.version, readout.medium) == ("KAM", 0x1F, 0x16)
        reasons = " ".join(item.reason for item in readout.unmapped())
        assert "VIF extension" in reasons  # backward volume and Kamstrup's averages stay raw


@pytest.mark.parametrize("name", [kind.name for kind in load_catalogue("wmbus")])
def test_a_wireless_meter_of_a_type_read_through_the_driver(name: str, tmp_path: Path) -> None:
    options = {"time": NOW.isoformat(), "types": name, "interval": "3600"}
    with WmbusSimulator().start(1, options=options) as fleet:
        spec = fleet.generator.specs[0]
        endpoint = fleet.endpoints[0]
    kind = dict(ALL_BY_NAME)[name]
    assert endpoint.meter_type == name and endpoint.settings["manufacturer"] == kind.manufacturer
    key = meter_key(spec.identification)
    telegram = build_telegram(spec, AT, access=9, security=5, key=key)
    log = tmp_path / "air.log"
    log.write_text(f"{telegram.hex()}\n")
    settings = {**endpoint.settings, "listen": "1"}
    with WmbusDriver().connect(f"file:{log}", settings) as connection:
        readings = connection.read_registers([channel.obis for channel in kind.channels])
    for channel, reading in zip(kind.channels, readings, strict=True):
        assert reading.quality is Quality.VALID, channel.obis
        assert reading.unit == channel.unit
    step = 10.0 ** kind.channels[0].scaler
    expected = values_at(spec, AT)["volume_l"] // (step * 1000) * step
    assert readings[0].scaled == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"types": "no-such-meter"}, "mbus meter types"),
        ({"types": "bmeters-hydrodigit"}, "mbus meter types"),
        ({"types": "sensus-pollucom-e", "media": "heat"}, "not both"),
    ],
)
def test_the_types_option_is_checked(options: dict[str, str], words: str) -> None:
    with pytest.raises(InvalidValue, match=words):
        MbusSimulator().start(1, options=options)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[[layout]]\ntype = "x"\nversion = 1\nmedium = 4\nrecords = ["zz"]\n', "not hex"),
        ('[[layout]]\ntype = "x"\nversion = 1\nmedium = 4\nrecords = ["0D7C"]\n', "give :data"),
        ('[[layout]]\ntype = "x"\nversion = 1\nmedium = 4\nrecords = ["84"]\n', "no end"),
        ('[[layout]]\ntype = "x"\nversion = 1\nmedium = 4\nrecords = ["04"]\n', "no VIF"),
        ('[[layout]]\ntype = "x"\nversion = "1"\nmedium = 4\nrecords = ["0406"]\n', "whole"),
        ('[[layout]]\ntype = "x"\nversion = 1\nmedium = 4\nrecords = []\n', "has records"),
        ("[[layout]\n", "not valid TOML"),
    ],
)
def test_a_bad_layout_is_refused(text: str, words: str) -> None:
    with pytest.raises(InvalidValue, match=words):
        parse_layouts(text)


# -- the driver keeps VIF extensions apart --------------------------------------------------------


@pytest.mark.parametrize(
    "record",
    [
        "04933C13000000",  # flowIQ: backward volume
        "01DBFF0F07",  # flowIQ: Kamstrup's average water temperature
        "04947F00000000",  # Cyble: manufacturer-specific volume
        "9410DA6F32147A18",  # ULTRAHEAT: the date of the maximum flow temperature
        "0490280B000000",  # SensoStar: volume per input pulse
    ],
)
def test_a_record_with_a_vif_extension_is_not_the_plain_quantity(record: str) -> None:
    (decoded,) = decode_records(bytes.fromhex(record))
    mapping = map_record(decoded, 0x04)
    assert mapping.obis is None and mapping.reason


def test_the_plain_record_next_to_an_extended_one_keeps_its_channel() -> None:
    records = decode_records(bytes.fromhex("0413720F010004933C13000000"))
    mappings = [map_record(record, 0x16) for record in records]
    assert [m.obis for m in mappings] == ["8-0:1.0.0*255", None]
    assert records[0].value == 6949 and records[0].scaler == -2
