from __future__ import annotations

import base64
import json
import stat
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from meterhub.errors import LicenseError
from meterhub.licensing import (
    development_license,
    generate_keypair,
    load_license,
    sign_license,
)

if TYPE_CHECKING:
    from conftest import KeyPair

TODAY = date(2026, 6, 1)

WriteRaw = Callable[..., Path]


def signed_file(tmp_path: Path, payload: dict[str, Any], keys: KeyPair) -> Path:
    path = tmp_path / "license.json"
    path.write_text(sign_license(payload, keys.private), encoding="utf-8")
    return path


# -- round trip -------------------------------------------------------------------------------


def test_round_trip(tmp_path: Path, keys: KeyPair, payload: dict[str, Any]) -> None:
    path = signed_file(tmp_path, payload, keys)
    license_ = load_license(path, keys.public, today=TODAY)
    assert license_.customer == "Acme Energy"
    assert license_.license_id == "L-2026-001"
    assert license_.issued == date(2026, 1, 15)
    assert license_.expires == date(2027, 1, 31)
    assert dict(license_.limits) == {"virtual_meters": 100, "named_users": 5}
    assert license_.features == frozenset({"driver:*", "export:csv", "tariffs"})
    assert not license_.development
    assert license_.source == path
    assert license_.allows("driver:dlms")


