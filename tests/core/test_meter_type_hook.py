"""Meter types: contributed by driver plugins, checked as data, applied to virtual meters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from meterhub import hookimpl
from meterhub.config import Settings
from meterhub.db import transaction
from meterhub.errors import InvalidValue
from meterhub.extensions.metertype import ChannelSpec, MeterType
from meterhub.inventory.elements import create_element
from meterhub.inventory.metering import create_metering_point, create_virtual_meter
from meterhub.inventory.meters import create_meter
from meterhub.inventory.metertypes import apply_meter_type, meter_fields
from meterhub.inventory.templates import create_template
from meterhub.licensing import development_license
from meterhub.pluginhost import KINDS, build_plugin_host

HEAT_METER: dict[str, Any] = {
    "name": "acme-heat-100",
    "manufacturer": "ACM",
    "model": "HEAT 100",
    "medium": "heat",
    "driver": "mbus",
    "reference": "ACME HEAT 100 M-Bus telegram description, rev. 3",
    "settings": {"baudrate": "2400"},
    "channels": [
        {"obis": "6-0:1.0.0", "kind": "register", "unit": "kWh", "scaler": -3},
        {"obis": "6-0:8.0.0", "kind": "register", "unit": "m3", "scaler": -2},
        {"obis": "6-0:1.0.0", "kind": "profile", "unit": "kWh", "interval_minutes": 60},
    ],
}
HeatType = MeterType.from_mapping(HEAT_METER)


class MeterTypePlugin:
    @hookimpl
    def register_meter_types(self) -> list[type[MeterType]]:
        return [HeatType]


def test_hook_register_meter_types(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(plugins_disable_autoload=True)
    host = build_plugin_host(development_license(), settings, extra_plugins=[MeterTypePlugin])
    assert host.meter_types() == {"acme-heat-100": HeatType}
    assert KINDS["meter_type"].group is None and KINDS["meter_type"].base is MeterType


def test_a_type_from_data_has_its_fields_checked() -> None:
    assert HeatType.name == "acme-heat-100" and HeatType.driver == "mbus"
    assert HeatType.channels[0] == ChannelSpec("6-0:1.0.0*255", "register", "kWh", -3)
    assert HeatType.channels[2].interval_minutes == 60
    assert meter_fields(HeatType) == {
        "driver": "mbus",
        "model": "HEAT 100",
        "driver_settings": {"baudrate": "2400"},
    }


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"name": "Acme Heat"}, "type.name", "lowercase"),
        ({"medium": "steam"}, "type.medium", "one of electricity"),
        ({"colour": "red"}, "type", "unknown field 'colour'"),
        ({"channels": []}, "type.channels", "at least one channel"),
        ({"channels": [{"obis": "6-0:1.0.0", "kind": "gauge"}]}, "type.channels[0].kind", "one of"),
        ({"channels": [{"obis": "x"}]}, "type.channels[0].obis", ""),
        ({"channels": [{"obis": "6-0:1.0.0", "kind": "profile"}]}, "type.channels[0]", "minutes"),
        ({"channels": [{"obis": "6-0:1.0.0", "scaler": 300}]}, "type.channels[0].scaler", ""),
        (
            {"channels": [{"obis": "6-0:1.0.0"}, {"obis": "6-0:1.0.0*255"}]},
            "type.channels",
            "twice",
        ),
        ({"settings": {"baudrate": 2400}}, "type.settings", "text values"),
    ],
)
def test_bad_type_data_is_refused_by_field(change: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(InvalidValue) as info:
        MeterType.from_mapping(HEAT_METER | change)
    assert info.value.field.startswith(field) and words in info.value.reason


def _point(session: Session, medium: str) -> Any:
    template = create_template(session, f"site-{medium}")
    element = create_element(session, template=template, name=f"Site {medium}")
    return create_metering_point(session, element=element, name=f"{medium} point", medium=medium)


def test_applying_a_type_adds_its_missing_channels(
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory, user="tester") as session:
        virtual = create_virtual_meter(session, metering_point=_point(session, "heat"), name="vm")
        first = apply_meter_type(session, virtual, HeatType)
        assert [(c.obis, c.kind, c.unit, c.scaler) for c in first] == [
            ("6-0:1.0.0*255", "register", "kWh", -3),
            ("6-0:8.0.0*255", "register", "m3", -2),
            ("6-0:1.0.0*255", "profile", "kWh", 0),
        ]
        assert apply_meter_type(session, virtual, HeatType) == []
        meter = create_meter(
            session, manufacturer="ACM", serial_number="12345678", **meter_fields(HeatType)
        )
        assert meter.model == "HEAT 100" and meter.driver_settings == {"baudrate": "2400"}


def test_a_type_for_another_medium_is_refused(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory, user="tester") as session:
        virtual = create_virtual_meter(session, metering_point=_point(session, "gas"), name="vm")
        with pytest.raises(InvalidValue, match="measures heat, but metering point"):
            apply_meter_type(session, virtual, HeatType)
        with pytest.raises(InvalidValue, match="must be a meter type"):
            apply_meter_type(session, virtual, dict)  # type: ignore[arg-type]
