"""Who is acting and what they may do: :class:`AccessContext`, built from a user and their roles.

The context joins the permissions of the user's roles (limited to a token's roles when the
request came with a token that names some), the functions they enable, and the
:class:`~meterhub.access.scope.Scope` of the data segments granted. ``administration`` allows
everything and ``all_segments`` lifts the segment limit. Every operation of the REST API asks the
context (:meth:`AccessContext.require`) before it reads or changes anything; workers and the CLI
can use the same contexts (:func:`system_context` for work nobody started by hand).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from meterhub.access.catalog import ACTIONS, OBJECT_TYPES
from meterhub.access.scope import Scope
from meterhub.errors import PermissionDenied
from meterhub.model.roles import Role
from meterhub.model.users import AppUser

#: The function that allows everything.
ADMINISTRATION = "administration"
#: The function that lifts the segment limit.
ALL_SEGMENTS = "all_segments"


@dataclass(frozen=True)
class AccessContext:
    """The acting user, the actions per object type and functions allowed, the data scope."""

    username: str
    user_id: int | None = None
    permissions: Mapping[str, frozenset[str]] = field(default_factory=dict)
    functions: frozenset[str] = frozenset()
    scope: Scope = field(default_factory=Scope)
    #: How the request was authenticated: ``session``, ``token`` or ``system``.
    via: str = "system"
    token_id: int | None = None
    #: The user's password has expired: only changing it is allowed.
    password_change_only: bool = False

    @property
    def administrator(self) -> bool:
        """Whether the roles enable ``administration`` (everything is allowed)."""
        return ADMINISTRATION in self.functions

    def can(self, object_type: str, action: str) -> bool:
        """Whether the roles allow ``action`` on ``object_type``."""
        if self.password_change_only:
            return False
        return self.administrator or action in self.permissions.get(object_type, frozenset())

    def has_function(self, name: str) -> bool:
        """Whether the roles enable function ``name``."""
        if self.password_change_only:
            return False
        return self.administrator or name in self.functions

    def require(self, object_type: str, action: str) -> None:
        """Raise :class:`~meterhub.errors.PermissionDenied` unless :meth:`can` allows it."""
        if not self.can(object_type, action):
            if self.password_change_only:
                raise PermissionDenied("the password has expired: change it first")
            raise PermissionDenied(f"your roles do not allow to {action} {object_type} objects")

    def require_function(self, name: str) -> None:
        """Raise :class:`~meterhub.errors.PermissionDenied` unless function ``name`` is enabled."""
        if not self.has_function(name):
            if self.password_change_only:
                raise PermissionDenied("the password has expired: change it first")
            raise PermissionDenied(f"your roles do not enable the function {name!r}")

    def covers(self, permissions: Mapping[str, Iterable[str]], functions: Iterable[str]) -> bool:
        """Whether this context holds everything ``permissions`` and ``functions`` grant.

        Nobody may hand out (to a user, a role or a token) more than they hold themselves.
        """
        if self.administrator:
            return True
        return all(
            self.can(object_type, action)
            for object_type, actions in permissions.items()
            for action in actions
        ) and all(self.has_function(name) for name in functions)

    def require_covers(
        self, what: str, permissions: Mapping[str, Iterable[str]], functions: Iterable[str]
    ) -> None:
        """Raise :class:`PermissionDenied` unless :meth:`covers` holds for ``what``."""
        if not self.covers(permissions, functions):
            raise PermissionDenied(f"{what} grants more than your own roles do")

    def allowed(self) -> dict[str, list[str]]:
        """Object type → the actions allowed, for every object type (for the UI)."""
        return {
            object_type: [action for action in ACTIONS if self.can(object_type, action)]
            for object_type in OBJECT_TYPES
        }


def context_for_user(
    user: AppUser,
    *,
    roles: Iterable[Role] | None = None,
    via: str = "session",
    token_id: int | None = None,
    password_change_only: bool = False,
) -> AccessContext:
    """The context of ``user`` acting with ``roles`` (default: all the user's roles).

    A token limited to some roles passes them as ``roles``; only those the user still holds
    count, so taking a role from a user also takes it from the user's tokens.
    """
    held = {role.id: role for role in user.roles}
    active = list(held.values()) if roles is None else [r for r in roles if r.id in held]
    permissions: dict[str, set[str]] = {}
    functions: set[str] = set()
    for role in active:
        for row in role.permission_rows:
            permissions.setdefault(row.object_type, set()).update(
                action for action in row.actions.split(",") if action
            )
        functions.update(row.function for row in role.function_rows)
    unrestricted = ADMINISTRATION in functions or ALL_SEGMENTS in functions
    segment_ids = (
        None if unrestricted else frozenset(link.segment_id for link in user.segment_links)
    )
    return AccessContext(
        username=user.username,
        user_id=user.id,
        permissions={key: frozenset(value) for key, value in permissions.items()},
        functions=frozenset(functions),
        scope=Scope(segment_ids=segment_ids, user_id=user.id),
        via=via,
        token_id=token_id,
        password_change_only=password_change_only,
    )


def system_context(name: str = "system") -> AccessContext:
    """A context that may do everything, for work the system does itself (workers, CLI)."""
    return AccessContext(username=name, functions=frozenset({ADMINISTRATION}), via="system")
