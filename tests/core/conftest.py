"""Fixtures of the core's tests: the plugin host fixtures, settings kept from the developer's."""

from pluginhost_fixtures import (  # noqa: F401 - fixtures are found by name
    _isolated_settings,
    fake_dist,
    make_settings,
    stub_license,
)
