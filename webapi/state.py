"""Access to the :class:`meterhub.runtime.Runtime` of the current Flask application."""

from __future__ import annotations

from flask import current_app

from meterhub.runtime import Runtime

EXTENSION_KEY = "meterhub"


def current_runtime() -> Runtime:
    """The runtime the app factory stored in ``app.extensions``."""
    return current_app.extensions[EXTENSION_KEY]
