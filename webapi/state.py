"""Access to the :class:`meterhub.runtime.Runtime` of the current Flask application."""

from __future__ import annotations

from flask import current_app

from meterhub.access.throttle import LoginThrottle
from meterhub.runtime import Runtime

EXTENSION_KEY = "meterhub"
THROTTLE_KEY = "meterhub.throttle"


def current_runtime() -> Runtime:
    """The runtime the app factory stored in ``app.extensions``."""
    return current_app.extensions[EXTENSION_KEY]


def current_throttle() -> LoginThrottle:
    """The login throttle of this application (one per process)."""
    return current_app.extensions[THROTTLE_KEY]
