"""Who sent this request: bearer token or login cookie, checked once per request."""

from __future__ import annotations

import hashlib
import hmac
import threading
from datetime import datetime, timedelta

from flask import current_app, g, request
from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from meterhub.access import AccessContext, context_for_user
from meterhub.errors import AuthenticationRequired, PermissionDenied
from meterhub.inventory.tokens import API_TOKEN_PREFIX, digest, find_login_session
from meterhub.model.audit import AuditLog
from meterhub.model.roles import Role, UserRole
from meterhub.model.tokens import ApiToken, ApiTokenRole
from meterhub.model.types import utcnow
from meterhub.model.users import AppUser
from meterhub.webapi.state import current_runtime

#: The login cookie (HttpOnly) and the cookie the browser's script reads the CSRF token from.
SESSION_COOKIE = "meterhub_session"
CSRF_COOKIE = "meterhub_csrf"
#: The header that carries the CSRF token on requests that change something.
CSRF_HEADER = "X-CSRF-Token"
#: Methods that change nothing (no CSRF token needed).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Where the app keeps its :class:`ContextCache`.
CACHE_KEY = "meterhub.access_cache"
#: How often a token's ``last_used_at`` is written at most.
LAST_USED_RESOLUTION = timedelta(minutes=1)

_USER_LOADING = (
    selectinload(AppUser.role_links).joinedload(UserRole.role).selectinload(Role.permission_rows),
    selectinload(AppUser.role_links).joinedload(UserRole.role).selectinload(Role.function_rows),
    selectinload(AppUser.segment_links),
)


def csrf_token(session_token: str) -> str:
    """The CSRF token that goes with a login cookie (derived from it; stored nowhere)."""
    return hashlib.sha256(f"meterhub-csrf:{session_token}".encode()).hexdigest()


def request_session() -> Session:
    """The database session of this request (closed, rolled back if not committed, at its end).

    The audit log records the acting user of the request for every change made through it.
    """
    session = g.get("db_session")
    if session is None:
        session = current_runtime().sessions()
        g.db_session = session
        access = g.get("access")
        session.info["user"] = access.username if access is not None else "anonymous"
    return session


def close_request_session(_error: BaseException | None = None) -> None:
    """Teardown: roll back what was not committed and give the connection back."""
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def current_access() -> AccessContext:
    """The access context of the request; :class:`AuthenticationRequired` without a login."""
    access = g.get("access")
    if access is None:
        raise AuthenticationRequired("log in or send a bearer token")
    return access


def optional_access() -> AccessContext | None:
    """The access context of the request, or ``None`` when it came without credentials."""
    return g.get("access")


#: Token contexts kept per process (the oldest are dropped beyond this many).
CONTEXT_CACHE_SIZE = 1000


class ContextCache:
    """The access contexts of recently seen tokens, by token digest, in one process.

    A cached context is used only while nothing was audited since it was built: every change
    of users, roles, permissions, segment grants and tokens writes the audit log, so
    ``max(audit_log.id)`` — read with the token's validity in one query on every request —
    tells when to build it again. Revoking a token or disabling a user therefore applies at the
    next request in every process.
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[int, AccessContext]] = {}
        self._lock = threading.Lock()

    def get(self, key: str, stamp: int) -> AccessContext | None:
        """The context cached for ``key`` at audit stamp ``stamp``, if any."""
        entry = self._entries.get(key)
        return entry[1] if entry is not None and entry[0] == stamp else None

    def put(self, key: str, stamp: int, access: AccessContext) -> None:
        """Remember ``access`` for ``key`` at ``stamp``."""
        with self._lock:  # the server's threads share the cache
            if len(self._entries) >= CONTEXT_CACHE_SIZE:
                self._entries.pop(next(iter(self._entries)), None)
            self._entries[key] = (stamp, access)


_VALIDITY = select(
    ApiToken.revoked_at,
    ApiToken.expires_at,
    ApiToken.last_used_at,
    AppUser.enabled,
    select(func.max(AuditLog.id)).scalar_subquery(),
).join(AppUser, AppUser.id == ApiToken.user_id)


def _from_token(session: Session, plain: str) -> AccessContext:
    if not plain.startswith(API_TOKEN_PREFIX):
        raise AuthenticationRequired("the bearer token is not a MeterHub API token")
    key = digest(plain)
    row = session.execute(_VALIDITY.where(ApiToken.token_digest == key)).first()
    now = utcnow()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise AuthenticationRequired("the token is unknown, expired or revoked")
    if not row.enabled:
        raise AuthenticationRequired("the token's user is disabled")
    stamp = int(row[4] or 0)
    cache: ContextCache = current_app.extensions[CACHE_KEY]
    cached = cache.get(key, stamp)
    if cached is not None and (
        row.last_used_at is not None and now - row.last_used_at < LAST_USED_RESOLUTION
    ):
        return cached
    access = _load_token_context(session, key, now)
    cache.put(key, stamp, access)
    return access


def _load_token_context(session: Session, key: str, now: datetime) -> AccessContext:
    token = session.scalar(
        select(ApiToken)
        .where(ApiToken.token_digest == key)
        .options(
            joinedload(ApiToken.user).options(*_USER_LOADING),
            selectinload(ApiToken.role_links).joinedload(ApiTokenRole.role),
        )
    )
    if token is None or token.revoked_at is not None or token.expires_at <= now:
        raise AuthenticationRequired("the token is unknown, expired or revoked")
    user = token.user
    if not user.enabled:
        raise AuthenticationRequired("the token's user is disabled")
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        token.last_used_at = now
        session.commit()
    roles = token.roles or None
    return context_for_user(user, roles=roles, via="token", token_id=token.id)


def _from_cookie(session: Session, plain: str) -> AccessContext:
    login = find_login_session(session, plain)
    if login is None:
        raise AuthenticationRequired("the login has ended: log in again")
    user = session.scalar(
        select(AppUser).where(AppUser.id == login.user_id).options(*_USER_LOADING)
    )
    if user is None or not user.enabled:
        raise AuthenticationRequired("the account is disabled")
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), csrf_token(plain).encode()):
            raise PermissionDenied(
                f"a request with the login cookie that changes something needs the "
                f"{CSRF_HEADER} header (the value of the {CSRF_COOKIE} cookie)"
            )
    session.commit()  # the idle end may have moved on
    return context_for_user(user, via="session", password_change_only=login.password_change_only)


def authenticate() -> AccessContext | None:
    """The access context of the request's credentials; ``None`` when it carries none.

    Credentials that are present but wrong raise :class:`AuthenticationRequired`.
    """
    header = request.headers.get("Authorization")
    session = request_session()
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise AuthenticationRequired("use 'Authorization: Bearer <token>'")
        return _from_token(session, value.strip())
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return _from_cookie(session, cookie)
    return None


def set_login_cookies(response: object, plain: str, max_age: int) -> None:
    """Put the login cookie (HttpOnly) and its CSRF token (readable by the page) on a response."""
    secure = bool(current_app.config.get("METERHUB_SECURE_COOKIES", True))
    response.set_cookie(  # type: ignore[attr-defined]
        SESSION_COOKIE,
        plain,
        max_age=max_age,
        httponly=True,
        secure=secure,
        samesite="Strict",
        path="/",
    )
    response.set_cookie(  # type: ignore[attr-defined]
        CSRF_COOKIE,
        csrf_token(plain),
        max_age=max_age,
        httponly=False,
        secure=secure,
        samesite="Strict",
        path="/",
    )


def clear_login_cookies(response: object) -> None:
    """Remove the login cookies (logout)."""
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(name, path="/")  # type: ignore[attr-defined]
