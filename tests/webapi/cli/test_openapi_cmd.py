"""``meterhub openapi``: the REST API description, from the web layer's command."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from meterhub.cli import cli

DOCUMENT = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("METERHUB_"):
            monkeypatch.delenv(name)


def test_write_produces_the_committed_document(tmp_path: Path) -> None:
    target = tmp_path / "openapi.json"
    result = CliRunner().invoke(cli, ["openapi", "write", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_text() == DOCUMENT.read_text()
    assert not (tmp_path / "var" / "meterhub.sqlite3").exists()  # no database needed


def test_print_writes_the_document_to_stdout() -> None:
    result = CliRunner().invoke(cli, ["openapi", "print"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == json.loads(DOCUMENT.read_text())


def test_write_to_a_place_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    result = CliRunner().invoke(cli, ["openapi", "write", str(tmp_path / "file" / "x.json")])
    assert result.exit_code == 1
    assert result.stderr == f"Error: Not a directory: {tmp_path / 'file' / 'x.json'}\n"
