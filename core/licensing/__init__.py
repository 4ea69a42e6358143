"""Licensing: the signed license file that names the customer, expiry, limits and features.

Without a license file MeterHub runs on :func:`development_license`, which enables every
feature within small limits (:data:`DEVELOPMENT_LIMITS`: 50 virtual meters, 5 named users), so
removing the file from a production system never lifts its limits. With one,
:func:`load_license` verifies its Ed25519 signature (with the vendor key shipped in this package
unless the ``license_public_key`` setting names another public key file) and refuses a changed,
expired, not yet issued or malformed file with a :class:`~meterhub.errors.LicenseError`. The
vendor creates keys with :func:`generate_keypair` and licenses with :func:`sign_license` (or
``meterhub license keygen`` / ``meterhub license sign``).
"""

from meterhub.licensing.fileformat import (
    LICENSE_FORMAT,
    PAYLOAD_FIELDS,
    canonical_payload_bytes,
    load_license,
    sign_license,
)
from meterhub.licensing.keys import generate_keypair
from meterhub.licensing.model import (
    ALL_FEATURES,
    DEVELOPMENT_CUSTOMER,
    DEVELOPMENT_LIMITS,
    KNOWN_LIMITS,
    License,
    development_license,
)

__all__ = [
    "ALL_FEATURES",
    "DEVELOPMENT_CUSTOMER",
    "DEVELOPMENT_LIMITS",
    "KNOWN_LIMITS",
    "LICENSE_FORMAT",
    "PAYLOAD_FIELDS",
    "License",
    "canonical_payload_bytes",
    "development_license",
    "generate_keypair",
    "load_license",
    "sign_license",
]
