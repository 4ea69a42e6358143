"""The credential key: never silently replaced while tokens exist; rotation in one transaction."""

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from meterhub.config import Settings
from meterhub.credential_keys import rotate_key
from meterhub.credentials import (
    CredentialCipher,
    begin_rotation,
    pending_key_path,
)
from meterhub.db import make_engine, make_sessionmaker, transaction
from meterhub.inventory.meters import (
    create_meter,
    read_credentials,
    reencrypt_credentials,
    set_credentials,
)
from meterhub.model.meters import Meter

Run = Callable[..., subprocess.CompletedProcess[str]]

SECRETS = {"password": "Sup3rSecret", "authentication_key": "00112233445566778899AABBCCDDEEFF"}


@pytest.fixture
def deployment(meterhub_here: Run, tmp_path: Path) -> Settings:
    """An initialised deployment in tmp_path/data with two meters that have credentials."""
    assert meterhub_here("init").returncode == 0
    settings = Settings(data_dir=tmp_path / "data")
    engine = make_engine(settings.effective_database_url)
    sessions = make_sessionmaker(engine)
    cipher = CredentialCipher.from_key_file(settings.effective_credential_key_file, create=False)
    with transaction(sessions, user="test") as session:
        for serial in ("1001", "1002"):
            meter = create_meter(session, manufacturer="ACME", serial_number=serial, driver="x")
            set_credentials(session, meter, cipher, SECRETS)
    engine.dispose()
    return settings


def _credentials(settings: Settings) -> list[dict[str, str]]:
    engine = make_engine(settings.effective_database_url)
    try:
        cipher = CredentialCipher.from_key_file(
            settings.effective_credential_key_file, create=False
        )
        with make_sessionmaker(engine)() as session:
            meters = session.query(Meter).order_by(Meter.id).all()
            return [read_credentials(meter, cipher) for meter in meters]
    finally:
        engine.dispose()


def test_init_refuses_to_replace_a_missing_key_while_credentials_exist(
    meterhub_here: Run, deployment: Settings
) -> None:
    key_file = deployment.effective_credential_key_file
    key_file.unlink()
    result = meterhub_here("init")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert "does not exist" in lines[0] and "2 meter(s)" in lines[0]
    assert "restore the file" in lines[0]
    assert not key_file.exists(), "no new key may be made"


def test_init_creates_the_key_while_no_credentials_exist(
    meterhub_here: Run, tmp_path: Path
) -> None:
    assert meterhub_here("init").returncode == 0
    key_file = tmp_path / "data" / "credentials.key"
    key_file.unlink()
    assert meterhub_here("init").returncode == 0
    assert key_file.is_file()


def test_rotate_reencrypts_every_meter_under_a_new_key(
    meterhub_here: Run, deployment: Settings
) -> None:
    key_file = deployment.effective_credential_key_file
    old_key = key_file.read_bytes()
    status = meterhub_here("credentials", "status")
    assert status.returncode == 0, status.stderr
    assert "Meters with encrypted credentials  2" in status.stdout
    result = meterhub_here("credentials", "rotate")
    assert result.returncode == 0, result.stderr
    assert "2 meter(s) re-encrypted" in result.stdout
    assert key_file.read_bytes() != old_key
    backups = list(key_file.parent.glob("credentials.key.old-*"))
    assert len(backups) == 1 and backups[0].read_bytes() == old_key
    assert backups[0].stat().st_mode & 0o077 == 0
    assert not pending_key_path(key_file).exists()
    # Only the new key is needed now.
    assert _credentials(deployment) == [SECRETS, SECRETS]


def test_an_interrupted_rotation_stays_readable_and_completes(deployment: Settings) -> None:
    key_file = deployment.effective_credential_key_file
    engine = make_engine(deployment.effective_database_url)
    sessions = make_sessionmaker(engine)
    try:
        # The database committed the new tokens, then the process died before the key moved.
        old, new = begin_rotation(key_file)
        with transaction(sessions) as session:
            assert reencrypt_credentials(session, CredentialCipher(new, old_keys=[old])) == 2
        assert _credentials(deployment) == [SECRETS, SECRETS]
        done = rotate_key(key_file, sessions)
        assert done.meters == 2
        assert not pending_key_path(key_file).exists()
        assert CredentialCipher(new).key_id == done.new_key_id
        assert _credentials(deployment) == [SECRETS, SECRETS]
    finally:
        engine.dispose()


def test_rotate_without_a_key_file_says_so(meterhub_here: Run, deployment: Settings) -> None:
    deployment.effective_credential_key_file.unlink()
    result = meterhub_here("credentials", "rotate")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if " WARNING " not in line]
    assert len(errors) == 1 and "Traceback" not in result.stderr
    assert "does not exist" in errors[0] and "restore" in errors[0]
