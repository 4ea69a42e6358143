"""Fixtures that run the installed ``meterhub`` console script in a clean environment.

Shared by ``tests/cli`` and ``tests/webapi/cli``, whose conftest files import them.
"""

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

#: The console script installed next to this interpreter.
METERHUB = str(Path(sys.executable).with_name("meterhub"))

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a command run: no METERHUB_* from outside, data in tmp_path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("METERHUB_")}
    env["METERHUB_DATA_DIR"] = str(tmp_path / "data")
    return env


@pytest.fixture
def meterhub(tmp_path: Path, cli_env: dict[str, str]) -> Run:
    """Run the installed ``meterhub`` console script in tmp_path."""

    def run(*args: str, input: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [METERHUB, *args],
            cwd=tmp_path,
            env=cli_env | env,
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run
