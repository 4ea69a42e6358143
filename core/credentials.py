"""Encryption of meter credentials (passwords, DLMS keys) at rest.

Meter secrets — the low-level password, the DLMS authentication key, block cipher key and system
title — are stored only as a token made by :class:`CredentialCipher`; the database never sees
them in clear.

Choice of algorithm: **AES-256-GCM** (``cryptography``'s ``AESGCM``) rather than Fernet. GCM is
authenticated encryption with associated data, the token is compact (33 bytes of overhead, no
base64), and the token header — a format version and a key id — is authenticated too. The key
id (the first 8 bytes of SHA-256 of the key) lets :meth:`CredentialCipher.decrypt` tell "this
token was made with another key" apart from "this token is damaged", and lets a cipher hold
older keys for key rotation: the first key encrypts, every key decrypts.

Token layout (bytes): ``0x01`` (format version) | key id (8) | nonce (12) | ciphertext + tag
(the plaintext is the secrets as compact JSON, keys sorted).

The key is 32 random bytes kept in a file of its own (:func:`load_or_create_key`), mode 0600,
outside the database and its backups. A missing key file is never silently replaced while
encrypted credentials exist (:mod:`meterhub.credential_keys` checks the database first).

**Rotation** (``meterhub credentials rotate``) keeps a crash safe at every step:
:func:`begin_rotation` writes the new key to ``<key file>.new``; the database re-encrypts every
token in one transaction; :func:`finish_rotation` keeps the old key as ``<key file>.old-<key id>``
and moves the new one into place. A cipher made by :meth:`CredentialCipher.from_key_file` also
reads with a ``.new`` key left by an interrupted rotation, so every token stays readable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import secrets as _random
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from meterhub.errors import MeterHubError

#: Length of a credential key in bytes (AES-256).
KEY_SIZE = 32

#: First byte of every token: the format version.
TOKEN_VERSION = 1

_KEY_ID_SIZE = 8
_NONCE_SIZE = 12
_TAG_SIZE = 16
_HEADER_SIZE = 1 + _KEY_ID_SIZE


class CredentialError(MeterHubError):
    """Credentials cannot be encrypted or decrypted: wrong key, damaged token, bad key file."""


class KeyFileMissing(CredentialError):
    """The credential key file does not exist (and must not simply be created anew)."""

    def __init__(self, path: Path, detail: str = "") -> None:
        super().__init__(f"credential key file {path} does not exist{detail}")
        self.path = path


def pending_key_path(path: Path) -> Path:
    """Where a rotation keeps the new key until the database uses it: ``<path>.new``."""
    path = Path(path)
    return path.with_name(path.name + ".new")


def _write_key(path: Path, key: bytes) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as stream:
        os.fchmod(stream.fileno(), 0o600)
        stream.write(base64.urlsafe_b64encode(key) + b"\n")
        stream.flush()
        os.fsync(stream.fileno())


def begin_rotation(path: Path) -> tuple[bytes, bytes]:
    """``(old key, new key)``: the new key written to ``<path>.new`` (or taken from it when an
    earlier rotation stopped half-way)."""
    path = Path(path)
    if not path.exists():
        raise KeyFileMissing(path)
    old = load_or_create_key(path)
    pending = pending_key_path(path)
    if pending.exists():
        return old, load_or_create_key(pending)
    new = generate_key()
    _write_key(pending, new)
    return old, new


def finish_rotation(path: Path) -> Path:
    """Keep the old key as ``<path>.old-<key id>`` and move ``<path>.new`` to ``path``.

    Returns where the old key went (keep it with the backups of the database that used it).
    """
    path = Path(path)
    pending = pending_key_path(path)
    old = load_or_create_key(path)
    backup = path.with_name(f"{path.name}.old-{key_id(old)}")
    os.replace(path, backup)
    os.replace(pending, path)
    return backup


def generate_key() -> bytes:
    """A new random credential key (32 bytes)."""
    return _random.token_bytes(KEY_SIZE)


def key_id(key: bytes) -> str:
    """The public identifier of ``key`` (16 hex digits), safe to log and show."""
    return _key_id_bytes(key).hex()


def _key_id_bytes(key: bytes) -> bytes:
    return hashlib.sha256(b"meterhub-credential-key\x00" + key).digest()[:_KEY_ID_SIZE]


def _check_key(key: bytes) -> bytes:
    if not isinstance(key, bytes | bytearray) or len(key) != KEY_SIZE:
        raise CredentialError(f"a credential key must be {KEY_SIZE} bytes")
    return bytes(key)


class CredentialCipher:
    """Encrypts and decrypts the secrets of a meter with AES-256-GCM.

    ``key`` encrypts and decrypts; ``old_keys`` only decrypt (key rotation: read every meter's
    credentials with the old key, write them back with the new one).
    """

    def __init__(self, key: bytes, *, old_keys: Iterable[bytes] = ()) -> None:
        self._key = _check_key(key)
        self._key_id = _key_id_bytes(self._key)
        self._keys = {self._key_id: AESGCM(self._key)}
        for old in old_keys:
            old = _check_key(old)
            self._keys.setdefault(_key_id_bytes(old), AESGCM(old))

    @classmethod
    def from_key_file(cls, path: Path, *, create: bool = True) -> CredentialCipher:
        """A cipher with the key in ``path``; with ``create`` a missing file is made (0600).

        A key left in ``<path>.new`` by an interrupted rotation decrypts too.

        :raises KeyFileMissing: the file is missing and ``create`` is false.
        """
        path = Path(path)
        if not create and not path.exists():
            raise KeyFileMissing(path)
        pending = pending_key_path(path)
        old = [load_or_create_key(pending)] if pending.exists() else []
        return cls(load_or_create_key(path), old_keys=old)

    @property
    def key_id(self) -> str:
        """The identifier of the encrypting key (see :func:`key_id`)."""
        return self._key_id.hex()

    def __repr__(self) -> str:
        # Never show key material, not even in a debugger or a log line.
        return f"<CredentialCipher key_id={self.key_id}>"

    def encrypt(self, secrets: Mapping[str, str]) -> bytes:
        """The token for ``secrets`` (names to values, both strings); a new nonce every call."""
        for name, value in secrets.items():
            if not isinstance(name, str) or not isinstance(value, str):
                raise CredentialError("credential names and values must be strings")
        plaintext = json.dumps(dict(secrets), sort_keys=True, separators=(",", ":")).encode()
        header = bytes([TOKEN_VERSION]) + self._key_id
        nonce = os.urandom(_NONCE_SIZE)
        return header + nonce + self._keys[self._key_id].encrypt(nonce, plaintext, header)

    def decrypt(self, token: bytes) -> dict[str, str]:
        """The secrets in ``token``; :class:`CredentialError` when the key or token is wrong."""
        token = bytes(token)
        if len(token) < _HEADER_SIZE + _NONCE_SIZE + _TAG_SIZE or token[0] != TOKEN_VERSION:
            raise CredentialError("the stored credentials are not a MeterHub credential token")
        header = token[:_HEADER_SIZE]
        token_key_id = header[1:]
        aead = self._keys.get(token_key_id)
        if aead is None:
            raise CredentialError(
                f"the stored credentials were encrypted with another key (key id "
                f"{token_key_id.hex()}); the configured key has id {self.key_id}"
            )
        nonce = token[_HEADER_SIZE : _HEADER_SIZE + _NONCE_SIZE]
        try:
            plaintext = aead.decrypt(nonce, token[_HEADER_SIZE + _NONCE_SIZE :], header)
        except InvalidTag:
            raise CredentialError(
                "the stored credentials are damaged or were altered; set them again"
            ) from None
        data = json.loads(plaintext)
        return {str(name): str(value) for name, value in data.items()}


def load_or_create_key(path: Path) -> bytes:
    """The credential key in file ``path``; a new random key file (mode 0600) when missing.

    The file holds the key in URL-safe base64 on one line. A missing parent directory is
    created with mode 0700. A key file that group or others may read is refused (like ssh does
    for private keys): fix it with ``chmod 600``. A file that does not hold a 32-byte key raises
    :class:`CredentialError` and is left as it is.
    """
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = generate_key()
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # Another process created it a moment ago: read that one.
        else:
            with os.fdopen(descriptor, "wb") as stream:
                os.fchmod(stream.fileno(), 0o600)
                stream.write(base64.urlsafe_b64encode(key) + b"\n")
            return key
    if os.name == "posix":
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise CredentialError(
                f"credential key file {path} is readable by others (mode {mode:04o}); "
                f"run: chmod 600 {path}"
            )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CredentialError(
            f"credential key file {path} cannot be read: {exc.strerror or exc}"
        ) from exc
    try:
        key = base64.urlsafe_b64decode(data.strip())
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_SIZE:
        raise CredentialError(
            f"credential key file {path} does not hold a {KEY_SIZE}-byte key in base64"
        )
    return key
