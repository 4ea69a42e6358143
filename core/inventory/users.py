"""Named users: add them (counted against the license), profile, passwords (argon2, the password
policy), enable/disable, lock/unlock, delete, and the data segments granted to them.

User names are stored in lower case, so ``Alice`` and ``alice`` are the same user. The license
limit ``named_users`` counts *enabled* users: adding or enabling one beyond it is refused with
:class:`~meterhub.errors.LicenseLimitExceeded` (without a license in the session, the
development license's limit holds); disabling one frees a place. Two sessions adding the last
allowed user at once get one user and one refusal.

A new password is checked against the password policy
(:class:`meterhub.access.passwords.PasswordPolicy`, from the system parameters): length,
complexity, and the history of earlier passwords (none of the last ``history_depth`` again).
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meterhub.access.passwords import PasswordPolicy
from meterhub.errors import Conflict, InvalidValue, NotFound
from meterhub.inventory.common import (
    UNSET,
    Unset,
    check_license_limit,
    flush,
    optional_text,
)
from meterhub.inventory.segments import resolve_segment, visible_elements
from meterhub.model.elements import Element
from meterhub.model.segments import DataSegment
from meterhub.model.tokens import ApiToken, LoginSession
from meterhub.model.types import utcnow
from meterhub.model.users import USER_SOURCES, AppUser, PasswordHistory, UserSegment

#: The argon2id hasher (argon2-cffi's recommended parameters).
PASSWORD_HASHER = PasswordHasher()

#: Shortest and longest password accepted by :func:`check_password` (the policy may ask more).
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024

#: An e-mail address, loosely: something@domain.tld without spaces.
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+\Z")
#: A language tag (BCP 47, loosely): ``en``, ``cs``, ``de-AT``, ``zh-Hant``.
LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*\Z")

#: A user name: letters, digits and ``. _ @ -``, starting with a letter or digit.
USERNAME = re.compile(r"[^\W_][\w.@-]*\Z")
MAX_USERNAME_LENGTH = 100


@cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so both cases take the same time."""
    return PASSWORD_HASHER.hash("meterhub-no-such-user")


def check_username(value: Any) -> str:
    """Return ``value`` as a stored user name (lower case), or raise :class:`InvalidValue`."""
    if not isinstance(value, str):
        raise InvalidValue("username", f"must be text, got {type(value).__name__}")
    name = value.strip().lower()
    if not name:
        raise InvalidValue("username", "must not be empty")
    if len(name) > MAX_USERNAME_LENGTH:
        raise InvalidValue(
            "username", f"must have at most {MAX_USERNAME_LENGTH} characters, has {len(name)}"
        )
    if not USERNAME.match(name):
        raise InvalidValue(
            "username",
            f"{name!r} may contain only letters, digits and . _ @ - and must start with a "
            "letter or digit",
        )
    return name