def test_file_format(tmp_path: Path, keys: KeyPair, payload: dict[str, Any]) -> None:
    """The file is the documented JSON; the signature covers the canonical payload."""
    document = json.loads(sign_license(payload, keys.private))
    assert set(document) == {"format", "payload", "signature"}
    assert document["format"] == "meterhub-license/1"
    assert document["payload"] == {**payload, "features": sorted(payload["features"])}
    public_key = serialization.load_pem_public_key(keys.public.read_bytes())
    assert isinstance(public_key, Ed25519PublicKey)
    canonical = json.dumps(
        document["payload"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    public_key.verify(base64.b64decode(document["signature"]), canonical)


def test_unicode_customer_and_perpetual_license(
    tmp_path: Path, keys: KeyPair, payload: dict[str, Any]
) -> None:
    payload.update(customer="Stadtwerke Müllheim", expires=None, limits={})
    license_ = load_license(signed_file(tmp_path, payload, keys), keys.public, today=TODAY)
    assert license_.customer == "Stadtwerke Müllheim"
    assert license_.expires is None
    assert license_.limit("virtual_meters") is None


def test_raw_signed_file_loads(write_raw: WriteRaw, keys: KeyPair, payload: dict[str, Any]) -> None:
    """A file signed by an independent implementation of the format loads."""
    assert load_license(write_raw(payload), keys.public, today=TODAY).customer == "Acme Energy"


def test_none_path_gives_development_license() -> None:
    assert load_license(None) == load_license(None, Path("/nonexistent.pem"))
    assert load_license(None).development
    assert load_license(None).customer == development_license().customer


def test_vendor_key_is_shipped_and_used_by_default(
    tmp_path: Path, keys: KeyPair, payload: dict[str, Any]
) -> None:
    resource = resources.files("meterhub.licensing").joinpath("vendor_public_key.pem")
    vendor_key = serialization.load_pem_public_key(resource.read_bytes())
    assert isinstance(vendor_key, Ed25519PublicKey)
    # Our test key is not the vendor's, so the shipped key must refuse the file.
    with pytest.raises(LicenseError, match="signature does not match"):
        load_license(signed_file(tmp_path, payload, keys), today=TODAY)


# -- refused files ----------------------------------------------------------------------------

BAD_SIGNATURE = (
    "signature does not match: the file was changed after signing or signed by another key"
)


def test_tampered_limit_refused(tmp_path: Path, keys: KeyPair, payload: dict[str, Any]) -> None:
    path = signed_file(tmp_path, payload, keys)
    document = json.loads(path.read_text())
    document["payload"]["limits"]["virtual_meters"] = 100000
    path.write_text(json.dumps(document))
    with pytest.raises(LicenseError) as caught:
        load_license(path, keys.public, today=TODAY)
    assert str(caught.value) == f"license file {path}: {BAD_SIGNATURE}"


def test_tampered_text_refused(tmp_path: Path, keys: KeyPair, payload: dict[str, Any]) -> None:
    path = signed_file(tmp_path, payload, keys)
    path.write_text(path.read_text().replace('"export:csv"', '"export:xlsx"'))
    with pytest.raises(LicenseError, match=BAD_SIGNATURE):
        load_license(path, keys.public, today=TODAY)


def test_other_key_refused(
    tmp_path: Path, keys: KeyPair, other_keys: KeyPair, payload: dict[str, Any]
) -> None:
    path = signed_file(tmp_path, payload, other_keys)
    with pytest.raises(LicenseError, match=BAD_SIGNATURE):
        load_license(path, keys.public, today=TODAY)


def test_expired_refused(tmp_path: Path, keys: KeyPair, payload: dict[str, Any]) -> None:
    payload["expires"] = "2026-01-31"
    path = signed_file(tmp_path, payload, keys)
    # The expiry date is the last valid day.
    assert load_license(path, keys.public, today=date(2026, 1, 31)).expires == date(2026, 1, 31)
    with pytest.raises(LicenseError) as caught:
        load_license(path, keys.public, today=date(2026, 2, 1))
    assert str(caught.value) == f"license file {path}: expired on 2026-01-31"


def test_issue_date_still_to_come_refused(
    tmp_path: Path, keys: KeyPair, payload: dict[str, Any]
) -> None:
    """A license issued after today is refused: the clock was set back, or it is not valid yet."""
    path = signed_file(tmp_path, payload, keys)
    assert load_license(path, keys.public, today=date(2026, 1, 15)).issued == date(2026, 1, 15)
    with pytest.raises(LicenseError) as caught:
        load_license(path, keys.public, today=date(2026, 1, 14))
    assert str(caught.value) == (
        f"license file {path}: issued on 2026-01-15, a day still to come (today is 2026-01-14): "
        "the system clock is wrong, or the license is not valid yet"
    )


def test_issue_date_checked_against_the_clock(
    tmp_path: Path, keys: KeyPair, payload: dict[str, Any]
) -> None:
    """Without ``today``: issued today (UTC or local) loads, issued in two days does not."""
    utc_today = datetime.now(UTC).date()
    payload.update(issued=utc_today.isoformat(), expires=None)
    assert load_license(signed_file(tmp_path, payload, keys), keys.public).issued == utc_today
    later = max(date.today(), utc_today) + timedelta(days=2)
    payload.update(issued=later.isoformat())
    with pytest.raises(LicenseError, match=f"issued on {later.isoformat()}, a day still to come"):
        load_license(signed_file(tmp_path, payload, keys), keys.public)


def test_unreadable_file_refused(tmp_path: Path, keys: KeyPair) -> None:
    path = tmp_path / "missing.json"
    with pytest.raises(LicenseError, match=r"missing\.json: cannot be read: No such file"):
        load_license(path, keys.public)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", r"is not JSON \(line 1, column 1"),
        (b"license: yes", r"is not JSON"),
        (b"\xff\xfe{}", r"is not UTF-8 text"),
        (b"[1, 2]", r"is not a license file"),
        (b'{"payload": {}, "signature": ""}', r"has no 'format' marker"),
        (b'{"format": "meterhub-license/2", "payload": {}, "signature": ""}', r"has format"),
        (b'{"format": "meterhub-license/1", "signature": ""}', r"missing 'payload'"),
        (b'{"format": "meterhub-license/1", "payload": {}}', r"missing 'signature'"),
        (
            b'{"format": "meterhub-license/1", "payload": [], "signature": ""}',
            r"'payload' must be an object",
        ),
        (
            b'{"format": "meterhub-license/1", "payload": {}, "signature": 5}',
            r"'signature' must be a base64 string",
        ),
        (
            b'{"format": "meterhub-license/1", "payload": {}, "signature": "not base64!"}',
            r"'signature' is not valid base64",
        ),
        (
            b'{"format": "meterhub-license/1", "payload": {}, "signature": "AAAA"}',
            r"'signature' has 3 bytes; an Ed25519 signature has 64",
        ),
        (
            b'{"format": "meterhub-license/1", "format": "x", "payload": {}, "signature": ""}',
            r"the key 'format' appears twice",
        ),
        (
            b'{"format": "meterhub-license/1", "payload": {}, "signature": "", "x": 1}',
            r"unknown top-level key 'x'",
        ),
    ],
)
def test_malformed_envelope_refused(
    tmp_path: Path, keys: KeyPair, content: bytes, reason: str
) -> None:
    path = tmp_path / "license.json"
    path.write_bytes(content)
    with pytest.raises(LicenseError, match=rf"^license file .*license\.json: {reason}"):
        load_license(path, keys.public, today=TODAY)


def test_bad_base64_of_valid_length_refused(
    tmp_path: Path, keys: KeyPair, payload: dict[str, Any]
) -> None:
    path = signed_file(tmp_path, payload, keys)
    document = json.loads(path.read_text())
    document["signature"] = "*" + document["signature"][1:]
    path.write_text(json.dumps(document))
    with pytest.raises(LicenseError, match="'signature' is not valid base64"):
        load_license(path, keys.public, today=TODAY)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"customer": None}, "missing field 'customer'"),
        ({"features": None, "limits": None}, "missing fields 'limits', 'features'"),
        ({"expiry": "2027-01-01"}, "unknown field 'expiry'"),
        ({"customer": ""}, "field 'customer' must be a non-empty string"),
        ({"license_id": 7}, "field 'license_id' must be a non-empty string, got 7"),
        ({"issued": "2026-13-01"}, "field 'issued' must be a date written YYYY-MM-DD"),
        ({"issued": "15.01.2026"}, "field 'issued' must be a date written YYYY-MM-DD"),
        ({"expires": "20270131"}, "field 'expires' must be a date written YYYY-MM-DD"),
        ({"expires": "2025-12-31"}, r"field 'expires' \(2025-12-31\) is before field 'issued'"),
        ({"limits": [100]}, "field 'limits' must be an object"),
        ({"limits": {"meters": 100}}, "field 'limits': unknown limit 'meters'; known limits"),
        (
            {"limits": {"virtual_meters": -1}},
            "field 'limits': 'virtual_meters' must not be negative, got -1",
        ),
        (
            {"limits": {"virtual_meters": "100"}},
            "field 'limits': 'virtual_meters' must be a whole number",
        ),
        (
            {"limits": {"virtual_meters": 1.5}},
            "field 'limits': 'virtual_meters' must be a whole number",
        ),
        ({"limits": {"named_users": True}}, "field 'limits': 'named_users' must be a whole number"),
        ({"features": "tariffs"}, "field 'features' must be a list of strings"),
        ({"features": ["tariffs", ""]}, "field 'features': entry 2 must be a non-empty string"),
        (
            {"features": ["export csv"]},
            "field 'features': entry 1 must be a non-empty string without spaces",
        ),
    ],
)
def test_malformed_payload_refused(
    write_raw: WriteRaw,
    keys: KeyPair,
    payload: dict[str, Any],
    change: dict[str, Any],
    reason: str,
) -> None:
    for name, value in change.items():
        if value is None and name != "expires":
            del payload[name]
        else:
            payload[name] = value
    path = write_raw(payload)
    with pytest.raises(LicenseError, match=rf"^license file .*license\.json: {reason}"):
        load_license(path, keys.public, today=TODAY)
    # sign_license applies the same rules.
    with pytest.raises(LicenseError, match=rf"^invalid license payload: {reason}"):
        sign_license(payload, keys.private)


