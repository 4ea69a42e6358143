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
