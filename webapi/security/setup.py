"""Wiring of authentication, error answers and security headers into the application."""

from __future__ import annotations

from flask import Flask, Response, g, redirect, request, url_for

from meterhub.errors import (
    AuthenticationRequired,
    ConfigurationError,
    Conflict,
    FeatureNotLicensed,
    InvalidValue,
    LicenseLimitExceeded,
    NotFound,
    NotYetAvailable,
    PermissionDenied,
    TooManyAttempts,
)
from meterhub.webapi.extensions import is_public, problem_response
from meterhub.webapi.security.authentication import (
    authenticate,
    close_request_session,
    request_session,
)

#: The content security policy of every page and answer: nothing from elsewhere, no inline
#: scripts, no framing.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'; object-src 'none'"
)
#: The interactive API documentation's stylesheet sets inline styles.
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")

#: Paths anyone may fetch without a login (beside views marked public).
OPEN_PREFIXES = ("/static/", "/api/docs", "/api/openapi.json", "/login")
#: Exact paths without a login: the Prometheus metrics (their own bearer token, the setting
#: ``metrics_token``, when set; :mod:`meterhub.webapi.metrics.views`).
OPEN_PATHS = frozenset({"/metrics"})


def _authenticate_request() -> Response | None:
    path = request.path
    g.access = None
    if path.startswith(OPEN_PREFIXES) or path in OPEN_PATHS:
        return None
    public = is_public_request()
    try:
        g.access = authenticate()
    except (AuthenticationRequired, PermissionDenied):
        if public:  # a stale cookie must not stand in the way of the login itself
            return None
        if not path.startswith("/api/") and request.method == "GET":
            return redirect(url_for("ui.login_page"))
        raise
    if g.access is not None:
        request_session().info["user"] = g.access.username
    elif not public:
        if path.startswith("/api/"):
            raise AuthenticationRequired("log in or send a bearer token")
        return redirect(url_for("ui.login_page"))
    return None


def is_public_request() -> bool:
    """Whether the view this request goes to needs no login."""
    from flask import current_app

    return is_public(current_app, request.endpoint) or request.endpoint is None


def _security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault(
        "Content-Security-Policy", DOCS_CSP if request.path.startswith("/api/docs") else CSP
    )
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if request.path.startswith("/api/") and not request.path.startswith("/api/docs"):
        headers.setdefault("Cache-Control", "no-store")
    return response


def _errors(app: Flask) -> None:
    @app.errorhandler(InvalidValue)
    def invalid(error: InvalidValue) -> Response:
        return problem_response(
            422, str(error), errors=[{"field": error.field, "reason": error.reason}]
        )

    @app.errorhandler(Conflict)
    def conflict(error: Conflict) -> Response:
        return problem_response(
            409, str(error), errors=[{"field": error.field, "reason": error.reason}]
        )

    @app.errorhandler(LicenseLimitExceeded)
    def over_limit(error: LicenseLimitExceeded) -> Response:
        return problem_response(409, str(error))

    @app.errorhandler(NotFound)
    def not_found(error: NotFound) -> Response:
        return problem_response(404, str(error))

    @app.errorhandler(AuthenticationRequired)
    def unauthenticated(error: AuthenticationRequired) -> Response:
        return problem_response(401, str(error), headers={"WWW-Authenticate": "Bearer"})

    @app.errorhandler(PermissionDenied)
    def forbidden(error: PermissionDenied) -> Response:
        return problem_response(403, str(error))

    @app.errorhandler(FeatureNotLicensed)
    def unlicensed(error: FeatureNotLicensed) -> Response:
        return problem_response(403, str(error))

    @app.errorhandler(TooManyAttempts)
    def throttled(error: TooManyAttempts) -> Response:
        return problem_response(429, str(error), headers={"Retry-After": str(error.retry_after)})

    @app.errorhandler(NotYetAvailable)
    def later(error: NotYetAvailable) -> Response:
        return problem_response(501, str(error))

    @app.errorhandler(ConfigurationError)
    def misconfigured(error: ConfigurationError) -> Response:
        return problem_response(503, str(error))


def init_security(app: Flask) -> None:
    """Authenticate every request, answer errors as problems, add the security headers."""
    app.before_request(_authenticate_request)
    app.after_request(_security_headers)
    app.teardown_request(close_request_session)
    _errors(app)
