from __future__ import annotations

import json
import stat
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from click.testing import CliRunner, Result

from meterhub.cli.license_cmd import license_group
from meterhub.licensing import load_license

if TYPE_CHECKING:
    from conftest import KeyPair


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No stray meterhub.toml or METERHUB_* variable of the developer's shell is read."""
    monkeypatch.chdir(tmp_path)
    for name in ("CONFIG", "DATA_DIR", "LICENSE_FILE", "LICENSE_PUBLIC_KEY"):
        monkeypatch.delenv(f"METERHUB_{name}", raising=False)


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(license_group, [str(arg) for arg in args])


def sign_with_options(keys: KeyPair, output: Path, *extra: str) -> Result:
    return run(
        "sign",
        "--key",
        keys.private,
        "--output",
        output,
        "--customer",
        "Acme Energy",
        "--license-id",
        "L-2026-001",
        "--expires",
        "2099-12-31",
        "--limit",
        "virtual_meters=100",
        "--limit",
        "named_users=5",
        "--feature",
        "driver:*",
        "--feature",
        "tariffs",
        *extra,
    )


def test_keygen(tmp_path: Path) -> None:
    result = run("keygen", "--private", tmp_path / "p.pem", "--public", tmp_path / "q.pem")
    assert result.exit_code == 0, result.output
    assert "keep it secret" in result.stdout
    assert stat.S_IMODE((tmp_path / "p.pem").stat().st_mode) == 0o600
    again = run("keygen", "--private", tmp_path / "p.pem", "--public", tmp_path / "r.pem")
    assert again.exit_code == 1
    assert "already exists; refusing to overwrite" in again.stderr


def test_sign_with_options(tmp_path: Path, keys: KeyPair) -> None:
    output = tmp_path / "license.json"
    result = sign_with_options(keys, output)
    assert result.exit_code == 0, result.output
    assert "signed license L-2026-001 for Acme Energy" in result.stdout
    license_ = load_license(output, keys.public)
    assert license_.issued == date.today()
    assert license_.expires == date(2099, 12, 31)
    assert dict(license_.limits) == {"virtual_meters": 100, "named_users": 5}
    assert license_.features == frozenset({"driver:*", "tariffs"})
    # The output is never overwritten by accident.
    again = sign_with_options(keys, output)
    assert again.exit_code == 1
    assert "already exists; use --force" in again.stderr
    assert sign_with_options(keys, output, "--force", "--issued", "2026-01-01").exit_code == 0
    assert load_license(output, keys.public).issued == date(2026, 1, 1)


def test_sign_never_expires(tmp_path: Path, keys: KeyPair) -> None:
    output = tmp_path / "license.json"
    result = run(
        "sign",
        "--key",
        keys.private,
        "-o",
        output,
        "--customer",
        "Acme",
        "--license-id",
        "L-1",
        "--expires",
        "never",
    )
    assert result.exit_code == 0, result.output
    license_ = load_license(output, keys.public)
    assert license_.expires is None
    assert license_.features == frozenset()
    assert dict(license_.limits) == {}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--limit", "x"), "--limit expects NAME=NUMBER, got 'x'"),
        (("--limit", "virtual_meters=many"), "--limit expects NAME=NUMBER, got"),
        (("--limit", "virtual_meters=-3"), "--limit expects NAME=NUMBER, got"),
        (("--limit", "meters=3"), "unknown limit 'meters'; known limits: named_users"),
        (("--limit", "named_users=2"), "limit 'named_users' is given twice"),
        (("--expires", "next year"), "--expires expects YYYY-MM-DD or 'never', got 'next year'"),
        (("--issued", "never"), "--issued expects YYYY-MM-DD, got 'never'"),
        (("--feature", "export csv"), "must be a non-empty string without spaces"),
    ],
)
def test_sign_bad_options(
    tmp_path: Path, keys: KeyPair, extra: tuple[str, ...], message: str
) -> None:
    result = sign_with_options(keys, tmp_path / "license.json", *extra)
    assert result.exit_code != 0
    assert message in result.stderr
    assert not (tmp_path / "license.json").exists()


def test_sign_requires_customer(tmp_path: Path, keys: KeyPair) -> None:
    result = run("sign", "--key", keys.private, "-o", tmp_path / "l.json", "--license-id", "L")
    assert result.exit_code == 2
    assert "--customer is required without a payload file" in result.stderr


TOML_PAYLOAD = """\
customer = "Stadtwerke Müllheim"
license_id = "L-2026-002"
issued = 2026-02-01
expires = "never"
features = ["driver:dlms", "export:*", "advanced-validation"]

[limits]
virtual_meters = 5000
"""


