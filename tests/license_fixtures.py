"""Fixtures for license tests (tests/licensing, tests/cli): a key pair in tmp_path, a payload,
and a raw signer.

The raw signer follows the documented file format with ``cryptography`` directly, so the tests
check the format itself and can produce signed files that ``sign_license`` would refuse.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from meterhub.licensing import generate_keypair


class KeyPair:
    def __init__(self, directory: Path, name: str) -> None:
        self.private = directory / f"{name}-private.pem"
        self.public = directory / f"{name}-public.pem"
        generate_keypair(self.private, self.public)


@pytest.fixture
def keys(tmp_path: Path) -> KeyPair:
    return KeyPair(tmp_path, "vendor")


@pytest.fixture
def other_keys(tmp_path: Path) -> KeyPair:
    return KeyPair(tmp_path, "other")


@pytest.fixture
def payload() -> dict[str, Any]:
    return {
        "customer": "Acme Energy",
        "license_id": "L-2026-001",
        "issued": "2026-01-15",
        "expires": "2027-01-31",
        "limits": {"virtual_meters": 100, "named_users": 5},
        "features": ["driver:*", "export:csv", "tariffs"],
    }


def canonical(payload: Any) -> bytes:
    """The canonical JSON the format documents, written independently of the package."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def raw_sign(payload: Any, private_key_path: Path) -> str:
    key = serialization.load_pem_private_key(private_key_path.read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    signature = base64.b64encode(key.sign(canonical(payload))).decode()
    return json.dumps({"format": "meterhub-license/1", "payload": payload, "signature": signature})


@pytest.fixture
def write_raw(tmp_path: Path, keys: KeyPair) -> Callable[[Any], Path]:
    """Write ``payload`` signed with ``keys`` as it is (no checks), return the file's path."""

    def write(payload: Any, name: str = "license.json") -> Path:
        path = tmp_path / name
        path.write_text(raw_sign(payload, keys.private), encoding="utf-8")
        return path

    return write
