"""API tokens and browser login sessions: issue, look up by the presented secret, revoke, end.

A token is 32 random bytes (URL-safe base64, prefixed ``mh_`` for API tokens); only its SHA-256
digest is stored, so the plain token is returned once, at creation, and never again. SHA-256
rather than argon2: the token has 256 bits of entropy, so a slow hash adds nothing but latency
to every request. An API token expires (at most ``token.max_days``, a system parameter) and can
be limited to some of its user's roles; revoking it takes effect at the next request.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterhub.errors import InvalidValue
from meterhub.inventory.common import check_instant, check_name, flush, in_session
from meterhub.inventory.parameters import get_parameter
from meterhub.model.roles import Role
from meterhub.model.tokens import ApiToken, ApiTokenRole, LoginSession
from meterhub.model.types import utcnow
from meterhub.model.users import AppUser

__all__ = [
    "API_TOKEN_PREFIX",
    "create_login_session",
    "create_token",
    "digest",
    "end_login_session",
    "find_login_session",
    "find_token",
    "revoke_token",
]

#: What every API token starts with (so secret scanners and people recognise one).
API_TOKEN_PREFIX = "mh_"

#: Random bytes in a token.
TOKEN_BYTES = 32


def digest(token: str) -> str:
    """The SHA-256 digest (hex) under which a token is stored."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_secret(prefix: str = "") -> str:
    """A new high-entropy token: ``prefix`` and 32 random bytes, URL-safe base64."""
    return prefix + secrets.token_urlsafe(TOKEN_BYTES)


def create_token(
    session: Session,
    user: AppUser,
    name: str,
    *,
    expires_at: datetime | None = None,
    roles: Sequence[Role] = (),
    now: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Issue an API token for ``user``; returns the stored record and the plain token.

    ``expires_at`` defaults to the longest validity allowed (``token.max_days``) and may not lie
    beyond it. ``roles`` limits the token to some of the user's roles (empty: all of them);
    a role the user does not hold is refused.
    """
    user = in_session(session, user, "user", AppUser)
    name = check_name(name, max_length=100)
    now = now or utcnow()
    longest = now + timedelta(days=int(get_parameter(session, "token.max_days")))
    if expires_at is None:
        expires_at = longest
    expires_at = check_instant(expires_at, field="expires_at")
    if expires_at <= now:
        raise InvalidValue("expires_at", "must lie in the future")
    if expires_at > longest:
        raise InvalidValue(
            "expires_at", f"must be at most {(longest - now).days} days ahead (token.max_days)"
        )
    held = {link.role_id for link in user.role_links}
    scoped: list[Role] = []
    for position, role in enumerate(roles):
        role = in_session(session, role, f"roles[{position}]", Role)
        if role.id not in held:
            raise InvalidValue(
                f"roles[{position}]", f"user {user.username!r} does not hold role {role.name!r}"
            )
        scoped.append(role)
    plain = new_secret(API_TOKEN_PREFIX)
    token = ApiToken(
        user=user,
        name=name,
        token_digest=digest(plain),
        prefix=plain[:10],
        created_at=now,
        expires_at=expires_at,
    )
    session.add(token)
    for role in scoped:
        token.role_links.append(ApiTokenRole(role=role))
    flush(session, field="name")
    return token, plain


def find_token(session: Session, plain: str, *, now: datetime | None = None) -> ApiToken | None:
    """The valid (not revoked, not expired) token whose secret is ``plain``, else ``None``."""
    if not isinstance(plain, str) or not plain.startswith(API_TOKEN_PREFIX):
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.token_digest == digest(plain)))
    now = now or utcnow()
    if token is None or token.revoked_at is not None or token.expires_at <= now:
        return None
    return token


def revoke_token(session: Session, token: ApiToken) -> ApiToken:
    """Revoke ``token`` at once; revoking twice keeps the first time."""
    token = in_session(session, token, "token", ApiToken)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        flush(session, field="token")
    return token


def create_login_session(
    session: Session,
    user: AppUser,
    *,
    password_change_only: bool = False,
    now: datetime | None = None,
) -> tuple[LoginSession, str]:
    """Start a browser login for ``user``; returns the record and the cookie's plain token.

    It ends after ``session.idle_minutes`` without requests, or after ``session.max_hours``.
    """
    user = in_session(session, user, "user", AppUser)
    now = now or utcnow()
    idle = timedelta(minutes=int(get_parameter(session, "session.idle_minutes")))
    longest = timedelta(hours=int(get_parameter(session, "session.max_hours")))
    plain = new_secret()
    login = LoginSession(
        user=user,
        token_digest=digest(plain),
        created_at=now,
        idle_until=min(now + idle, now + longest),
        ends_at=now + longest,
        password_change_only=password_change_only,
    )
    session.add(login)
    flush(session, field="session")
    return login, plain


def find_login_session(
    session: Session, plain: str, *, now: datetime | None = None
) -> LoginSession | None:
    """The running login whose cookie token is ``plain`` (moved on by this request), or ``None``.

    The idle end is moved on by at most one write a minute, so a busy browser does not write
    on every request.
    """
    if not isinstance(plain, str) or not plain:
        return None
    login = session.scalar(select(LoginSession).where(LoginSession.token_digest == digest(plain)))
    now = now or utcnow()
    if login is None or login.idle_until <= now or login.ends_at <= now:
        return None
    idle = timedelta(minutes=int(get_parameter(session, "session.idle_minutes")))
    wanted = min(now + idle, login.ends_at)
    if wanted - login.idle_until >= timedelta(minutes=1):
        login.idle_until = wanted
        session.flush()
    return login


def end_login_session(session: Session, login: LoginSession) -> None:
    """End a browser login (logout)."""
    login = in_session(session, login, "session", LoginSession)
    session.delete(login)
    session.flush()


def end_user_sessions(session: Session, user: AppUser) -> int:
    """End every browser login of ``user`` (password reset, disabling); returns how many."""
    logins = list(session.scalars(select(LoginSession).where(LoginSession.user_id == user.id)))
    for login in logins:
        session.delete(login)
    session.flush()
    return len(logins)
