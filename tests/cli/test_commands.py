import json
import subprocess
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from meterhub import __version__
from meterhub.licensing import generate_keypair, sign_license

Run = Callable[..., subprocess.CompletedProcess[str]]


def test_version(meterhub: Run) -> None:
    result = meterhub("--version")
    assert result.returncode == 0
    assert __version__ in result.stdout


def test_help_lists_every_command(meterhub: Run) -> None:
    result = meterhub("--help")
    for command in ("init", "serve", "worker", "demo", "plugins", "license", "user"):
        assert f"  {command} " in result.stdout


def test_worker_and_scheduler_refuse_bad_lines_and_a_bad_broker_url(meterhub: Run) -> None:
    lines = meterhub("worker", "--pool", "modems")
    assert lines.returncode == 2
    assert "'modems': expected NAME=LINES" in lines.stderr and "--pool" in lines.stderr
    assert meterhub("init").returncode == 0
    for command in ("worker", "scheduler"):
        result = meterhub(command, METERHUB_BROKER_URL="http://broker")
        assert result.returncode == 1, result.stderr
        assert "broker_url: 'http://broker' is not an AMQP URL" in result.stderr


def test_init_creates_and_then_upgrades_the_database(
    meterhub: Run, empty_database_url: str, backend: str
) -> None:
    url = {} if backend == "sqlite" else {"METERHUB_DATABASE_URL": empty_database_url}
    first = meterhub("init", **url)
    assert first.returncode == 0, first.stderr
    assert "is at schema revision" in first.stdout
    second = meterhub("init", **url)
    assert second.returncode == 0, second.stderr
    assert first.stdout == second.stdout


def test_init_creates_the_credential_key(meterhub: Run, tmp_path: Path) -> None:
    assert meterhub("init").returncode == 0
    key = tmp_path / "data" / "credentials.key"
    assert key.is_file()
    assert key.stat().st_mode & 0o077 == 0


def test_serve_refuses_a_database_without_schema(meterhub: Run) -> None:
    result = meterhub("serve", "--port", "1")
    assert result.returncode == 1
    assert "run 'meterhub init' first" in result.stderr


def test_plugins_lists_the_builtin_plugins(meterhub: Run) -> None:
    result = meterhub("plugins", "--json")
    assert result.returncode == 0, result.stderr
    records = {(r["group"], r["name"]): r for r in json.loads(result.stdout)}
    assert records[("meterhub.drivers", "simulated")]["status"] == "loaded"
    assert records[("meterhub.exports", "memory")]["status"] == "loaded"


def test_license_show_says_development_license(meterhub: Run) -> None:
    result = meterhub("license", "show")
    assert result.returncode == 0
    assert "development license" in result.stdout.lower()


def test_an_invalid_setting_stops_a_command_with_its_name(meterhub: Run) -> None:
    result = meterhub("init", METERHUB_DATABASE_URL="mysql://x@y/z")
    assert result.returncode == 1
    assert "database_url" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def two_user_license(tmp_path: Path) -> dict[str, str]:
    private, public = tmp_path / "k.pem", tmp_path / "k.pub.pem"
    generate_keypair(private, public)
    payload = {
        "customer": "Acme Energy",
        "license_id": "L-7",
        "issued": date(2026, 1, 1).isoformat(),
        "expires": None,
        "limits": {"named_users": 2},
        "features": ["*"],
    }
    license_file = tmp_path / "license.json"
    license_file.write_text(sign_license(payload, private))
    return {"METERHUB_LICENSE_FILE": str(license_file), "METERHUB_LICENSE_PUBLIC_KEY": str(public)}


def test_user_add_enforces_the_named_user_limit(
    meterhub_here: Run, two_user_license: dict[str, str]
) -> None:
    assert meterhub_here("init", **two_user_license).returncode == 0
    for name in ("alice", "bob"):
        result = meterhub_here("user", "add", name, "--password", "s3cret-pass", **two_user_license)
        assert result.returncode == 0, result.stderr
        assert f"user {name} added" in result.stdout
    third = meterhub_here("user", "add", "carol", "--password", "s3cret-pass", **two_user_license)
    assert third.returncode == 1
    assert "allows at most 2 named users" in third.stderr
    duplicate = meterhub_here(
        "user", "add", "alice", "--password", "x-pass-word", **two_user_license
    )
    assert duplicate.returncode == 1
    assert "alice" in duplicate.stderr


def test_a_tampered_license_stops_the_system(
    meterhub_here: Run, two_user_license: dict[str, str]
) -> None:
    path = Path(two_user_license["METERHUB_LICENSE_FILE"])
    document = json.loads(path.read_text())
    document["payload"]["limits"]["named_users"] = 200
    path.write_text(json.dumps(document))
    result = meterhub_here("init", **two_user_license)
    assert result.returncode == 0  # init needs no license
    refused = meterhub_here("user", "add", "alice", "--password", "s3cret-pass", **two_user_license)
    assert refused.returncode == 1
    assert "signature does not match" in refused.stderr


def test_user_add_grants_roles_and_password_resets(
    meterhub_here: Run, two_user_license: dict[str, str]
) -> None:
    assert meterhub_here("init", **two_user_license).returncode == 0
    added = meterhub_here(
        "user", "add", "root", "--role", "Administrator", "--password", "s3cret-pass",
        **two_user_license,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    unknown = meterhub_here(
        "user", "add", "eve", "--role", "Nobody", "--password", "s3cret-pass", **two_user_license
    )
    assert unknown.returncode != 0 and "no role named 'Nobody'" in unknown.stderr
    weak = meterhub_here("user", "password", "root", "--password", "root-pass", **two_user_license)
    assert weak.returncode != 0 and "must not contain the user name" in weak.stderr
    reset = meterhub_here(
        "user", "password", "root", "--password", "n3w-secret", **two_user_license
    )
    assert reset.returncode == 0 and "password of root set" in reset.stdout
