"""The credential cipher (AES-256-GCM tokens) and the key file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterhub.credentials import (
    KEY_SIZE,
    CredentialCipher,
    CredentialError,
    generate_key,
    load_or_create_key,
)

SECRETS = {
    "password": "Secret-Pass-123",
    "authentication_key": "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF",
    "block_cipher_key": "000102030405060708090A0B0C0D0E0F",
    "system_title": "4D4D4D0000BC614E",
}


def test_round_trip() -> None:
    cipher = CredentialCipher(generate_key())
    token = cipher.encrypt(SECRETS)
    assert isinstance(token, bytes)
    assert cipher.decrypt(token) == SECRETS


def test_token_holds_no_secret_in_clear() -> None:
    cipher = CredentialCipher(generate_key())
    token = cipher.encrypt(SECRETS)
    for name, value in SECRETS.items():
        assert value.encode() not in token
        assert name.encode() not in token
        assert value.encode().hex().encode() not in token.hex().encode()


def test_every_token_is_new() -> None:
    cipher = CredentialCipher(generate_key())
    assert cipher.encrypt(SECRETS) != cipher.encrypt(SECRETS)


def test_wrong_key_is_a_clear_error() -> None:
    token = CredentialCipher(generate_key()).encrypt(SECRETS)
    other = CredentialCipher(generate_key())
    with pytest.raises(CredentialError, match="encrypted with another key") as info:
        other.decrypt(token)
    assert other.key_id in str(info.value)
    assert info.value.__cause__ is None


def test_altered_token_is_a_clear_error() -> None:
    cipher = CredentialCipher(generate_key())
    token = bytearray(cipher.encrypt(SECRETS))
    token[-1] ^= 0x01
    with pytest.raises(CredentialError, match="damaged or were altered"):
        cipher.decrypt(bytes(token))


@pytest.mark.parametrize("token", [b"", b"plain password", b"\x02" + bytes(40)])
def test_not_a_token(token: bytes) -> None:
    with pytest.raises(CredentialError, match="not a MeterHub credential token"):
        CredentialCipher(generate_key()).decrypt(token)


def test_old_keys_decrypt_for_rotation() -> None:
    old_key, new_key = generate_key(), generate_key()
    token = CredentialCipher(old_key).encrypt(SECRETS)
    rotating = CredentialCipher(new_key, old_keys=[old_key])
    assert rotating.decrypt(token) == SECRETS
    fresh = rotating.encrypt(SECRETS)
    assert CredentialCipher(new_key).decrypt(fresh) == SECRETS
    with pytest.raises(CredentialError):
        CredentialCipher(old_key).decrypt(fresh)


@pytest.mark.parametrize("key", [b"", b"short", bytes(KEY_SIZE + 1), "x" * KEY_SIZE])
def test_bad_key(key: bytes) -> None:
    with pytest.raises(CredentialError, match="32 bytes"):
        CredentialCipher(key)


def test_values_must_be_text() -> None:
    with pytest.raises(CredentialError, match="strings"):
        CredentialCipher(generate_key()).encrypt({"password": 1234})  # type: ignore[dict-item]


def test_repr_shows_no_key() -> None:
    key = generate_key()
    cipher = CredentialCipher(key)
    assert key.hex() not in repr(cipher)
    assert cipher.key_id in repr(cipher)


@given(st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=60), max_size=6))
def test_round_trip_any_text(secrets: dict[str, str]) -> None:
    cipher = CredentialCipher(bytes(range(KEY_SIZE)))
    assert cipher.decrypt(cipher.encrypt(secrets)) == secrets


# -- key file ----------------------------------------------------------------------------------


def test_key_file_created_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "credentials.key"
    key = load_or_create_key(path)
    assert len(key) == KEY_SIZE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_or_create_key(path) == key


def test_key_file_mode_0600_despite_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path = tmp_path / "credentials.key"
        load_or_create_key(path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_cipher_from_key_file(tmp_path: Path) -> None:
    path = tmp_path / "credentials.key"
    token = CredentialCipher.from_key_file(path).encrypt(SECRETS)
    assert CredentialCipher.from_key_file(path).decrypt(token) == SECRETS


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "credentials.key"
    load_or_create_key(path)
    path.chmod(0o644)
    with pytest.raises(CredentialError, match="chmod 600"):
        load_or_create_key(path)


@pytest.mark.parametrize("content", [b"", b"not base64 at all!\n", b"c2hvcnQ=\n"])
def test_key_file_without_a_key_is_refused_and_kept(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "credentials.key"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(CredentialError, match="does not hold a 32-byte key"):
        load_or_create_key(path)
    assert path.read_bytes() == content