def check_password(value: Any) -> str:
    """Return ``value`` if it is acceptable as a password, or raise :class:`InvalidValue`."""
    if not isinstance(value, str):
        raise InvalidValue("password", f"must be text, got {type(value).__name__}")
    if len(value) < MIN_PASSWORD_LENGTH:
        raise InvalidValue("password", f"must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(value) > MAX_PASSWORD_LENGTH:
        raise InvalidValue("password", f"must have at most {MAX_PASSWORD_LENGTH} characters")
    return value


def _check_named_user_limit(session: Session) -> None:
    """Refuse one more enabled user beyond the license's ``named_users`` (safe when concurrent)."""
    enabled = select(func.count()).select_from(AppUser).where(AppUser.enabled.is_(True))
    check_license_limit(session, "named_users", enabled, table=AppUser.__tablename__)


def get_user(session: Session, username: str) -> AppUser:
    """The user named ``username`` (any case); :class:`NotFound` when there is none."""
    name = username.strip().lower() if isinstance(username, str) else username
    user = session.scalar(select(AppUser).where(AppUser.username == name))
    if user is None:
        raise NotFound(f"no user named {username!r}")
    return user


def check_email(value: Any) -> str | None:
    """An e-mail address (or ``None``), else :class:`InvalidValue` naming ``email``."""
    text = optional_text(value, field="email", max_length=254)
    if text is not None and not EMAIL.match(text):
        raise InvalidValue("email", f"{text!r} is not an e-mail address")
    return text


def check_language(value: Any) -> str:
    """A language tag such as ``en`` or ``de-AT``, else :class:`InvalidValue`."""
    if not isinstance(value, str) or not LANGUAGE.match(value):
        raise InvalidValue("language", f"must be a language tag such as en or de-AT, not {value!r}")
    return value


def check_time_zone(value: Any) -> str:
    """An IANA time zone name such as ``Europe/Prague``, else :class:`InvalidValue`."""
    from meterhub.timeseries.timegrid import resolve_tz

    if not isinstance(value, str) or not value:
        raise InvalidValue("time_zone", f"must be a time zone name, not {value!r}")
    try:
        resolve_tz(value)
    except InvalidValue:
        raise InvalidValue("time_zone", f"{value!r} is not a known time zone") from None
    return value


def add_user(
    session: Session,
    username: str,
    password: str | None,
    display_name: str | None = None,
    *,
    email: str | None = None,
    language: str = "en",
    time_zone: str = "UTC",
    source: str = "local",
) -> AppUser:
    """Add an enabled named user; ``password`` ``None`` means no local password (LDAP).

    ``source`` is ``local`` or ``directory`` (a user the directory authenticates). The
    password must meet the password policy. Refused when the name is taken or the license's
    ``named_users`` limit is reached.
    """
    username = check_username(username)
    if source not in USER_SOURCES:
        raise InvalidValue("source", f"must be one of {', '.join(USER_SOURCES)}, not {source!r}")
    if password is not None:
        password = PasswordPolicy.from_session(session).check(password, username)
    display_name = optional_text(display_name, field="display_name", max_length=200)
    email = check_email(email)
    language = check_language(language)
    time_zone = check_time_zone(time_zone)
    if session.scalar(select(AppUser.id).where(AppUser.username == username)) is not None:
        raise Conflict("username", f"a user named {username!r} already exists")
    _check_named_user_limit(session)
    user = AppUser(
        username=username,
        display_name=display_name,
        password_hash=PASSWORD_HASHER.hash(password) if password is not None else None,
        password_changed_at=utcnow() if password is not None else None,
        enabled=True,
        email=email,
        language=language,
        time_zone=time_zone,
        source=source,
        failed_logins=0,
    )
    session.add(user)
    flush(session, field="username", reason=f"a user named {username!r} already exists")
    return user


def change_user(
    session: Session,
    user: AppUser,
    *,
    display_name: str | None | Unset = UNSET,
    email: str | None | Unset = UNSET,
    language: str | Unset = UNSET,
    time_zone: str | Unset = UNSET,
) -> AppUser:
    """Change a user's profile: display name, e-mail address, language, time zone."""
    values: dict[str, Any] = {}
    if not isinstance(display_name, Unset):
        values["display_name"] = optional_text(display_name, field="display_name", max_length=200)
    if not isinstance(email, Unset):
        values["email"] = check_email(email)
    if not isinstance(language, Unset):
        values["language"] = check_language(language)
    if not isinstance(time_zone, Unset):
        values["time_zone"] = check_time_zone(time_zone)
    for key, value in values.items():
        setattr(user, key, value)
    flush(session, field="display_name")
    return user


def set_password(
    session: Session, user: AppUser, password: str | None, *, now: datetime | None = None
) -> None:
    """Set a new password (``None``: remove the local password); unlocks the account.

    The password must meet the policy and differ from the last ``password.history_depth``
    passwords (the current one included).
    """
    policy = PasswordPolicy.from_session(session)
    if password is not None:
        password = policy.check(password, user.username)
        earlier = [user.password_hash] if user.password_hash else []
        earlier += [row.password_hash for row in user.password_history]
        for old in earlier[: policy.history_depth]:
            if _matches(old, password):
                raise InvalidValue(
                    "password",
                    f"must differ from the last {policy.history_depth} password(s)",
                )
    if user.password_hash is not None and policy.history_depth > 0:
        user.password_history.insert(0, PasswordHistory(password_hash=user.password_hash))
    for old_row in list(user.password_history)[max(policy.history_depth - 1, 0) :]:
        user.password_history.remove(old_row)
    user.password_hash = PASSWORD_HASHER.hash(password) if password is not None else None
    user.password_changed_at = (now or utcnow()) if password is not None else None
    user.failed_logins = 0
    user.locked_at = None
    flush(session, field="password")


def _matches(stored_hash: str, password: str) -> bool:
    try:
        return PASSWORD_HASHER.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def unlock_user(session: Session, user: AppUser) -> None:
    """Lift a lockout after too many failed logins."""
    user.locked_at = None
    user.failed_logins = 0
    flush(session, field="locked")


def delete_user(session: Session, user: AppUser) -> None:
    """Delete a user with their roles, segment grants, tokens, logins and password history.

    The audit log keeps the user's name in the rows of what they changed.
    """
    for token in session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)):
        session.delete(token)
    for login in session.scalars(select(LoginSession).where(LoginSession.user_id == user.id)):
        session.delete(login)
    session.delete(user)
    flush(session, field="user")


