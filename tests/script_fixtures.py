"""Fixtures that run the ``meterhub`` command in a clean environment: the installed console
script in a process of its own (``meterhub``), or its ``main()`` in the test's process
(``meterhub_here``).

Shared by ``tests/cli``, ``tests/webapi/cli`` and ``tests/acquisition``, whose conftest files
import them.
"""

import contextlib
import io
import logging
import os
import subprocess
import sys
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from unittest import mock

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


@pytest.fixture
def meterhub_here(tmp_path: Path, cli_env: dict[str, str]) -> Run:
    """Run ``meterhub`` in this process, as :func:`meterhub` runs it in a process of its own.

    The console script's ``main()`` gets the same arguments, environment (nothing else of
    ``os.environ``), working directory and standard input; its output, log lines (on standard
    error, as ``main()`` configures a fresh process) and exit status come back as a
    :class:`subprocess.CompletedProcess`; warnings are shown, not raised, as in a process of its
    own. For tests of what a command does: a process of its own adds a second or two of start-up
    per command and nothing to check, so only the tests of process behaviour (the console script
    itself, signals, a server that keeps running) use :func:`meterhub`.
    """
    from meterhub.cli import LOG_FORMAT, main

    def run(*args: str, input: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
        out, err = io.StringIO(), io.StringIO()
        root = logging.getLogger()
        handlers, level = root.handlers[:], root.level
        log = logging.StreamHandler(err)
        log.setFormatter(logging.Formatter(LOG_FORMAT))
        root.handlers[:] = [log]  # main()'s basicConfig adds nothing to a configured root
        root.setLevel(logging.INFO)
        code: int = 0
        try:
            with (
                mock.patch.dict(os.environ, cli_env | env, clear=True),
                contextlib.chdir(tmp_path),
                mock.patch.object(sys, "stdin", io.StringIO(input or "")),
                contextlib.redirect_stdout(out),
                contextlib.redirect_stderr(err),
                warnings.catch_warnings(),
            ):
                warnings.resetwarnings()  # the filters of a fresh interpreter, not pytest's
                warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")
                for category in (
                    DeprecationWarning,
                    PendingDeprecationWarning,
                    ImportWarning,
                    ResourceWarning,
                ):
                    warnings.simplefilter("ignore", category, append=True)
                try:
                    main(list(args))
                except SystemExit as exit:
                    if isinstance(exit.code, int):
                        code = exit.code
                    elif exit.code is not None:
                        print(exit.code, file=sys.stderr)
                        code = 1
                except Exception:
                    traceback.print_exc()  # what the interpreter prints for an uncaught error
                    code = 1
        finally:
            root.handlers[:] = handlers
            root.setLevel(level)
        return subprocess.CompletedProcess([METERHUB, *args], code, out.getvalue(), err.getvalue())

    return run
