"""Fixtures of the web commands' tests: the installed ``meterhub`` script in a clean environment."""

from script_fixtures import cli_env, meterhub  # noqa: F401 - fixtures are found by name
