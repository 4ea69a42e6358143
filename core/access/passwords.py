"""The password policy, read from the system parameters (``password.*``).

* at least ``min_length`` characters (and at most 1024);
* ``simple``: the password must not contain the user name (in any case); ``complex``: in
  addition at least three of the four classes lower case, upper case, digits, other characters;
* none of the last ``history_depth`` passwords again (the current one included);
* it expires ``expiry_days`` after it was set (0: never), with a warning ``warning_days`` before;
* ``max_failed_logins`` failed logins in a row lock the account (0: never).

Directory (LDAP/AD) users are not subject to it: the directory has its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from meterhub.errors import InvalidValue
from meterhub.inventory.parameters import parameter_values

#: Longest password accepted (argon2 takes any length; this bounds the work per login).
MAX_PASSWORD_LENGTH = 1024


@dataclass(frozen=True)
class PasswordPolicy:
    """The password rules in force."""

    max_failed_logins: int = 5
    expiry_days: int = 0
    warning_days: int = 14
    min_length: int = 8
    history_depth: int = 3
    complexity: str = "simple"

    @classmethod
    def from_session(cls, session: Session) -> PasswordPolicy:
        """The policy as the system parameters set it now."""
        values = parameter_values(session)
        return cls(
            max_failed_logins=values["password.max_failed_logins"],
            expiry_days=values["password.expiry_days"],
            warning_days=values["password.warning_days"],
            min_length=values["password.min_length"],
            history_depth=values["password.history_depth"],
            complexity=values["password.complexity"],
        )

    def check(self, password: object, username: str, *, field: str = "password") -> str:
        """``password`` if it meets the length and complexity rules, else :class:`InvalidValue`.

        The message says which rule is broken, never the password.
        """
        if not isinstance(password, str):
            raise InvalidValue(field, f"must be text, got {type(password).__name__}")
        if len(password) < self.min_length:
            raise InvalidValue(field, f"must have at least {self.min_length} characters")
        if len(password) > MAX_PASSWORD_LENGTH:
            raise InvalidValue(field, f"must have at most {MAX_PASSWORD_LENGTH} characters")
        if username and username.casefold() in password.casefold():
            raise InvalidValue(field, "must not contain the user name")
        if self.complexity == "complex":
            classes = sum(
                (
                    any(c.islower() for c in password),
                    any(c.isupper() for c in password),
                    any(c.isdigit() for c in password),
                    any(not c.isalnum() for c in password),
                )
            )
            if classes < 3:
                raise InvalidValue(
                    field,
                    "must use at least 3 of: lower case letters, upper case letters, digits, "
                    "other characters",
                )
        return password

    def expires_at(self, changed_at: datetime | None) -> datetime | None:
        """When a password set at ``changed_at`` expires; ``None`` when it does not."""
        if self.expiry_days <= 0 or changed_at is None:
            return None
        return changed_at + timedelta(days=self.expiry_days)

    def is_expired(self, changed_at: datetime | None, now: datetime) -> bool:
        """Whether a password set at ``changed_at`` has expired at ``now``."""
        end = self.expires_at(changed_at)
        return end is not None and end <= now

    def warn_days_left(self, changed_at: datetime | None, now: datetime) -> int | None:
        """Days until the expiry when it lies within the warning interval, else ``None``."""
        end = self.expires_at(changed_at)
        if end is None or end <= now or end - now > timedelta(days=self.warning_days):
            return None
        return (end - now).days