def verify_password(user: AppUser, password: str) -> bool:
    """Whether ``password`` is the user's password (``False`` without a local password)."""
    if user.password_hash is None or not isinstance(password, str):
        return False
    try:
        return PASSWORD_HASHER.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def authenticate(session: Session, username: str, password: str) -> AppUser | None:
    """The enabled user with this name and password, or ``None``.

    A hash made with weaker parameters than the current ones is replaced on success.
    """
    name = username.strip().lower() if isinstance(username, str) else ""
    user = session.scalar(select(AppUser).where(AppUser.username == name))
    if user is None or user.password_hash is None:
        try:
            PASSWORD_HASHER.verify(_dummy_hash(), password if isinstance(password, str) else "")
        except VerificationError:
            pass
        return None
    if not user.enabled or not verify_password(user, password):
        return None
    if PASSWORD_HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = PASSWORD_HASHER.hash(password)
        flush(session, field="password")
    return user


def enable_user(session: Session, user: AppUser) -> None:
    """Enable a user; counted against the license's ``named_users`` limit."""
    if user.enabled:
        return
    _check_named_user_limit(session)
    user.enabled = True
    flush(session, field="enabled")


def disable_user(session: Session, user: AppUser) -> None:
    """Disable a user: they cannot log in and no longer count against the license."""
    user.enabled = False
    flush(session, field="enabled")


def grant_segment(session: Session, user: AppUser, segment: DataSegment | str) -> None:
    """Let ``user`` see the elements of ``segment``; granting twice changes nothing."""
    segment = resolve_segment(session, segment)
    if any(link.segment_id == segment.id for link in user.segment_links):
        return
    user.segment_links.append(UserSegment(segment=segment))
    flush(session, field="segment", reason="the segment was granted already")


def revoke_segment(session: Session, user: AppUser, segment: DataSegment | str) -> None:
    """Withdraw ``segment`` from ``user``; nothing happens when it was not granted."""
    segment = resolve_segment(session, segment)
    for link in list(user.segment_links):
        if link.segment_id == segment.id:
            user.segment_links.remove(link)
    flush(session, field="segment")


def visible_elements_for_user(session: Session, user: AppUser) -> list[Element]:
    """The elements ``user`` sees: those of the segments granted, with their subtrees."""
    return visible_elements(session, user.segments)
