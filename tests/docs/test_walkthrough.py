"""The documented walk-throughs run as written: docs/installation.md and docs/plugins.md.

Each guide's code blocks are run in document order in an empty directory, the way an integrator
follows them:

* ```` ```sh ```` blocks run with ``bash -euo pipefail`` (each from the walk-through's directory);
* ```` ```console ```` blocks hold ``$ command`` lines, each followed by what it prints on stdout;
  the output is compared like a doctest (``...`` matches anything, whitespace runs are equal);
* ```` ```pycon ```` blocks are doctests, run together after the shell steps;
* a block right after ``<!-- docs-test: skip (reason) -->`` is not run (it installs into the
  environment or serves until stopped); other languages (toml, python, ini) are shown only.

The commands run in a virtual environment of their own where MeterHub is installed: a venv
whose site directory adds this checkout's environment (so nothing is downloaded) and whose
``meterhub`` command runs the venv's interpreter, so what the guide installs there (the example
plugin) stays out of the development environment. pip runs offline: no index, and no build
isolation (the build uses the setuptools installed).
"""

from __future__ import annotations

import doctest
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

_FENCE = re.compile(
    r"^(?P<skip>[ \t]*<!-- docs-test: skip[^>]*-->\n)?(?P<indent>[ \t]*)```(?P<lang>[\w-]*)\n"
    r"(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
_OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@dataclass(frozen=True)
class Block:
    """One fenced code block of a guide."""

    lang: str
    body: str
    line: int
    skipped: bool


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of ``path`` in order, dedented, with their first line number."""
    text = path.read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        body = textwrap.dedent(match.group("body"))
        line = text.count("\n", 0, match.start("body")) + 1
        found.append(Block(match.group("lang"), body, line, bool(match.group("skip"))))
    return found


def console_steps(body: str) -> list[tuple[str, str]]:
    """``(command, expected stdout)`` for each ``$ command`` line of a console block."""
    steps: list[tuple[str, list[str]]] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            assert steps, f"console output before any '$ ' command: {line!r}"
            steps[-1][1].append(line)
    return [(command, "\n".join(expected) + "\n") for command, expected in steps]


@dataclass(frozen=True)
class Environment:
    """Where a walk-through runs: its directory and the environment variables of its commands."""

    directory: Path
    variables: dict[str, str]

    def run(self, command: str, where: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", command],
            cwd=self.directory,
            env=self.variables,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert result.returncode == 0, (
            f"{where}: exit {result.returncode}\n$ {command}\n{result.stdout}{result.stderr}"
        )
        return result


def _overlay_venv(directory: Path) -> Path:
    """A venv that sees this checkout's environment and has its own ``meterhub`` command."""
    venv = directory / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    # An "import" line of a .pth file runs at start-up: addsitedir also reads the .pth files
    # there (the editable install of MeterHub is one).
    base = sysconfig.get_path("purelib")
    (Path(site) / "meterhub-checkout.pth").write_text(
        f"import site; site.addsitedir({base!r})\n", encoding="utf-8"
    )
    script = venv / "bin" / "meterhub"
    script.write_text(
        f"#!{python}\nimport sys\nfrom meterhub.cli import main\nsys.exit(main())\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    return venv


@pytest.fixture
def environment(tmp_path: Path) -> Environment:
    """An empty directory holding ``docs/example-plugin``, and the overlay venv on PATH."""
    work = tmp_path / "work"
    shutil.copytree(
        DOCS / "example-plugin",
        work / "docs" / "example-plugin",
        ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__"),
    )
    venv = _overlay_venv(tmp_path)
    (tmp_path / "home").mkdir()
    variables = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("METERHUB_", "PIP_", "PYTHON", "VIRTUAL_ENV"))
    }
    variables.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        VIRTUAL_ENV=str(venv),
        HOME=str(tmp_path / "home"),
        PIP_NO_INDEX="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        # pip reads PIP_NO_BUILD_ISOLATION=0 as --no-build-isolation.
        PIP_NO_BUILD_ISOLATION="0",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return Environment(work, variables)


def follow(guide: Path, environment: Environment) -> int:
    """Run the guide's blocks as the module docs say; return how many steps ran."""
    steps = 0
    doctests = []
    for block in blocks(guide):
        where = f"{guide.relative_to(ROOT)}, line {block.line}"
        if block.skipped:
            continue
        if block.lang == "sh":
            environment.run(block.body, where)
            steps += 1
        elif block.lang == "console":
            checker = doctest.OutputChecker()
            for command, expected in console_steps(block.body):
                output = environment.run(command, where).stdout
                example = doctest.Example(command, expected)
                assert checker.check_output(expected, output, _OPTIONS), (
                    f"{where}: the output of `{command}` differs from the guide\n"
                    + checker.output_difference(example, output, _OPTIONS)
                )
                steps += 1
        elif block.lang == "pycon":
            doctests.append(block.body)
    if doctests:
        text = environment.directory / f"{guide.stem}-examples.txt"
        text.write_text("\n".join(doctests), encoding="utf-8")
        flags = ["-o", "ELLIPSIS", "-o", "NORMALIZE_WHITESPACE"]
        environment.run(f"python -m doctest {' '.join(flags)} {text.name}", f"{guide} (pycon)")
        steps += 1
    return steps


def test_installation_guide_as_written(environment: Environment) -> None:
    assert follow(DOCS / "installation.md", environment) >= 6
    work = environment.directory
    assert (work / "var" / "meterhub.sqlite3").is_file()
    assert (work / "openapi.json").read_text(encoding="utf-8").startswith("{")


def test_plugin_guide_as_written(environment: Environment) -> None:
    assert follow(DOCS / "plugins.md", environment) >= 4
    installed = environment.run(
        "python -c 'import meterhub_hello, pytest; print(meterhub_hello.__file__)'", "check"
    ).stdout
    assert Path(installed.strip()).is_relative_to(environment.variables["VIRTUAL_ENV"])


def test_the_runner_reads_blocks_and_skip_marks() -> None:
    guide = blocks(DOCS / "installation.md")
    skipped = [block for block in guide if block.skipped]
    assert skipped and all(block.lang == "sh" for block in skipped)
    assert any("make demo" in block.body for block in skipped)
    assert not any("make demo" in block.body for block in guide if not block.skipped)
    assert console_steps("$ a\nx\n...\n$ b\n") == [("a", "x\n...\n"), ("b", "\n")]


def test_the_example_plugin_declares_what_its_tests_need() -> None:
    import tomllib

    project = tomllib.loads((DOCS / "example-plugin" / "pyproject.toml").read_text())["project"]
    test_extra = project["optional-dependencies"]["test"]
    assert any(requirement.startswith("pytest") for requirement in test_extra)
