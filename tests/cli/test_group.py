"""The ``meterhub`` group: lazy settings and runtime, contributed commands, one-line errors."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from script_fixtures import Run

from meterhub.cli import cli, init_cmd
from meterhub.cli.group import COMMANDS_GROUP


@pytest.mark.parametrize("option", ["--help", "--version"])
def test_help_and_version_print_no_warning(meterhub: Run, option: str) -> None:
    # no license file (the development license), a misspelt variable, no database: none of it
    # is looked at before a command needs it
    result = meterhub(option, METERHUB_PROT="1", METERHUB_LOG_LEVEL="DEBUG")
    assert result.returncode == 0
    assert result.stderr == ""


def test_a_subcommand_help_prints_no_warning(meterhub: Run) -> None:
    result = meterhub("user", "add", "--help", METERHUB_PROT="1")
    assert result.returncode == 0
    assert result.stderr == ""


def test_help_lists_the_web_commands_from_webapi(meterhub: Run) -> None:
    result = meterhub("--help")
    for command in ("serve", "demo", "openapi", "simulate"):
        assert f"  {command} " in result.stdout


def test_an_unknown_meterhub_variable_is_warned_about_by_name(meterhub: Run) -> None:
    result = meterhub("license", "show", METERHUB_PROT="9090", METERHUB_DATADIR="/x")
    assert result.returncode == 0
    assert "METERHUB_PROT names no setting and is ignored (did you mean METERHUB_PORT?)" in (
        result.stderr
    )
    assert "METERHUB_DATADIR names no setting" in result.stderr
    assert "did you mean METERHUB_DATA_DIR?" in result.stderr


def _python(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in a fresh interpreter (what it imports is its own); it must succeed."""
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result


def test_the_database_commands_build_their_runtime_without_flask(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    script = (
        "import sys\n"
        "from meterhub.cli import main\n"
        "for argv in (['init'], ['user', 'add', 'alice', '--password', 'long-enough']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit as exit:\n"
        "        assert not exit.code, exit.code\n"
        "web = sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'waitress')"
        " or m.startswith('meterhub.webapi'))\n"
        "print('web modules:', web)\n"
    )
    result = _python(script, tmp_path, cli_env)
    assert "user alice added" in result.stdout
    assert "web modules: []" in result.stdout


def test_help_imports_neither_the_database_nor_the_web_layer_nor_the_drivers(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    # Every command a test or an operator starts pays for what the CLI imports before it runs:
    # the commands import their heavy modules when they run, not when they are defined.
    script = (
        "import sys\n"
        "from meterhub.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
        "heavy = ('sqlalchemy', 'alembic', 'flask', 'numpy', 'pydantic', 'gurux_dlms', 'pymodbus',"
        " 'kombu', 'rich')\n"
        "print('heavy modules:', sorted(m for m in sys.modules if m.split('.')[0] in heavy"
        " or m in ('meterhub.model', 'meterhub.db', 'meterhub.runtime')))\n"
    )
    result = _python(script, tmp_path, cli_env)
    assert "Commands:" in result.stdout and "serve" in result.stdout
    assert "heavy modules: []" in result.stdout


def test_an_unexpected_error_is_one_line_that_points_to_debug(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(settings: object) -> tuple[str, str]:
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setattr(init_cmd, "initialise", broken)
    result = CliRunner().invoke(cli, ["init"])
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: unexpected RuntimeError: disk on fire "
        "(run 'meterhub --debug init ...' to see the traceback)\n"
    )
    debug = CliRunner().invoke(cli, ["--debug", "init"])
    assert isinstance(debug.exception, RuntimeError)


def test_a_contributed_command_that_fails_to_load_is_reported_and_left_out(
    fake_dist, caplog: pytest.LogCaptureFixture
) -> None:
    fake_dist(
        "meterhub-broken-cmd",
        "1.0",
        {COMMANDS_GROUP: {"broken": "mh_broken_cmd:command", "notacommand": "mh_broken_cmd:X"}},
        {"mh_broken_cmd": "X = 1\nraise_later = True\n"},
    )
    with caplog.at_level(logging.WARNING):
        result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "  init " in result.stdout
    assert "broken" not in result.stdout and "notacommand" not in result.stdout
    messages = [record.getMessage() for record in caplog.records]
    assert any("command 'broken'" in m and "failed to load" in m for m in messages), messages
    assert any("command 'notacommand'" in m and "not a click command" in m for m in messages)


def test_a_contributed_command_runs(fake_dist) -> None:
    fake_dist(
        "meterhub-hello",
        "1.0",
        {COMMANDS_GROUP: {"hello": "mh_hello_cmd:hello"}},
        {
            "mh_hello_cmd": (
                "import click\n"
                "@click.command()\n"
                "def hello():\n"
                "    '''Say hello.'''\n"
                "    click.echo('hello from a plugin')\n"
            )
        },
    )
    assert "  hello " in CliRunner().invoke(cli, ["--help"]).stdout
    result = CliRunner().invoke(cli, ["hello"])
    assert result.exit_code == 0
    assert result.stdout == "hello from a plugin\n"