def test_payload_not_an_object_refused(write_raw: WriteRaw, keys: KeyPair) -> None:
    with pytest.raises(LicenseError, match="payload must be an object"):
        sign_license([], keys.private)  # type: ignore[arg-type]


# -- keys -------------------------------------------------------------------------------------


def test_bad_public_key_refused(
    tmp_path: Path, keys: KeyPair, other_keys: KeyPair, payload: dict[str, Any]
) -> None:
    path = signed_file(tmp_path, payload, keys)
    with pytest.raises(LicenseError, match=r"public key file .*nope\.pem cannot be read"):
        load_license(path, tmp_path / "nope.pem")
    with pytest.raises(LicenseError, match="is not a PEM public key"):
        load_license(path, path)
    # A private key where a public key belongs.
    with pytest.raises(LicenseError, match="is not a PEM public key"):
        load_license(path, other_keys.private)


def test_pem_text_instead_of_a_path_is_explained(
    tmp_path: Path, keys: KeyPair, payload: dict[str, Any]
) -> None:
    """license_public_key takes a path; the key's text in its place gets a message saying so."""
    pem = keys.public.read_text(encoding="utf-8")
    with pytest.raises(LicenseError) as caught:
        load_license(signed_file(tmp_path, payload, keys), Path(pem), today=TODAY)
    assert str(caught.value) == (
        "license_public_key takes the path of a PEM file, not the key itself: put the key in a "
        "file and give the file's path"
    )


def test_bad_private_key_refused(keys: KeyPair, payload: dict[str, Any]) -> None:
    with pytest.raises(LicenseError, match="is not a PEM private key"):
        sign_license(payload, keys.public)


def test_encrypted_private_key_refused(tmp_path: Path, payload: dict[str, Any]) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = tmp_path / "encrypted.pem"
    path.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    with pytest.raises(LicenseError, match="is encrypted"):
        sign_license(payload, path)


def test_non_ed25519_key_refused(tmp_path: Path, payload: dict[str, Any]) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    path = tmp_path / "ec.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(LicenseError, match="is not an Ed25519 private key"):
        sign_license(payload, path)


def test_generate_keypair(tmp_path: Path) -> None:
    private, public = tmp_path / "k.pem", tmp_path / "k.pub.pem"
    generate_keypair(private, public)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in private.read_bytes()
    assert b"PUBLIC KEY" in public.read_bytes()
    before = private.read_bytes(), public.read_bytes()
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        generate_keypair(private, tmp_path / "new.pub.pem")
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        generate_keypair(tmp_path / "new.pem", public)
    assert (private.read_bytes(), public.read_bytes()) == before
    assert not (tmp_path / "new.pem").exists() and not (tmp_path / "new.pub.pem").exists()


def test_sign_accepts_date_objects(tmp_path: Path, keys: KeyPair, payload: dict[str, Any]) -> None:
    payload.update(issued=date(2026, 1, 15), expires=date(2027, 1, 31))
    license_ = load_license(signed_file(tmp_path, payload, keys), keys.public, today=TODAY)
    assert (license_.issued, license_.expires) == (date(2026, 1, 15), date(2027, 1, 31))
