"""The signed license file: reading and verifying it, and signing a new one.

A license file is UTF-8 JSON::

    {
      "format": "meterhub-license/1",
      "payload": {
        "customer": "Acme Energy",
        "license_id": "L-2026-001",
        "issued": "2026-01-15",
        "expires": "2027-01-31",
        "limits": {"virtual_meters": 100, "named_users": 5},
        "features": ["driver:*", "export:csv", "tariffs"]
      },
      "signature": "<base64 of the Ed25519 signature>"
    }

The signature covers the *canonical JSON* of ``payload``: keys sorted, separators ``","`` and
``":"``, no whitespace, non-ASCII characters unescaped, encoded as UTF-8. ``expires`` is the last
valid day, or ``null`` for a license that never expires; a limit that ``limits`` does not name is
unlimited. The signature is checked before any field, so a changed file is reported as changed.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature

from meterhub.errors import LicenseError
from meterhub.licensing.keys import load_private_key, load_public_key
from meterhub.licensing.model import KNOWN_LIMITS, License, development_license

#: The ``format`` marker of the file format this module reads and writes.
LICENSE_FORMAT = "meterhub-license/1"

#: The fields of a payload, all required (``expires`` may be ``null``).
PAYLOAD_FIELDS = ("customer", "license_id", "issued", "expires", "limits", "features")

_TOP_LEVEL_KEYS = ("format", "payload", "signature")
_SIGNATURE_BYTES = 64
#: A license file is a few hundred bytes; anything this large is not one.
_MAX_FILE_BYTES = 1024 * 1024
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class _Refused(Exception):
    """Why a license file or payload is refused; the caller adds where it came from."""


@dataclass(frozen=True)
class _Terms:
    """The checked fields of a payload."""

    customer: str
    license_id: str
    issued: date
    expires: date | None
    limits: dict[str, int]
    features: frozenset[str]

    def to_payload(self) -> dict[str, Any]:
        """The payload in its normalized JSON form (ISO dates, sorted features)."""
        return {
            "customer": self.customer,
            "license_id": self.license_id,
            "issued": self.issued.isoformat(),
            "expires": self.expires.isoformat() if self.expires else None,
            "limits": dict(sorted(self.limits.items())),
            "features": sorted(self.features),
        }


def canonical_payload_bytes(payload: Mapping[str, Any]) -> bytes:
    """The exact bytes the signature covers: the canonical JSON of ``payload`` as UTF-8."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


# -- payload fields -------------------------------------------------------------------------


def _text_field(payload: Mapping[str, Any], name: str) -> str:
    value = payload[name]
    if not isinstance(value, str) or not value.strip():
        raise _Refused(f"field {name!r} must be a non-empty string, got {value!r}")
    return value


def _date_field(payload: Mapping[str, Any], name: str, *, accept_dates: bool) -> date:
    value = payload[name]
    if accept_dates and isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise _Refused(f"field {name!r} must be a date written YYYY-MM-DD, got {value!r}")


def _limits_field(payload: Mapping[str, Any]) -> dict[str, int]:
    value = payload["limits"]
    if not isinstance(value, Mapping):
        raise _Refused(f"field 'limits' must be an object of limit names to numbers, got {value!r}")
    limits: dict[str, int] = {}
    for name, allowed in value.items():
        if name not in KNOWN_LIMITS:
            known = ", ".join(sorted(KNOWN_LIMITS))
            raise _Refused(f"field 'limits': unknown limit {name!r}; known limits: {known}")
        if not isinstance(allowed, int) or isinstance(allowed, bool):
            raise _Refused(f"field 'limits': {name!r} must be a whole number, got {allowed!r}")
        if allowed < 0:
            raise _Refused(f"field 'limits': {name!r} must not be negative, got {allowed}")
        limits[name] = allowed
    return limits


def _features_field(payload: Mapping[str, Any]) -> frozenset[str]:
    value = payload["features"]
    if not isinstance(value, list | tuple | set | frozenset):
        raise _Refused(f"field 'features' must be a list of strings, got {value!r}")
    features = []
    for position, entry in enumerate(value, start=1):
        if not isinstance(entry, str) or not entry or any(c.isspace() for c in entry):
            raise _Refused(
                f"field 'features': entry {position} must be a non-empty string without "
                f"spaces, got {entry!r}"
            )
        features.append(entry)
    return frozenset(features)


def _parse_payload(payload: Any, *, accept_dates: bool = False) -> _Terms:
    """Check every field of ``payload``; ``accept_dates`` lets dates be :class:`date` objects."""
    if not isinstance(payload, Mapping):
        raise _Refused(f"the payload must be an object with the fields {', '.join(PAYLOAD_FIELDS)}")
    missing = [name for name in PAYLOAD_FIELDS if name not in payload]
    if missing:
        names = ", ".join(repr(name) for name in missing)
        raise _Refused(f"missing field{'s' if len(missing) > 1 else ''} {names}")
    unknown = sorted(str(name) for name in payload if name not in PAYLOAD_FIELDS)
    if unknown:
        names = ", ".join(repr(name) for name in unknown)
        raise _Refused(
            f"unknown field{'s' if len(unknown) > 1 else ''} {names}; "
            f"the fields are {', '.join(PAYLOAD_FIELDS)}"
        )
    issued = _date_field(payload, "issued", accept_dates=accept_dates)
    expires = None
    if payload["expires"] is not None:
        expires = _date_field(payload, "expires", accept_dates=accept_dates)
        if expires < issued:
            raise _Refused(f"field 'expires' ({expires}) is before field 'issued' ({issued})")
    return _Terms(
        customer=_text_field(payload, "customer"),
        license_id=_text_field(payload, "license_id"),
        issued=issued,
        expires=expires,
        limits=_limits_field(payload),
        features=_features_field(payload),
    )


