"""The driver docs stay honest: every setting, simulator option and error class is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from meterhub.extensions.driverkit import PluginSettings, medium_class
from meterhub.plugins.drivers.iec62056_21 import simulator as iec_simulator
from meterhub.plugins.drivers.iec62056_21.p1 import simulator as p1_simulator
from meterhub.plugins.drivers.iec62056_21.p1.driver import P1Settings
from meterhub.plugins.drivers.iec62056_21.settings import IecSettings

DOCS = Path(__file__).resolve().parents[4] / "docs" / "drivers"


def _table_names(text: str) -> set[str]:
    """Setting names in the first column of the settings table (`a`, `b` rows included)."""
    names = set()
    for line in text.splitlines():
        if line.startswith("| `"):
            names |= set(re.findall(r"`([a-z_]+)`", line.split("|")[1]))
    return names


@pytest.mark.parametrize(
    ("page", "model", "medium"),
    [("iec62056-21.md", IecSettings, "serial"), ("p1.md", P1Settings, "serial")],
)
def test_every_setting_is_in_the_settings_table(
    page: str, model: type[PluginSettings], medium: str
) -> None:
    text = (DOCS / page).read_text(encoding="utf-8")
    documented = _table_names(text)
    missing = set(model.model_fields) - documented
    assert not missing, f"{page} lacks settings {sorted(missing)}"
    line = {"baudrate", "bytesize", "parity", "stopbits"}
    assert line <= set(medium_class(medium).settings_model.model_fields)  # type: ignore[union-attr]
    assert line <= documented
    assert "## Addressing a real meter" in text or "## Connecting a real meter" in text


@pytest.mark.parametrize(
    ("page", "options"),
    [("iec62056-21.md", iec_simulator._OPTIONS), ("p1.md", p1_simulator._OPTIONS)],
)
def test_every_simulator_option_is_documented(page: str, options: tuple[str, ...]) -> None:
    text = (DOCS / page).read_text(encoding="utf-8")
    simulator = text.split("## Simulator", 1)[1]
    missing = [option for option in options if f"`{option}" not in simulator]
    assert not missing, f"{page} simulator section lacks {missing}"


def test_the_exception_hierarchy_is_documented() -> None:
    iec = (DOCS / "iec62056-21.md").read_text(encoding="utf-8")
    p1 = (DOCS / "p1.md").read_text(encoding="utf-8")
    for name in ("LinkLost", "MeterTimeout", "AuthenticationFailed", "ProtocolError",
                 "Iec21ParseError", "UnsupportedAction", "InvalidValue"):  # fmt: skip
        assert name in iec
    for name in ("LinkLost", "MeterTimeout", "TelegramError", "UnsupportedAction"):
        assert name in p1
