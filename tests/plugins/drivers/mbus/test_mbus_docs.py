"""docs/drivers/mbus.md names every setting of both drivers and every OBIS code of the table."""

from __future__ import annotations

from pathlib import Path

import pytest

from meterhub.plugins.drivers.mbus.obis import ABSTRACT, QUANTITY_C
from meterhub.plugins.drivers.mbus.settings import MbusSettings, WmbusSettings

DOC = (Path(__file__).parents[4] / "docs" / "drivers" / "mbus.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("model", [MbusSettings, WmbusSettings])
def test_every_setting_is_documented(model: type) -> None:
    missing = [name for name in model.model_fields if f"| `{name}` |" not in DOC]
    assert not missing, f"settings missing from docs/drivers/mbus.md: {missing}"


def test_every_mapping_is_in_the_obis_table() -> None:
    for (a, _quantity), (c, d) in QUANTITY_C.items():
        if a in (5, 9):  # documented by their heat and water rows
            continue
        assert f"`{a}-0:{c}.{d}.0`" in DOC, (a, c, d)
    for c, d in ABSTRACT.values():
        assert f"`0-0:{c}.{d}.0`" in DOC


def test_the_meter_type_tables_match_the_catalogues() -> None:
    from meterhub.plugins.drivers.mbus import doctables

    assert doctables.update(DOC) == DOC, (
        "docs/drivers/mbus.md is out of date: run "
        "python -m meterhub.plugins.drivers.mbus.doctables docs/drivers/mbus.md"
    )


def test_every_shipped_type_and_its_reference_is_listed() -> None:
    from meterhub.plugins.drivers.mbus.catalogue import CATALOGUES, load_catalogue

    for driver in CATALOGUES:
        block = DOC.split(f"<!-- BEGIN GENERATED: meter types {driver} -->")[1]
        block = block.split("<!-- END GENERATED")[0]
        for kind in load_catalogue(driver):
            assert f"| `{kind.name}` |" in block and kind.reference in block, kind.name
            for channel in kind.channels:
                assert f"`{channel.obis.removesuffix('*255')}`" in block, channel.obis


def test_the_doc_generator_checks_and_rewrites(tmp_path: Path) -> None:
    from meterhub.plugins.drivers.mbus import doctables

    stale = DOC.replace("| `kamstrup-flowiq-2101` |", "| `kamstrup-flowiq-2100` |")
    path = tmp_path / "mbus.md"
    path.write_text(stale, encoding="utf-8")
    assert doctables.main([str(path), "--check"]) == 1
    assert doctables.main([str(path)]) == 0
    assert path.read_text(encoding="utf-8") == DOC
    assert doctables.main([str(path), "--check"]) == 0
    with pytest.raises(ValueError, match="no block <!-- BEGIN GENERATED: meter types mbus"):
        doctables.update("no tables here")
