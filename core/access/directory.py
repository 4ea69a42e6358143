"""LDAP / Active Directory logins (feature ``active-directory``), with ldap3.

A login of a directory user: MeterHub binds with its service account (``ldap_bind_dn``), finds
the user's entry with ``ldap_user_filter`` under ``ldap_user_base``, binds as that entry with
the password typed (so the directory checks it, with its own password policy), then reads the
user's groups (``ldap_group_filter`` under ``ldap_group_base``). The user's roles become exactly
the roles whose ``directory_groups`` name one of those groups, on every login. A directory user
seen for the first time is added as a named user (``source="directory"``, no local password),
counted against the license. An empty password is refused before any bind (an LDAP "simple
bind" with an empty password is an anonymous bind that succeeds).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterhub.access.login import LoginOutcome
from meterhub.config import Settings
from meterhub.errors import ConfigurationError, LicenseLimitExceeded
from meterhub.inventory.roles import set_user_roles
from meterhub.inventory.users import add_user
from meterhub.licensing import License
from meterhub.model.roles import Role
from meterhub.model.users import AppUser

if TYPE_CHECKING:
    from ldap3 import Connection

log = logging.getLogger(__name__)

#: The license feature that enables directory logins.
FEATURE = "active-directory"


@dataclass(frozen=True)
class DirectoryAccount:
    """What the directory says about a user who bound successfully."""

    dn: str
    groups: frozenset[str]
    display_name: str | None = None
    email: str | None = None


class Directory:
    """An LDAP / Active Directory server that checks passwords and names groups."""

    def __init__(self, settings: Settings, license: License) -> None:
        if not settings.ldap_url:
            raise ConfigurationError("ldap_url is not set: no directory is configured")
        license.require(FEATURE)
        if not settings.ldap_user_base:
            raise ConfigurationError("ldap_user_base: set where the directory's users are")
        self.settings = settings
        # ldap3 is imported only where a directory is configured: it warns on import about
        # pyasn1's renamed attributes.
        from ldap3 import NONE, Server

        self.server = Server(
            settings.ldap_url, connect_timeout=settings.ldap_timeout, get_info=NONE
        )

    @classmethod
    def from_settings(cls, settings: Settings, license: License) -> Directory | None:
        """The directory the settings configure, or ``None`` when ``ldap_url`` is empty."""
        return cls(settings, license) if settings.ldap_url else None

    def _connection(self, user: str | None, password: str | None) -> Connection:
        from ldap3 import Connection

        connection = Connection(
            self.server,
            user=user or None,
            password=password or None,
            receive_timeout=max(1, round(self.settings.ldap_timeout)),
            raise_exceptions=False,
            read_only=True,
        )
        if self.settings.ldap_start_tls:
            connection.open()
            connection.start_tls()
        return connection

    def authenticate(self, username: str, password: str) -> DirectoryAccount | None:
        """The account of ``username`` when ``password`` is right, else ``None``.

        :raises ldap3.core.exceptions.LDAPException: the directory cannot be reached.
        """
        from ldap3 import SUBTREE
        from ldap3.utils.conv import escape_filter_chars

        if not username or not password:
            return None
        settings = self.settings
        service = self._connection(
            settings.ldap_bind_dn, settings.ldap_bind_password.get_secret_value()
        )
        try:
            if not service.bind():
                log.warning("the directory refused MeterHub's service bind: %s", service.result)
                return None
            query = settings.ldap_user_filter.format(username=escape_filter_chars(username))
            service.search(
                settings.ldap_user_base,
                query,
                SUBTREE,
                attributes=["cn", "displayName", "mail"],
                size_limit=2,
            )
            entries = list(service.entries)
            if len(entries) != 1:
                return None
            entry = entries[0]
            dn = entry.entry_dn
            checker = self._connection(dn, password)
            try:
                if not checker.bind():
                    return None
            finally:
                _close(checker)
            groups: set[str] = set()
            if settings.ldap_group_base:
                group_query = settings.ldap_group_filter.format(
                    dn=escape_filter_chars(dn), username=escape_filter_chars(username)
                )
                attribute = settings.ldap_group_name_attribute
                service.search(
                    settings.ldap_group_base, group_query, SUBTREE, attributes=[attribute]
                )
                for group in service.entries:
                    values = group[attribute].values if attribute in group else []
                    groups.update(str(value) for value in values)
            return DirectoryAccount(
                dn=dn,
                groups=frozenset(groups),
                display_name=_first(entry, "displayName") or _first(entry, "cn"),
                email=_first(entry, "mail"),
            )
        finally:
            _close(service)

    def login(
        self, session: Session, username: str, password: str, *, now: datetime
    ) -> LoginOutcome:
        """Check the user with the directory and bring the local user and roles up to date."""
        from ldap3.core.exceptions import LDAPException

        try:
            account = self.authenticate(username, password)
        except LDAPException as exc:
            log.warning("the directory at %s cannot be used: %s", self.settings.ldap_url, exc)
            return LoginOutcome(None, "the directory cannot be reached")
        if account is None:
            return LoginOutcome(None, "the directory refused the user name or password")
        user = session.scalar(select(AppUser).where(AppUser.username == username))
        if user is None:
            try:
                user = add_user(
                    session,
                    username,
                    None,
                    display_name=account.display_name,
                    source="directory",
                )
            except LicenseLimitExceeded as exc:
                return LoginOutcome(None, str(exc))
        if user.source != "directory":
            return LoginOutcome(user, "a local user of the same name exists")
        if not user.enabled:
            return LoginOutcome(user, "the account is disabled")
        if account.display_name:
            user.display_name = account.display_name[:200]
        if account.email and user.email != account.email:
            user.email = account.email[:254]
        roles = [
            role
            for role in session.scalars(select(Role).order_by(Role.id))
            if account.groups.intersection(role.directory_groups or [])
        ]
        set_user_roles(session, user, roles)
        return LoginOutcome(user)


def _close(connection: Connection) -> None:
    """Unbind and close the socket, also one left open by a failed connect (ldap3 2.9.1 keeps
    it otherwise)."""
    try:
        connection.unbind()
    finally:
        sock = getattr(connection, "socket", None)
        if sock is not None:
            sock.close()


def _first(entry: Any, attribute: str) -> str | None:
    from ldap3.core.exceptions import LDAPException

    try:
        values = entry[attribute].values
    except (KeyError, LDAPException):
        return None
    return str(values[0]) if values else None
