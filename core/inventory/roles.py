"""Roles: create, rename, change permissions and functions, delete; grant them to users.

Permissions are given as a mapping of object type to actions (``{"meter": ["view", "edit"]}``)
and checked by :func:`meterhub.access.catalog.check_actions`: an inconsistent set (delete
without edit, create without view, ...) is refused, naming ``permissions.<type>``. Functions
are names from :data:`meterhub.access.catalog.FUNCTIONS`. A role held by users cannot be deleted
(take it from them first), and the last role enabling ``administration`` keeps it, so the system
always has a way to be administered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meterhub.access.catalog import check_actions, check_function, ordered
from meterhub.errors import Conflict, InvalidValue, NotFound
from meterhub.inventory.common import UNSET, Unset, check_name, flush, in_session, optional_text
from meterhub.model.roles import ROLE_NAME_LENGTH, Role, RoleFunction, RolePermission, UserRole
from meterhub.model.users import AppUser

__all__ = [
    "change_role",
    "create_role",
    "delete_role",
    "get_role",
    "grant_role",
    "revoke_role",
    "set_user_roles",
]

#: The function that makes a role all-powerful.
ADMINISTRATION = "administration"


def get_role(session: Session, name: str) -> Role:
    """The role named ``name``; :class:`NotFound` when there is none."""
    role = session.scalar(select(Role).where(Role.name == name))
    if role is None:
        raise NotFound(f"no role named {name!r}")
    return role


def _check_permissions(permissions: Any) -> dict[str, str]:
    if not isinstance(permissions, Mapping):
        raise InvalidValue("permissions", "must map object types to lists of actions")
    checked: dict[str, str] = {}
    for object_type, actions in permissions.items():
        if not isinstance(object_type, str):
            raise InvalidValue("permissions", f"object types are text, not {object_type!r}")
        granted = check_actions(object_type, actions)
        if granted:
            checked[object_type] = ",".join(ordered(granted))
    return checked


def _check_functions(functions: Any) -> list[str]:
    if isinstance(functions, str) or not isinstance(functions, Iterable):
        raise InvalidValue("functions", "must be a list of function names")
    return sorted({check_function(name) for name in functions})


def _check_groups(groups: Any) -> list[str]:
    if isinstance(groups, str) or not isinstance(groups, Iterable):
        raise InvalidValue("directory_groups", "must be a list of directory group names")
    result: list[str] = []
    for position, group in enumerate(groups):
        name = check_name(group, field=f"directory_groups[{position}]", max_length=200)
        if name not in result:
            result.append(name)
    return result


def _check_name_free(session: Session, name: str, role: Role | None) -> None:
    existing = session.scalar(select(Role).where(Role.name == name))
    if existing is not None and existing is not role:
        raise Conflict("name", f"a role named {name!r} already exists")


def _apply_permissions(role: Role, permissions: dict[str, str]) -> None:
    rows = {row.object_type: row for row in role.permission_rows}
    for object_type, stale in rows.items():
        if object_type not in permissions:
            role.permission_rows.remove(stale)
    for object_type, actions in permissions.items():
        existing = rows.get(object_type)
        if existing is None:
            role.permission_rows.append(RolePermission(object_type=object_type, actions=actions))
        elif existing.actions != actions:
            existing.actions = actions


def _apply_functions(role: Role, functions: list[str]) -> None:
    rows = {row.function: row for row in role.function_rows}
    for name, row in rows.items():
        if name not in functions:
            role.function_rows.remove(row)
    for name in functions:
        if name not in rows:
            role.function_rows.append(RoleFunction(function=name))


def _administering_roles(session: Session) -> int:
    statement = (
        select(func.count())
        .select_from(RoleFunction)
        .where(RoleFunction.function == ADMINISTRATION)
    )
    return int(session.scalar(statement) or 0)


def create_role(
    session: Session,
    name: str,
    *,
    description: str | None = None,
    permissions: Mapping[str, Sequence[str]] | None = None,
    functions: Sequence[str] = (),
    directory_groups: Sequence[str] = (),
) -> Role:
    """Create a role with the given permissions and functions."""
    name = check_name(name, max_length=ROLE_NAME_LENGTH)
    description = optional_text(description, field="description")
    checked = _check_permissions(permissions or {})
    function_names = _check_functions(functions)
    groups = _check_groups(directory_groups)
    _check_name_free(session, name, None)
    role = Role(name=name, description=description, directory_groups=groups)
    session.add(role)
    _apply_permissions(role, checked)
    _apply_functions(role, function_names)
    flush(session, reason=f"a role named {name!r} already exists")
    return role


def change_role(
    session: Session,
    role: Role,
    *,
    name: str | Unset = UNSET,
    description: str | None | Unset = UNSET,
    permissions: Mapping[str, Sequence[str]] | Unset = UNSET,
    functions: Sequence[str] | Unset = UNSET,
    directory_groups: Sequence[str] | Unset = UNSET,
) -> Role:
    """Rename a role or replace its description, permissions, functions or directory groups.

    ``permissions`` and ``functions`` replace the whole set (an object type left out is no
    longer granted).
    """
    role = in_session(session, role, "role", Role)
    new_name = (
        check_name(name, max_length=ROLE_NAME_LENGTH) if not isinstance(name, Unset) else None
    )
    new_description = (
        optional_text(description, field="description")
        if not isinstance(description, Unset)
        else UNSET
    )
    checked = _check_permissions(permissions) if not isinstance(permissions, Unset) else None
    function_names = _check_functions(functions) if not isinstance(functions, Unset) else None
    groups = _check_groups(directory_groups) if not isinstance(directory_groups, Unset) else None
    if new_name is not None:
        _check_name_free(session, new_name, role)
    if (
        function_names is not None
        and ADMINISTRATION in role.functions
        and ADMINISTRATION not in function_names
        and _administering_roles(session) <= 1
    ):
        raise Conflict(
            "functions",
            f"role {role.name!r} is the last role with {ADMINISTRATION!r}; give it to another "
            "role first, so the system can still be administered",
        )
    if new_name is not None:
        role.name = new_name
    if not isinstance(new_description, Unset):
        role.description = new_description
    if checked is not None:
        _apply_permissions(role, checked)
    if function_names is not None:
        _apply_functions(role, function_names)
    if groups is not None:
        role.directory_groups = groups
    flush(session, reason=f"a role named {role.name!r} already exists")
    return role


def delete_role(session: Session, role: Role) -> None:
    """Delete a role; refused while users hold it or when it is the last administering role."""
    role = in_session(session, role, "role", Role)
    holders = int(
        session.scalar(
            select(func.count()).select_from(UserRole).where(UserRole.role_id == role.id)
        )
        or 0
    )
    if holders:
        raise Conflict(
            "role", f"role {role.name!r} is held by {holders} user(s); take it from them first"
        )
    if ADMINISTRATION in role.functions and _administering_roles(session) <= 1:
        raise Conflict("role", f"role {role.name!r} is the last role with {ADMINISTRATION!r}")
    session.delete(role)
    flush(session, field="role")


def grant_role(session: Session, user: AppUser, role: Role) -> None:
    """Give ``role`` to ``user``; granting twice changes nothing."""
    user = in_session(session, user, "user", AppUser)
    role = in_session(session, role, "role", Role)
    if any(link.role_id == role.id for link in user.role_links):
        return
    user.role_links.append(UserRole(role=role))
    flush(session, field="roles")


def revoke_role(session: Session, user: AppUser, role: Role) -> None:
    """Take ``role`` from ``user``; nothing happens when the user does not hold it."""
    user = in_session(session, user, "user", AppUser)
    for link in list(user.role_links):
        if link.role_id == role.id:
            user.role_links.remove(link)
    flush(session, field="roles")


def set_user_roles(session: Session, user: AppUser, roles: Iterable[Role]) -> None:
    """Make ``roles`` exactly the roles of ``user``."""
    user = in_session(session, user, "user", AppUser)
    wanted = {role.id: in_session(session, role, "roles", Role) for role in roles}
    for link in list(user.role_links):
        if link.role_id not in wanted:
            user.role_links.remove(link)
    present = {link.role_id for link in user.role_links}
    for role_id, role in wanted.items():
        if role_id not in present:
            user.role_links.append(UserRole(role=role))
    flush(session, field="roles")


#: The role every installation starts with (migration 0005 creates it).
ADMINISTRATOR_ROLE = "Administrator"


def ensure_administrator_role(session: Session) -> Role:
    """The role "Administrator" (functions ``administration`` and ``all_segments``), created
    when missing."""
    role = session.scalar(select(Role).where(Role.name == ADMINISTRATOR_ROLE))
    if role is not None:
        return role
    return create_role(
        session,
        ADMINISTRATOR_ROLE,
        description="Every permission and function, every data segment",
        functions=[ADMINISTRATION, "all_segments"],
    )