# -- the file -------------------------------------------------------------------------------


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Refused(f"the key {key!r} appears twice in one object")
        result[key] = value
    return result


def _read_document(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as stream:
            data = stream.read(_MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise _Refused(f"cannot be read: {exc.strerror or exc}") from exc
    if len(data) > _MAX_FILE_BYTES:
        raise _Refused("is larger than 1 MiB, so it is not a license file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Refused("is not UTF-8 text, so it is not a license file") from exc
    try:
        document = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise _Refused(f"is not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from exc
    if not isinstance(document, dict):
        raise _Refused(
            "is not a license file: expected a JSON object with format, payload, signature"
        )
    return document


def _check_envelope(document: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """Check the format marker and return the payload and the decoded signature."""
    marker = document.get("format")
    if marker is None:
        raise _Refused(f"has no 'format' marker; expected {LICENSE_FORMAT!r}")
    if marker != LICENSE_FORMAT:
        raise _Refused(f"has format {marker!r}; this MeterHub reads {LICENSE_FORMAT!r}")
    unknown = sorted(key for key in document if key not in _TOP_LEVEL_KEYS)
    if unknown:
        raise _Refused(
            f"unknown top-level key {unknown[0]!r}; the keys are format, payload, signature"
        )
    for key in ("payload", "signature"):
        if key not in document:
            raise _Refused(f"missing {key!r}")
    payload = document["payload"]
    if not isinstance(payload, dict):
        raise _Refused(f"'payload' must be an object, got {type(payload).__name__}")
    encoded = document["signature"]
    if not isinstance(encoded, str):
        raise _Refused(f"'signature' must be a base64 string, got {type(encoded).__name__}")
    try:
        signature = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _Refused("'signature' is not valid base64") from exc
    if len(signature) != _SIGNATURE_BYTES:
        raise _Refused(
            f"'signature' has {len(signature)} bytes; an Ed25519 signature has {_SIGNATURE_BYTES}"
        )
    return payload, signature


def load_license(
    path: Path | None,
    public_key_path: Path | None = None,
    *,
    today: date | None = None,
) -> License:
    """Read and verify the license file ``path``; ``None`` gives :func:`development_license`.

    The signature is checked with the Ed25519 public key in the PEM file ``public_key_path``, or
    with the vendor key shipped in this package when it is ``None``. ``today`` (default: the
    current date) decides whether the license has expired, and whether its issue date is still
    to come: a license issued after today is refused (a clock set back to keep an expired
    license alive shows this way). Without ``today``, the issue date may be today's date in UTC
    or locally, whichever is later, so a license signed today anywhere on earth loads. Any
    problem raises :class:`~meterhub.errors.LicenseError` naming the file and the reason.
    """
    if path is None:
        return development_license()
    path = Path(path)
    public_key = load_public_key(public_key_path)
    try:
        payload, signature = _check_envelope(_read_document(path))
        try:
            public_key.verify(signature, canonical_payload_bytes(payload))
        except InvalidSignature:
            raise _Refused(
                "signature does not match: the file was changed after signing or signed by "
                "another key"
            ) from None
        terms = _parse_payload(payload)
        latest_today = today or max(date.today(), datetime.now(UTC).date())
        if terms.issued > latest_today:
            raise _Refused(
                f"issued on {terms.issued.isoformat()}, a day still to come (today is "
                f"{latest_today.isoformat()}): the system clock is wrong, or the license is not "
                "valid yet"
            )
        if terms.expires is not None and (today or date.today()) > terms.expires:
            raise _Refused(f"expired on {terms.expires.isoformat()}")
    except _Refused as exc:
        raise LicenseError(f"license file {path}: {exc}") from exc.__cause__
    return License(
        customer=terms.customer,
        license_id=terms.license_id,
        issued=terms.issued,
        expires=terms.expires,
        limits=terms.limits,
        features=terms.features,
        development=False,
        source=path,
    )


def sign_license(payload: Mapping[str, Any], private_key_path: Path) -> str:
    """Check ``payload`` like :func:`load_license` does, sign it, return the file's text.

    ``payload`` has the fields of :data:`PAYLOAD_FIELDS`; ``issued`` and ``expires`` may be ISO
    strings or :class:`~datetime.date` objects (as TOML gives them). The signed payload is the
    normalized form: ISO dates, features sorted and without duplicates. Problems with the
    payload or the key raise :class:`~meterhub.errors.LicenseError`.
    """
    try:
        terms = _parse_payload(payload, accept_dates=True)
    except _Refused as exc:
        raise LicenseError(f"invalid license payload: {exc}") from None
    private_key = load_private_key(private_key_path)
    normalized = terms.to_payload()
    signature = private_key.sign(canonical_payload_bytes(normalized))
    document = {
        "format": LICENSE_FORMAT,
        "payload": normalized,
        "signature": base64.b64encode(signature).decode("ascii"),
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
