"""``/api/v1/auth``: log in and out, the own profile and password."""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify, request
from flask.views import MethodView
from sqlalchemy import select

from meterhub.access import AccessContext, context_for_user
from meterhub.access.directory import Directory
from meterhub.access.events import record_event
from meterhub.access.login import login
from meterhub.errors import AuthenticationRequired, InvalidValue, PermissionDenied
from meterhub.inventory import tokens as token_ops
from meterhub.inventory import users as user_ops
from meterhub.model.tokens import LoginSession
from meterhub.model.users import AppUser
from meterhub.webapi.auth.schemas import (
    LoginResultSchema,
    LoginSchema,
    MeSchema,
    PasswordChangeSchema,
    ProfileUpdateSchema,
)
from meterhub.webapi.crud.refs import serialize_writes
from meterhub.webapi.extensions import Blueprint
from meterhub.webapi.security import SESSION_COOKIE, current_access, request_session
from meterhub.webapi.security.authentication import (
    clear_login_cookies,
    csrf_token,
    set_login_cookies,
)
from meterhub.webapi.state import current_runtime, current_throttle

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Login and profile")


def _me(user: AppUser, access: AccessContext) -> dict[str, Any]:
    return {
        "user": user,
        "permissions": access.allowed(),
        "functions": sorted(access.functions),
        "via": access.via,
        "password_change_only": access.password_change_only,
        "all_segments": access.scope.unrestricted,
    }


def _client() -> str:
    return request.remote_addr or "unknown"


@blp.route("/login")
class Login(MethodView):
    """Log in with user name and password."""

    @blp.public
    @blp.arguments(LoginSchema)
    @blp.alt_response(401, response="UNAUTHORIZED")
    @blp.alt_response(429, response="TOO_MANY_REQUESTS")
    @blp.response(200, LoginResultSchema)
    def post(self, data: dict[str, Any]) -> Response:
        """Log in

        Starts a browser login: the answer sets the `meterhub_session` cookie (HttpOnly,
        Secure, SameSite=Strict) and the `meterhub_csrf` cookie whose value must be sent in
        `X-CSRF-Token` with every request that changes data. Failed logins are counted: too
        many in a row lock the account (`password.max_failed_logins`), too many per minute
        are refused (429). An expired password logs in only to change it.
        """
        runtime = current_runtime()
        session = request_session()
        serialize_writes(session)
        directory = Directory.from_settings(runtime.settings, runtime.license)
        outcome = login(
            session,
            data["username"],
            data["password"],
            client=_client(),
            throttle=current_throttle(),
            directory=directory,
        )
        if not outcome.ok:
            session.commit()  # the failure count, a lockout and the audit rows stay
            raise AuthenticationRequired(outcome.reason or "wrong user name or password")
        user = outcome.user
        assert user is not None
        record, plain = token_ops.create_login_session(
            session, user, password_change_only=outcome.password_expired
        )
        session.commit()
        access = context_for_user(
            user, via="session", password_change_only=outcome.password_expired
        )
        body = LoginResultSchema().dump(
            {
                **_me(user, access),
                "csrf_token": csrf_token(plain),
                "expires_at": record.ends_at,
                "password_expired": outcome.password_expired,
                "password_warning_days": outcome.password_warning_days,
            }
        )
        response = jsonify(body)
        max_age = int((record.ends_at - record.created_at).total_seconds())
        set_login_cookies(response, plain, max_age)
        return response


@blp.route("/logout")
class Logout(MethodView):
    """End the browser login."""

    @blp.response(204)
    def post(self) -> Response:
        """Log out

        Ends the login of this browser (a bearer token stays valid: revoke it to end it).
        """
        access = current_access()
        session = request_session()
        plain = request.cookies.get(SESSION_COOKIE)
        if access.via == "session" and plain:
            record = session.scalar(
                select(LoginSession).where(LoginSession.token_digest == token_ops.digest(plain))
            )
            if record is not None:
                token_ops.end_login_session(session, record)
            record_event(
                session,
                action="logout",
                object_type="app_user",
                object_id=access.user_id,
                user=access.username,
            )
            session.commit()
        response = Response(status=204)
        clear_login_cookies(response)
        return response


def _user(access: AccessContext) -> AppUser:
    user = request_session().get(AppUser, access.user_id) if access.user_id else None
    if user is None:
        raise PermissionDenied("only a named user has a profile")
    return user


@blp.route("/me")
class Me(MethodView):
    """The logged-in user's profile and rights."""

    @blp.response(200, MeSchema)
    def get(self) -> dict[str, Any]:
        """Who am I, and what may I do"""
        access = current_access()
        return _me(_user(access), access)

    @blp.arguments(ProfileUpdateSchema)
    @blp.response(200, MeSchema)
    def patch(self, data: dict[str, Any]) -> dict[str, Any]:
        """Change my profile

        Display name, e-mail address, language and time zone.
        """
        access = current_access()
        if access.password_change_only:
            raise PermissionDenied("the password has expired: change it first")
        session = request_session()
        serialize_writes(session)
        user = _user(access)
        user_ops.change_user(session, user, **data)
        session.commit()
        return _me(user, access)


@blp.route("/password")
class Password(MethodView):
    """Change the own password."""

    @blp.arguments(PasswordChangeSchema)
    @blp.response(204)
    def post(self, data: dict[str, Any]) -> None:
        """Change my password

        The new password must meet the password policy and differ from the last ones. This is
        the one request allowed after logging in with an expired password; afterwards, log in
        again.
        """
        access = current_access()
        session = request_session()
        serialize_writes(session)
        user = _user(access)
        if user.source != "local":
            raise PermissionDenied("a directory user changes the password in the directory")
        if not user_ops.verify_password(user, data["current_password"]):
            raise InvalidValue("current_password", "is not your current password")
        user_ops.set_password(session, user, data["new_password"])
        if access.via == "session":
            token_ops.end_user_sessions(session, user)
        session.commit()
        g.password_changed = True
