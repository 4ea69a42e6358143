"""Authentication of requests, CSRF protection of the login cookie, and security headers.

Every request under ``/api/`` (and the web UI's pages) is authenticated here, once, before its
view runs: a bearer token (``Authorization: Bearer mh_...``) or the login cookie
(``meterhub_session``). A request with the cookie that changes something (POST, PUT, PATCH,
DELETE) must also send the cookie's CSRF token in ``X-CSRF-Token``. The resulting
:class:`~meterhub.access.AccessContext` is :func:`current_access`; views marked public
(:meth:`meterhub.webapi.extensions.Blueprint.public`) run without one.
"""

from meterhub.webapi.security.authentication import (
    CSRF_COOKIE,
    CSRF_HEADER,
    SESSION_COOKIE,
    current_access,
    optional_access,
    request_session,
)
from meterhub.webapi.security.setup import init_security

__all__ = [
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "current_access",
    "init_security",
    "optional_access",
    "request_session",
]
