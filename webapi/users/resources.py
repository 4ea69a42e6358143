"""``/api/v1/users``: named users, their roles and segments; password reset and unlock."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from sqlalchemy.orm import Session, selectinload

from meterhub.access import AccessContext
from meterhub.access.events import record_event
from meterhub.errors import PermissionDenied
from meterhub.inventory import roles as role_ops
from meterhub.inventory import tokens as token_ops
from meterhub.inventory import users as ops
from meterhub.model.roles import Role
from meterhub.model.segments import DataSegment
from meterhub.model.users import AppUser
from meterhub.webapi.crud import Resource, load_object, reference, register_resource
from meterhub.webapi.extensions import Blueprint
from meterhub.webapi.security import current_access, request_session
from meterhub.webapi.users.schemas import (
    PasswordResetSchema,
    UserCreateSchema,
    UserSchema,
    UserUpdateSchema,
)

blp = Blueprint("users", __name__, url_prefix="/api/v1/users", description="Named users")

_PROFILE = ("display_name", "email", "language", "time_zone")


def _roles(session: Session, access: AccessContext, ids: list[int]) -> list[Role]:
    roles = [
        reference(session, access, Role, "role", rid, f"roles[{i}]") for i, rid in enumerate(ids)
    ]
    for role in roles:
        access.require_covers(f"role {role.name!r}", role.permissions, role.functions)
    return roles


def _guard(access: AccessContext, user: AppUser) -> None:
    """Refuse to act on a user who holds more than the acting user: no one takes over a
    stronger account by resetting its password, changing or deleting it."""
    if user.id == access.user_id:
        return
    for role in user.roles:
        access.require_covers(
            f"user {user.username!r} (role {role.name!r})", role.permissions, role.functions
        )


def _segments(session: Session, access: AccessContext, user: AppUser, ids: list[int]) -> None:
    wanted = [
        reference(session, access, DataSegment, "segment", sid, f"segments[{i}]")
        for i, sid in enumerate(ids)
    ]
    keep = {segment.id for segment in wanted}
    for link in list(user.segment_links):
        if link.segment_id not in keep:
            ops.revoke_segment(session, user, link.segment)
    for segment in wanted:
        ops.grant_segment(session, user, segment)


def create(session: Session, access: AccessContext, data: dict[str, Any]) -> AppUser:
    """Add a user (the license's named-user limit applies) with roles and segments."""
    roles = _roles(session, access, data["roles"])
    profile = {key: data[key] for key in _PROFILE if key in data and key != "display_name"}
    user = ops.add_user(
        session,
        data["username"],
        data["password"],
        data.get("display_name"),
        source=data["source"],
        **profile,
    )
    role_ops.set_user_roles(session, user, roles)
    _segments(session, access, user, data["segments"])
    return user


def update(session: Session, access: AccessContext, user: AppUser, data: dict[str, Any]) -> AppUser:
    """Change the profile, enable or disable, replace roles or segments."""
    _guard(access, user)
    profile = {key: data[key] for key in _PROFILE if key in data}
    if profile:
        ops.change_user(session, user, **profile)
    if "roles" in data:
        if user.id == access.user_id and not access.administrator:
            raise PermissionDenied("you cannot change your own roles")
        role_ops.set_user_roles(session, user, _roles(session, access, data["roles"]))
    if "segments" in data:
        _segments(session, access, user, data["segments"])
    if "enabled" in data:
        if data["enabled"]:
            ops.enable_user(session, user)
        else:
            ops.disable_user(session, user)
            token_ops.end_user_sessions(session, user)
    return user


def delete(session: Session, access: AccessContext, user: AppUser) -> None:
    """Delete a user (not oneself, not a stronger one)."""
    if user.id == access.user_id:
        raise PermissionDenied("you cannot delete yourself")
    _guard(access, user)
    ops.delete_user(session, user)


RESOURCE = Resource(
    name="users",
    object_type="user",
    model=AppUser,
    schema=UserSchema,
    title="users",
    create_schema=UserCreateSchema,
    update_schema=UserUpdateSchema,
    create=create,
    update=update,
    delete=delete,
    search=(AppUser.username, AppUser.display_name, AppUser.email),
    default_sort="username",
    load_options=(selectinload(AppUser.role_links), selectinload(AppUser.segment_links)),
)
register_resource(blp, RESOURCE)


@blp.route("/<int:object_id>/password")
class PasswordReset(MethodView):
    """An administrator sets a user's password."""

    @blp.arguments(PasswordResetSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(204)
    def post(self, data: dict[str, Any], object_id: int) -> None:
        """Reset a user's password

        Needs the function `password_reset` and the right to edit users. The password must meet
        the password policy; the account is unlocked and the user's browser logins end.
        """
        access = current_access()
        access.require("user", "edit")
        access.require_function("password_reset")
        session = request_session()
        user = load_object(session, access, RESOURCE, object_id, for_update=True)
        _guard(access, user)
        ops.set_password(session, user, data["password"])
        token_ops.end_user_sessions(session, user)
        record_event(
            session,
            action="password_reset",
            object_type="app_user",
            object_id=user.id,
            user=access.username,
        )
        session.commit()


@blp.route("/<int:object_id>/unlock")
class Unlock(MethodView):
    """Lift a lockout after too many failed logins."""

    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(204)
    def post(self, object_id: int) -> None:
        """Unlock a user's account

        Needs the function `password_reset` and the right to edit users.
        """
        access = current_access()
        access.require("user", "edit")
        access.require_function("password_reset")
        session = request_session()
        user = load_object(session, access, RESOURCE, object_id, for_update=True)
        _guard(access, user)
        ops.unlock_user(session, user)
        record_event(
            session,
            action="unlock",
            object_type="app_user",
            object_id=user.id,
            user=access.username,
        )
        session.commit()
