"""Every expected failure of a command is one line on stderr and a non-zero exit, no traceback.

The commands run as the installed console script (``meterhub``), as a user runs them. The log is
kept to errors (``METERHUB_LOG_LEVEL=ERROR``) so stderr holds only the failure's line.
"""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from script_fixtures import Run

QUIET = {"METERHUB_LOG_LEVEL": "ERROR"}


def one_line_failure(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """Assert the run failed with exactly one line on stderr holding ``fragments``."""
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    (line,) = lines
    assert line.startswith("Error: "), line
    for fragment in fragments:
        assert fragment in line
    return line


def test_a_malformed_settings_file_is_named_with_line_and_column(
    meterhub: Run, tmp_path: Path
) -> None:
    (tmp_path / "meterhub.toml").write_text('port = 8080\nhost = "0.0.0.0\n')
    result = meterhub("init", **QUIET)
    line = one_line_failure(result, str(tmp_path / "meterhub.toml"), "not valid TOML")
    assert "line 2, column" in line
    assert result.returncode == 1


def test_a_settings_file_that_is_not_utf8_is_named(meterhub: Run, tmp_path: Path) -> None:
    (tmp_path / "meterhub.toml").write_bytes(b"host = '\xff'\n")
    one_line_failure(meterhub("init", **QUIET), "meterhub.toml", "not UTF-8")


def test_a_database_url_that_does_not_parse_is_refused_without_its_password(
    meterhub: Run,
) -> None:
    url = "postgresql://meter:s3cret-pw@db.example:fivefour/meterhub"
    result = meterhub("init", METERHUB_DATABASE_URL=url, **QUIET)
    one_line_failure(result, "database_url", "port of the database URL is not a number")
    assert "s3cret-pw" not in result.stderr + result.stdout


def test_a_database_port_out_of_range_is_refused(meterhub: Run) -> None:
    url = "postgresql://meter:s3cret-pw@127.0.0.1:70000/meterhub"
    result = meterhub("init", METERHUB_DATABASE_URL=url, **QUIET)
    one_line_failure(result, "database_url", "1 to 65535")
    assert "s3cret-pw" not in result.stderr


def test_an_unreachable_database_names_host_and_port_not_the_password(meterhub: Run) -> None:
    url = "postgresql://meter:s3cret-pw@127.0.0.1:1/meterhub"
    for command in (["init"], ["user", "add", "alice", "--password", "long-enough"]):
        result = meterhub(*command, METERHUB_DATABASE_URL=url, **QUIET)
        line = one_line_failure(result, "cannot connect", "127.0.0.1:1", "'meterhub'")
        assert "user meter" in line
        assert "s3cret-pw" not in result.stderr + result.stdout


@pytest.fixture
def locked_database(meterhub: Run, tmp_path: Path) -> Iterator[Path]:
    """An initialised SQLite database whose write lock another connection holds."""
    assert meterhub("init", **QUIET).returncode == 0
    path = tmp_path / "data" / "meterhub.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    yield path
    holder.execute("ROLLBACK")
    holder.close()


def test_a_locked_sqlite_database_says_so(meterhub: Run, locked_database: Path) -> None:
    url = f"sqlite:///{locked_database}?timeout=0.2"
    result = meterhub(
        "user", "add", "alice", "--password", "long-enough", METERHUB_DATABASE_URL=url, **QUIET
    )
    one_line_failure(result, str(locked_database), "locked by another process", "0.2 s")


def test_a_data_directory_that_cannot_be_created(meterhub: Run, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    data_dir = tmp_path / "a-file" / "data"
    result = meterhub("init", METERHUB_DATA_DIR=str(data_dir), **QUIET)
    one_line_failure(result, f"data directory {data_dir} cannot be created", "Not a directory")


def test_a_data_directory_that_is_a_file(meterhub: Run, tmp_path: Path) -> None:
    (tmp_path / "data-file").write_text("")
    result = meterhub("init", METERHUB_DATA_DIR=str(tmp_path / "data-file"), **QUIET)
    one_line_failure(result, "data-file is a file, not a directory")


def test_a_bad_log_level_is_named(meterhub: Run) -> None:
    result = meterhub("init", METERHUB_LOG_LEVEL="LOUD")
    one_line_failure(result, "log_level", "'LOUD'", "DEBUG, INFO, WARNING, ERROR, CRITICAL")


@pytest.mark.parametrize("port", ["0", "65536", "-1"])
def test_a_port_out_of_range_in_the_settings(meterhub: Run, port: str) -> None:
    result = meterhub("serve", METERHUB_PORT=port, **QUIET)
    one_line_failure(result, "port", "than or equal to")


@pytest.mark.parametrize("port", ["0", "65536"])
def test_a_port_out_of_range_on_the_command_line(meterhub: Run, port: str) -> None:
    result = meterhub("serve", "--port", port, **QUIET)
    one_line_failure(result, "--port", "1<=x<=65535", "meterhub serve --help")
    assert result.returncode == 2


def test_serve_on_a_port_in_use_names_the_address(meterhub: Run) -> None:
    import socket

    assert meterhub("init", **QUIET).returncode == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = meterhub("serve", "--port", str(port), **QUIET)
    one_line_failure(result, f"cannot listen on 127.0.0.1:{port}")


def test_user_add_before_init(meterhub: Run) -> None:
    result = meterhub("user", "add", "alice", "--password", "long-enough", **QUIET)
    one_line_failure(result, "no MeterHub schema yet", "run 'meterhub init' first")


def test_user_add_before_init_logs_nothing_else_at_the_default_level(meterhub: Run) -> None:
    """The schema is checked before the license is read, so no license notice comes first."""
    result = meterhub("user", "add", "alice", "--password", "long-enough")
    one_line_failure(result, "run 'meterhub init' first")


def test_debug_shows_the_traceback(meterhub: Run) -> None:
    result = meterhub("--debug", "user", "add", "alice", "--password", "long-enough", **QUIET)
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert "ConfigurationError: the database has no MeterHub schema yet" in result.stderr


def test_debug_is_not_flasks_debug_mode(meterhub: Run) -> None:
    result = meterhub("--help")
    assert "Show the full traceback" in result.stdout
    for flask_command in ("run", "shell", "routes"):
        assert f"  {flask_command} " not in result.stdout
        assert meterhub(flask_command).returncode == 2
