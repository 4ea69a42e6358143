"""docs/drivers/dlms.md keeps up with the code: every setting, event table and gurux defect."""

from __future__ import annotations

import re
from pathlib import Path

from meterhub.plugins.drivers.dlms import gurux_compat
from meterhub.plugins.drivers.dlms.events import event_tables
from meterhub.plugins.drivers.dlms.settings import DlmsSettings

DOC = Path(__file__).resolve().parents[4] / "docs" / "drivers" / "dlms.md"


def section(title: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


def test_every_setting_is_in_the_settings_table() -> None:
    rows = set(re.findall(r"^\| `([a-z_]+)`", section("Settings"), flags=re.MULTILINE))
    assert set(DlmsSettings.model_fields) <= rows, set(DlmsSettings.model_fields) - rows


def test_every_default_is_the_documented_one() -> None:
    table = section("Settings")
    for name, info in DlmsSettings.model_fields.items():
        default = info.get_default(call_default_factory=True)
        if default in (None, "") or name in DlmsSettings.secrets() or name == "framing":
            continue
        shown = (
            "true"
            if default is True
            else "false"
            if default is False
            else f"{default:g}"
            if isinstance(default, float)
            else str(default)
        )
        row = re.search(rf"^\| `{name}` *\| `([^`]*)`", table, flags=re.MULTILINE)
        assert row is not None and row.group(1) == shown, name


def test_every_event_table_is_described() -> None:
    text = section("Settings")
    for name in event_tables():
        assert f"| `{name}` |" in text


def test_every_gurux_defect_is_in_the_workarounds_table() -> None:
    numbers = {int(n) for n in re.findall(r"^(\d+)  ", gurux_compat.__doc__ or "", re.MULTILINE)}
    rows = {int(n) for n in re.findall(r"^\| (\d+) \|", section("gurux-dlms workarounds"), re.M)}
    assert numbers == rows == set(range(1, max(numbers) + 1))
