"""``/api/v1/tokens``: API tokens — create (shown once), list, revoke."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from meterhub.access.events import record_event
from meterhub.errors import NotFound, PermissionDenied
from meterhub.inventory import tokens as ops
from meterhub.model.roles import Role
from meterhub.model.tokens import ApiToken
from meterhub.model.users import AppUser
from meterhub.webapi.crud import Resource, reference, serialize_writes
from meterhub.webapi.crud.resource import list_objects
from meterhub.webapi.extensions import Blueprint
from meterhub.webapi.security import current_access, request_session
from meterhub.webapi.tokens.schemas import NewTokenSchema, TokenCreateSchema, TokenSchema

blp = Blueprint(
    "tokens", __name__, url_prefix="/api/v1/tokens", description="API tokens for integrations"
)

RESOURCE = Resource(
    name="tokens",
    object_type="api_token",
    model=ApiToken,
    schema=TokenSchema,
    title="API tokens",
    search=(ApiToken.name, ApiToken.prefix),
    load_options=(selectinload(ApiToken.role_links),),
)


def _own_or_permitted(token: ApiToken, action: str) -> None:
    access = current_access()
    if token.user_id != access.user_id:
        access.require("api_token", action)


def _load(object_id: int) -> ApiToken:
    access = current_access()
    session = request_session()
    if not 0 < object_id < 2**31:
        raise NotFound(f"there is no api_token with id {object_id}")
    statement = access.scope.restrict(select(ApiToken).where(ApiToken.id == object_id), "api_token")
    token = session.scalar(statement)
    if token is None or (token.user_id != access.user_id and not access.can("api_token", "view")):
        raise NotFound(f"there is no api_token with id {object_id}")
    return token


@blp.route("")
class Tokens(MethodView):
    """The tokens of the acting user (and, with the right, everyone's)."""

    @blp.arguments(RESOURCE.arguments, location="query", unknown="raise")
    @blp.response(200, RESOURCE.page_schema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List API tokens

        Your own tokens; with the permission to view api_token objects, everyone's.
        """
        access = current_access()
        if access.password_change_only:
            raise PermissionDenied("the password has expired: change it first")
        if not access.can("api_token", "view"):
            args = {**args, "user_id": access.user_id}
        return list_objects(request_session(), access, RESOURCE, args)

    @blp.arguments(TokenCreateSchema)
    @blp.response(201, NewTokenSchema)
    def post(self, data: dict[str, Any]) -> ApiToken:
        """Create an API token for yourself

        Needs the function `api_tokens`. The token is in the answer this once; MeterHub keeps
        only its SHA-256 digest. It expires (at most `token.max_days` ahead) and can be limited
        to some of your roles.
        """
        access = current_access()
        access.require_function("api_tokens")
        session = request_session()
        serialize_writes(session)
        user = session.get(AppUser, access.user_id)
        if user is None:
            raise PermissionDenied("only a named user can hold tokens")
        roles = [
            reference(session, access, Role, "role", rid, f"roles[{i}]")
            for i, rid in enumerate(data["roles"])
        ]
        token, plain = ops.create_token(
            session, user, data["name"], expires_at=data["expires_at"], roles=roles
        )
        session.commit()
        token.plain = plain  # type: ignore[attr-defined]  # for this answer only, never stored
        return token


@blp.route("/<int:object_id>")
class Token(MethodView):
    """One API token."""

    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, TokenSchema)
    def get(self, object_id: int) -> ApiToken:
        """Get an API token (not the token itself)"""
        if current_access().password_change_only:
            raise PermissionDenied("the password has expired: change it first")
        return _load(object_id)

    @blp.alt_response(404, response="NOT_FOUND")
    @blp.response(200, TokenSchema)
    def delete(self, object_id: int) -> ApiToken:
        """Revoke an API token

        Your own always; another user's with the permission to delete api_token objects. The
        token stops working at once.
        """
        access = current_access()
        session = request_session()
        serialize_writes(session)
        token = _load(object_id)
        _own_or_permitted(token, "delete")
        ops.revoke_token(session, token)
        record_event(
            session,
            action="token_revoked",
            object_type="api_token",
            object_id=token.id,
            user=access.username,
        )
        session.commit()
        return token
