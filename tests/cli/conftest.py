"""Fixtures of the command-line tests: the installed ``meterhub`` script in a clean environment,
the plugin host fixtures, and a license signing key pair."""

from license_fixtures import KeyPair, keys, payload  # noqa: F401 - fixtures are found by name
from pluginhost_fixtures import (  # noqa: F401 - fixtures are found by name
    _isolated_settings,
    fake_dist,
    make_settings,
    stub_license,
)
from script_fixtures import (  # noqa: F401 - fixtures are found by name
    cli_env,
    meterhub,
    meterhub_here,
)
