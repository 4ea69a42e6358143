"""Logging in: password (or directory) check, lockout, password expiry, events in the audit log.

:func:`login` checks a user name and password and returns a :class:`LoginOutcome`; it never
raises for a wrong password, so the caller commits what the attempt changed (the failure count,
a lockout, the audit rows) and only then refuses the request. The steps:

1. the throttle (:mod:`meterhub.access.throttle`) refuses when too many attempts failed lately;
2. a **directory** user (or an unknown one, when a directory is configured) is checked by an LDAP
   bind (:mod:`meterhub.access.directory`); the local password policy does not apply to them;
3. a **local** user: a disabled or locked account is refused; a wrong password counts a
   failure, and ``password.max_failed_logins`` failures in a row lock the account
   (``lockout`` in the audit log); a right one resets the count;
4. an expired password still logs in, but the login may only change the password.

Every attempt writes ``login``, ``login_failed`` or ``login_refused`` to the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from argon2.exceptions import VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from meterhub.access.events import record_event
from meterhub.access.passwords import PasswordPolicy
from meterhub.access.throttle import LoginThrottle
from meterhub.inventory.parameters import get_parameter
from meterhub.inventory.users import PASSWORD_HASHER, _dummy_hash, verify_password
from meterhub.model.types import utcnow
from meterhub.model.users import AppUser

if TYPE_CHECKING:
    from meterhub.access.directory import Directory

#: What a refused login says, whatever the reason (so it tells no one which names exist).
WRONG_CREDENTIALS = "wrong user name or password"


@dataclass(frozen=True)
class LoginOutcome:
    """The result of one login attempt."""

    user: AppUser | None
    reason: str | None = None
    password_expired: bool = False
    password_warning_days: int | None = None

    @property
    def ok(self) -> bool:
        """Whether the user is logged in."""
        return self.user is not None and self.reason is None


def _fail(session: Session, name: str, client: str, user: AppUser | None, why: str) -> None:
    record_event(
        session,
        action="login_failed",
        object_type="app_user",
        object_id=user.id if user is not None else "-",
        user=name,
        attribute="client",
        new_value=f"{client}: {why}",
    )


def login(
    session: Session,
    username: str,
    password: str,
    *,
    client: str = "unknown",
    throttle: LoginThrottle | None = None,
    directory: Directory | None = None,
    now: datetime | None = None,
) -> LoginOutcome:
    """Check ``username`` and ``password``; see the module documentation for the steps.

    Raises :class:`~meterhub.errors.TooManyAttempts` (before anything is checked) when the
    throttle refuses. ``client`` is the client's address, for the throttle and the audit log.
    """
    now = now or utcnow()
    name = username.strip().lower() if isinstance(username, str) else ""
    password = password if isinstance(password, str) else ""
    per_minute = int(get_parameter(session, "login.attempts_per_minute"))
    keys = (f"user:{name}", f"client:{client}")
    if throttle is not None:
        throttle.check(per_minute, *keys)
    user = session.scalar(select(AppUser).where(AppUser.username == name))

    if directory is not None and (user is None or user.source == "directory"):
        outcome = directory.login(session, name, password, now=now)
        if not outcome.ok:
            if throttle is not None:
                throttle.failed(per_minute, *keys)
            _fail(session, name, client, outcome.user or user, outcome.reason or "refused")
            return LoginOutcome(None, WRONG_CREDENTIALS)
        assert outcome.user is not None
        _succeeded(session, outcome.user, client, now)
        return outcome

    if user is None or user.password_hash is None or user.source != "local":
        _burn_time(password)
        if throttle is not None:
            throttle.failed(per_minute, *keys)
        _fail(session, name, client, user, "unknown user" if user is None else "no password")
        return LoginOutcome(None, WRONG_CREDENTIALS)

    correct = verify_password(user, password)
    if not user.enabled or user.locked_at is not None:
        if throttle is not None and not correct:
            throttle.failed(per_minute, *keys)
        why = "disabled" if not user.enabled else "locked"
        record_event(
            session,
            action="login_refused",
            object_type="app_user",
            object_id=user.id,
            user=name,
            attribute="client",
            new_value=f"{client}: account {why}",
        )
        if correct and why == "locked":
            return LoginOutcome(
                None,
                "the account is locked after too many failed logins; ask an administrator to "
                "unlock it or to reset the password",
            )
        return LoginOutcome(None, WRONG_CREDENTIALS)

    policy = PasswordPolicy.from_session(session)
    if not correct:
        if throttle is not None:
            throttle.failed(per_minute, *keys)
        user.failed_logins = (user.failed_logins or 0) + 1
        _fail(session, name, client, user, f"wrong password ({user.failed_logins} in a row)")
        if policy.max_failed_logins and user.failed_logins >= policy.max_failed_logins:
            user.locked_at = now
            record_event(
                session,
                action="lockout",
                object_type="app_user",
                object_id=user.id,
                user=name,
                attribute="failed_logins",
                new_value=str(user.failed_logins),
            )
        session.flush()
        return LoginOutcome(None, WRONG_CREDENTIALS)

    if PASSWORD_HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = PASSWORD_HASHER.hash(password)
    _succeeded(session, user, client, now)
    return LoginOutcome(
        user,
        password_expired=policy.is_expired(user.password_changed_at, now),
        password_warning_days=policy.warn_days_left(user.password_changed_at, now),
    )


def _burn_time(password: str) -> None:
    """Verify against a dummy hash, so an unknown user takes as long as a wrong password."""
    try:
        PASSWORD_HASHER.verify(_dummy_hash(), password)
    except VerificationError:
        pass


def _succeeded(session: Session, user: AppUser, client: str, now: datetime) -> None:
    user.failed_logins = 0
    user.last_login_at = now
    record_event(
        session,
        action="login",
        object_type="app_user",
        object_id=user.id,
        user=user.username,
        attribute="client",
        new_value=client,
    )
    session.flush()
