"""Fixtures of the license tests (kept in ``tests/license_fixtures.py``, shared with tests/cli)."""

from license_fixtures import (  # noqa: F401 - fixtures are found by name
    KeyPair,
    keys,
    other_keys,
    payload,
    write_raw,
)
