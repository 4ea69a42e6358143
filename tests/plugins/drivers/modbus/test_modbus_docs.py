"""docs/drivers/modbus.md cannot drift: settings, exceptions and the map tables are checked."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from meterhub.extensions import driver as driver_contract
from meterhub.extensions.driverkit import medium_class
from meterhub.plugins.drivers.modbus import doctables
from meterhub.plugins.drivers.modbus.driver import ModbusDriver, ModbusSettings
from meterhub.plugins.drivers.modbus.registermap import SIGNS, shipped_map_names

DOC = Path(__file__).resolve().parents[4] / "docs" / "drivers" / "modbus.md"


@pytest.fixture(scope="module")
def text() -> str:
    return DOC.read_text(encoding="utf-8")


def _section(text: str, heading: str) -> str:
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"no section '## {heading}' in {DOC.name}"
    return match.group(1)


def test_generated_tables_match_the_maps(text: str) -> None:
    assert doctables.update(text) == text, (
        "docs/drivers/modbus.md is out of date: run "
        "python -m meterhub.plugins.drivers.modbus.doctables docs/drivers/modbus.md"
    )


def test_every_shipped_map_has_a_table_with_every_register(text: str) -> None:
    from meterhub.plugins.drivers.modbus.registermap import shipped_map

    for name in shipped_map_names():
        block = text.split(f"<!-- BEGIN GENERATED: map {name} -->")[1].split("<!-- END")[0]
        for register in shipped_map(name).registers:
            assert f"`{register.name}`" in block, (name, register.name)


def test_every_setting_is_documented(text: str) -> None:
    settings = _section(text, "Address and settings")
    fields = set(ModbusSettings.model_fields)
    for kind in ("serial", "tcp"):
        model = medium_class(kind).settings_model
        assert model is not None
        fields |= set(model.model_fields)
    missing = sorted(name for name in fields if f"`{name}`" not in settings)
    assert not missing, f"settings missing from docs/drivers/modbus.md: {missing}"


def test_addressing_a_real_meter_is_covered(text: str) -> None:
    section = _section(text, "Addressing a real meter")
    for topic in ("Unit ids", "Serial line", "Gateways", "Timeouts", "does not answer"):
        assert topic in section, topic


def test_the_exception_hierarchy_names_every_driver_error(text: str) -> None:
    errors = _section(text, "Errors")
    names = [
        name
        for name, value in vars(driver_contract).items()
        if isinstance(value, type) and issubclass(value, driver_contract.DriverError)
    ]
    assert len(names) >= 7
    for name in [*names, "InvalidValue", "MapError", "MeterHubError"]:
        assert name in errors, name


def test_no_passwords_is_said_and_true(text: str) -> None:
    assert "Modbus has no passwords" in text
    assert dict(ModbusDriver.info().secrets) == {}
    assert ModbusSettings.secrets() == {}


def test_every_sign_convention_is_explained(text: str) -> None:
    signs = _section(text, "Register maps")
    for name in SIGNS:
        assert f"`{name}`" in signs


def test_update_refuses_a_document_without_the_blocks() -> None:
    with pytest.raises(ValueError, match="no block <!-- BEGIN GENERATED: map em24 -->"):
        doctables.update(
            "<!-- BEGIN GENERATED: signs -->\n<!-- END GENERATED: signs -->\n"
            "<!-- BEGIN GENERATED: obis catalog -->\n<!-- END GENERATED: obis catalog -->\n"
        )


def test_the_script_checks_and_rewrites(tmp_path: Path, text: str) -> None:
    stale = tmp_path / "modbus.md"
    stale.write_text(text.replace("| `voltage_l1` |", "| `voltage_one` |", 1), encoding="utf-8")
    assert doctables.main([str(stale), "--check"]) == 1
    assert doctables.main([str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == text
    assert doctables.main([str(stale), "--check"]) == 0
