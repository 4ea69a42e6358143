"""What one ``meterhub`` command run shares: the ``--debug`` switch, the settings, the runtime.

Nothing is read or built before a command asks for it: ``meterhub --help`` and ``--version`` read
no settings, open no database and load no plugin (so they log nothing). The settings are read on
first use, which also sets the log level; the runtime (license, database, plugins) is built on
first use, checked against the schema, and closed when the command ends.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from meterhub.config import Settings
    from meterhub.runtime import Runtime

__all__ = ["CliState", "current_state"]


class CliState:
    """The state of one command run, kept in the root click context's ``obj``."""

    def __init__(self, *, debug: bool = False) -> None:
        self.debug = debug
        self._settings: Settings | None = None
        self._runtime: Runtime | None = None

    def settings(self, **overrides: Any) -> Settings:
        """The settings, read on first use (``overrides`` apply to that first read only)."""
        from meterhub.config import load_settings

        if self._settings is None:
            self._settings = load_settings(**overrides)
            logging.getLogger().setLevel(self._settings.log_level)
        return self._settings

    @property
    def database_url(self) -> str | None:
        """The database URL of the settings read so far, or ``None`` before they are read."""
        return self._settings.effective_database_url if self._settings is not None else None

    def runtime(self, *, require_schema: bool = True) -> Runtime:
        """The runtime (license, database, plugins), built on first use, without the web app.

        With ``require_schema`` a database that ``meterhub init`` has not brought up to this
        release is refused with a :class:`~meterhub.errors.ConfigurationError`. The runtime is
        closed when the command ends.
        """
        from meterhub.db import require_current_schema
        from meterhub.runtime import build_runtime

        if self._runtime is None:
            runtime = build_runtime(self.settings(), require_schema=require_schema)
            click.get_current_context().find_root().call_on_close(runtime.close)
            self._runtime = runtime
        elif require_schema:
            require_current_schema(self._runtime.engine)
        return self._runtime


def current_state() -> CliState:
    """The state of the running command (created when a command runs outside the group)."""
    root = click.get_current_context().find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj
