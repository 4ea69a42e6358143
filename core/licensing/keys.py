"""Ed25519 keys for licenses: create a vendor key pair, read keys, find the shipped vendor key.

The vendor signs licenses with a private key that never leaves the vendor; MeterHub ships only the
public key (``vendor_public_key.pem`` in this package). A deployment may name another public key
in the ``license_public_key`` setting, for instance to test licenses of its own.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from meterhub.errors import LicenseError

#: File name of the vendor public key inside the ``meterhub.licensing`` package.
VENDOR_PUBLIC_KEY_RESOURCE = "vendor_public_key.pem"


def _write_new_file(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``data``; fail with :class:`FileExistsError` if it exists."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(data)


def generate_keypair(private_key_path: Path, public_key_path: Path) -> None:
    """Create a new Ed25519 key pair as two PEM files.

    The private key (PKCS#8, unencrypted) is written with mode 0600; keep it secret and off any
    repository. Existing files are never overwritten: :class:`FileExistsError` names the first
    one found, and nothing is written.
    """
    private_key_path = Path(private_key_path)
    public_key_path = Path(public_key_path)
    if private_key_path.resolve() == public_key_path.resolve():
        raise ValueError("the private and the public key need two different files")
    for path in (private_key_path, public_key_path):
        if path.exists():
            raise FileExistsError(f"{path} already exists; refusing to overwrite a key file")
    private_key = Ed25519PrivateKey.generate()
    private_pem = private_key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    public_pem = private_key.public_key().public_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    _write_new_file(private_key_path, private_pem, 0o600)
    try:
        _write_new_file(public_key_path, public_pem, 0o644)
    except BaseException:
        # Never leave half a key pair behind: a private key without its public key is useless.
        private_key_path.unlink(missing_ok=True)
        raise


def _read_key_file(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise LicenseError(f"{what} {path} cannot be read: {reason}") from exc


def public_key_from_pem(data: bytes, origin: str) -> Ed25519PublicKey:
    """Parse PEM ``data`` as an Ed25519 public key; ``origin`` names it in error messages."""
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise LicenseError(f"{origin} is not a PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise LicenseError(f"{origin} is not an Ed25519 public key")
    return key


def load_public_key(path: Path | None = None) -> Ed25519PublicKey:
    """Read the Ed25519 public key in PEM file ``path``; ``None`` means the shipped vendor key.

    ``path`` is a file name (the ``license_public_key`` setting): PEM text given in its place is
    refused with a message saying so.
    """
    if path is None:
        resource = resources.files("meterhub.licensing").joinpath(VENDOR_PUBLIC_KEY_RESOURCE)
        return public_key_from_pem(resource.read_bytes(), "the vendor public key")
    if "-----BEGIN" in str(path):
        raise LicenseError(
            "license_public_key takes the path of a PEM file, not the key itself: put the key "
            "in a file and give the file's path"
        )
    return public_key_from_pem(_read_key_file(path, "public key file"), f"public key file {path}")


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read the unencrypted Ed25519 private key in PEM file ``path``."""
    data = _read_key_file(path, "private key file")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError as exc:
        raise LicenseError(
            f"private key file {path} is encrypted; give an unencrypted PEM key"
        ) from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise LicenseError(f"private key file {path} is not a PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise LicenseError(f"private key file {path} is not an Ed25519 private key")
    return key
