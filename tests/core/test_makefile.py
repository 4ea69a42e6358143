"""``make demo`` and ``make test`` on a machine whose Python lacks the venv module.

Debian ships ``ensurepip`` (which ``python3 -m venv`` needs) in the python3-venv package, not
installed by default. A fake ``python3`` on PATH hides ``ensurepip`` the same way; the Makefile
must stop at once with one line naming the package, before pip or venv say anything.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the Makefile with the files its targets depend on, and no .venv."""
    directory = tmp_path / "project"
    directory.mkdir()
    shutil.copy(ROOT / "Makefile", directory / "Makefile")
    for name in ("setup.cfg", "pyproject.toml"):
        (directory / name).write_text("")
    return directory


def fake_python(tmp_path: Path, *, with_venv: bool) -> dict[str, str]:
    """An environment whose ``python3`` is this interpreter, with or without ``ensurepip``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    shadow = tmp_path / "shadow"
    if not with_venv:
        (shadow / "ensurepip").mkdir(parents=True, exist_ok=True)
        (shadow / "ensurepip" / "__init__.py").write_text(
            "raise ModuleNotFoundError(\"No module named 'ensurepip'\", name='ensurepip')\n"
        )
    script = bin_dir / "python3"
    script.write_text(f'#!/bin/sh\nPYTHONPATH={shadow} exec {sys.executable} "$@"\n')
    script.chmod(0o755)
    # A user runs make from a shell, not from inside another make (as `make test` runs this):
    # the outer make's variables would add "Entering directory" lines to the output.
    outside = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    return outside | {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


@pytest.mark.parametrize("target", ["demo", "test"])
def test_without_venv_make_stops_in_one_line_naming_the_package(
    project: Path, tmp_path: Path, target: str
) -> None:
    env = fake_python(tmp_path, with_venv=False)
    result = subprocess.run(
        ["make", target], cwd=project, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    output = (result.stdout + result.stderr).strip()
    assert len(output.splitlines()) == 1, output
    assert "python3-venv" in output
    assert "pip" not in output.replace("ensurepip", "")
    assert not (project / ".venv").exists()


def test_with_venv_the_check_lets_make_go_on(project: Path, tmp_path: Path) -> None:
    env = fake_python(tmp_path, with_venv=True)
    result = subprocess.run(
        ["make", "-n", "demo"], cwd=project, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "python3 -m venv .venv" in result.stdout
    assert "python3-venv" not in result.stdout + result.stderr
