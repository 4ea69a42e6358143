"""The credential key of a deployment, checked against the database that holds the tokens.

:func:`open_cipher` is how the core gets its :class:`~meterhub.credentials.CredentialCipher`:
the key file is created only when no meter has encrypted credentials yet. When the file is
missing but tokens exist, a new key would make every one of them unreadable, so it refuses and
says how to restore the file. :func:`rotate_key` re-encrypts every token under a new key in one
transaction (see :mod:`meterhub.credentials` for the steps that keep a crash safe).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from meterhub.credentials import (
    CredentialCipher,
    KeyFileMissing,
    begin_rotation,
    finish_rotation,
    key_id,
    pending_key_path,
)
from meterhub.db import transaction
from meterhub.inventory.meters import count_encrypted_credentials, reencrypt_credentials

__all__ = ["RotatedKey", "open_cipher", "rotate_key"]


def _restore_hint(path: Path, count: int) -> str:
    return (
        f", but {count} meter(s) have credentials encrypted with it: restore the file from "
        f"the backup of {path.parent} (the key's id is in `meterhub credentials status` on a "
        "machine that still has it), or set credential_key_file to where it is; a new key "
        "would make those credentials unreadable"
    )


def open_cipher(path: Path, sessions: sessionmaker[Session]) -> CredentialCipher:
    """The cipher of the key in ``path``, creating the key only while no tokens exist.

    :raises KeyFileMissing: the file is missing and encrypted credentials exist.
    """
    path = Path(path)
    if not path.exists():
        with sessions() as session:
            count = count_encrypted_credentials(session)
        if count:
            raise KeyFileMissing(path, _restore_hint(path, count))
    return CredentialCipher.from_key_file(path)


@dataclass(frozen=True)
class RotatedKey:
    """What :func:`rotate_key` did."""

    old_key_id: str
    new_key_id: str
    meters: int
    old_key_file: Path


def rotate_key(path: Path, sessions: sessionmaker[Session], *, user: str = "cli") -> RotatedKey:
    """Encrypt every meter's credentials under a new key, in one transaction.

    Resumes a rotation that stopped after writing ``<path>.new``. The old key is kept as
    ``<path>.old-<key id>``.
    """
    path = Path(path)
    if not path.exists():
        with sessions() as session:
            count = count_encrypted_credentials(session)
        raise KeyFileMissing(path, _restore_hint(path, count) if count else "; nothing to rotate")
    old, new = begin_rotation(path)
    cipher = CredentialCipher(new, old_keys=[old])
    with transaction(sessions, user=user) as session:
        count = reencrypt_credentials(session, cipher)
    backup = finish_rotation(path)
    assert not pending_key_path(path).exists()
    return RotatedKey(key_id(old), key_id(new), count, backup)
