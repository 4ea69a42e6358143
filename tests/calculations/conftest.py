"""Fixtures of the VEE tests (see ``tests/vee_fixtures.py``)."""

from vee_fixtures import fleet, runtime  # noqa: F401 - fixtures are found by name