def test_sign_toml_payload_file(tmp_path: Path, keys: KeyPair) -> None:
    source = tmp_path / "acme.toml"
    source.write_text(TOML_PAYLOAD, encoding="utf-8")
    output = tmp_path / "license.json"
    result = run("sign", source, "--key", keys.private, "--output", output)
    assert result.exit_code == 0, result.output
    license_ = load_license(output, keys.public)
    assert license_.customer == "Stadtwerke Müllheim"
    assert license_.issued == date(2026, 2, 1)
    assert license_.expires is None
    assert license_.limit("virtual_meters") == 5000
    assert license_.limit("named_users") is None
    assert license_.allows("export:xlsx")


def test_sign_json_payload_file_issued_defaults_to_today(
    tmp_path: Path, keys: KeyPair, payload: dict[str, Any]
) -> None:
    del payload["issued"]
    payload["expires"] = "2099-01-01"
    source = tmp_path / "payload.json"
    source.write_text(json.dumps(payload))
    output = tmp_path / "license.json"
    result = run("sign", source, "--key", keys.private, "--output", output)
    assert result.exit_code == 0, result.output
    assert load_license(output, keys.public).issued == date.today()


def test_sign_payload_file_errors(tmp_path: Path, keys: KeyPair) -> None:
    source = tmp_path / "payload.toml"
    source.write_text('customer = "Acme"\n')
    result = run("sign", source, "--key", keys.private, "--output", tmp_path / "l.json")
    assert result.exit_code == 1
    assert "invalid license payload: missing fields 'license_id', 'expires'" in result.stderr
    source.write_text("customer = ")
    result = run("sign", source, "--key", keys.private, "--output", tmp_path / "l.json")
    assert result.exit_code == 1
    assert "is not TOML" in result.stderr
    both = run("sign", source, "--key", keys.private, "-o", tmp_path / "l.json", "--customer", "A")
    assert both.exit_code == 2
    assert "either a payload file or the options" in both.stderr


def signed_license(tmp_path: Path, keys: KeyPair) -> Path:
    output = tmp_path / "license.json"
    assert sign_with_options(keys, output).exit_code == 0
    return output


def test_show_with_environment(
    tmp_path: Path, keys: KeyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METERHUB_LICENSE_FILE", str(signed_license(tmp_path, keys)))
    monkeypatch.setenv("METERHUB_LICENSE_PUBLIC_KEY", str(keys.public))
    result = run("show")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "Customer:        Acme Energy" in lines
    assert "License ID:      L-2026-001" in lines
    assert "Virtual meters:  100" in lines
    assert "Features:        driver:*, tariffs" in lines
    assert "development" not in result.stdout

    as_json = run("show", "--json")
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.stdout)
    assert data["customer"] == "Acme Energy"
    assert data["limits"] == {"virtual_meters": 100, "named_users": 5}
    assert data["development"] is False


def test_show_without_license_file() -> None:
    result = run("show")
    assert result.exit_code == 0, result.output
    assert "Development (no license file)" in result.stdout
    lines = result.stdout.splitlines()
    assert (
        "Note:            Development license (no license file): every feature enabled, at most "
        "50 virtual meters and 5 named users; not for production"
    ) in lines
    assert "Virtual meters:  50" in lines
    assert "Named users:     5" in lines
    as_json = json.loads(run("show", "--json").stdout)
    assert as_json["development"] is True
    assert as_json["limits"] == {"virtual_meters": 50, "named_users": 5}


def test_show_license_in_data_dir(
    tmp_path: Path, keys: KeyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without METERHUB_LICENSE_FILE, data_dir/license.json is used when present."""
    (tmp_path / "var").mkdir()
    signed_license(tmp_path, keys).rename(tmp_path / "var" / "license.json")
    monkeypatch.setenv("METERHUB_LICENSE_PUBLIC_KEY", str(keys.public))
    result = run("show", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["license_id"] == "L-2026-001"


def test_show_tampered_file_exits_1(
    tmp_path: Path, keys: KeyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = signed_license(tmp_path, keys)
    path.write_text(path.read_text().replace('"virtual_meters": 100', '"virtual_meters": 100000'))
    monkeypatch.setenv("METERHUB_LICENSE_FILE", str(path))
    monkeypatch.setenv("METERHUB_LICENSE_PUBLIC_KEY", str(keys.public))
    result = run("show")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert f"license file {path}: signature does not match" in result.stderr


def test_show_with_vendor_key_refuses_test_license(
    tmp_path: Path, keys: KeyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METERHUB_LICENSE_FILE", str(signed_license(tmp_path, keys)))
    result = run("show")
    assert result.exit_code == 1
    assert "signature does not match" in result.stderr
