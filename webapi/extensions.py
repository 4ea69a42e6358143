"""The flask-smorest classes, subclassed once: :class:`Api`, :class:`Blueprint`, :class:`Schema`.

* :class:`Api` answers every error as a JSON problem document (RFC 9457,
  ``application/problem+json``): ``type``, ``title``, ``status``, ``detail`` and, for bad input,
  ``errors``: one ``{"field", "reason"}`` per wrong field. A 405 names the allowed methods in
  ``Allow``. The OpenAPI document declares the bearer token and the login cookie.
* :class:`Blueprint` documents, for every operation, the answers access control and the
  resource framework give (401, 403, 404, 409, 422) and marks public operations
  (:meth:`Blueprint.public`), which need no login.
* :class:`Schema` refuses unknown fields (``unknown = RAISE``), naming them.
"""

from __future__ import annotations

import http
from collections.abc import Callable, Iterator, Mapping
from copy import deepcopy
from typing import Any, TypeVar

import flask_smorest
import marshmallow as ma
from flask import Flask, Response, current_app, json
from flask_smorest.utils import prepare_response
from werkzeug.exceptions import HTTPException

from meterhub.extensions.api import PUBLIC_ATTRIBUTE

#: The media type of error answers.
PROBLEM_TYPE = "application/problem+json"

F = TypeVar("F", bound=Callable[..., Any])

API_SETTINGS = {
    "API_TITLE": "MeterHub",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api",
    "OPENAPI_JSON_PATH": "openapi.json",
    "API_SPEC_OPTIONS": {
        "info": {
            "description": (
                "MeterHub's REST API. Authenticate with a bearer token (`Authorization: Bearer "
                "mh_...`, see `POST /api/v1/tokens`) or with the login cookie of "
                "`POST /api/v1/auth/login` (then send the `X-CSRF-Token` header on every "
                "request that changes something). Errors are problem documents (RFC 9457)."
            )
        },
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "meterhub_session"},
            }
        },
        "security": [{"bearerAuth": []}, {"cookieAuth": []}],
    },
}


class Schema(ma.Schema):
    """Base of every schema of the API: unknown fields are refused, by name."""

    class Meta:
        """Refuse unknown fields."""

        unknown = ma.RAISE


class ProblemFieldSchema(Schema):
    """One wrong field of a request."""

    field = ma.fields.String(required=True, metadata={"description": "where: name or path"})
    reason = ma.fields.String(required=True, metadata={"description": "what is wrong"})


class ProblemSchema(Schema):
    """A problem document (RFC 9457) describing an error."""

    type = ma.fields.String(metadata={"description": "a URI naming the kind of problem"})
    title = ma.fields.String(required=True, metadata={"description": "the HTTP status in words"})
    status = ma.fields.Integer(required=True)
    detail = ma.fields.String(metadata={"description": "what went wrong, in words"})
    errors = ma.fields.List(
        ma.fields.Nested(ProblemFieldSchema),
        metadata={"description": "each wrong field of the request and why"},
    )


def _flatten(messages: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(field, reason) pairs from marshmallow's nested error messages."""
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            yield from _flatten(value, name)
    elif isinstance(messages, list | tuple):
        if all(isinstance(item, str) for item in messages):
            for item in messages:
                yield prefix or "request", item
        else:
            for index, item in enumerate(messages):
                yield from _flatten(item, f"{prefix}[{index}]")
    else:
        yield prefix or "request", str(messages)


def problem_response(
    status: int,
    detail: str | None = None,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A problem document response."""
    payload: dict[str, Any] = {
        "type": "about:blank",
        "title": http.HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        payload["detail"] = detail
    if errors:
        payload["errors"] = errors
    response = current_app.response_class(json.dumps(payload), status=status, mimetype=PROBLEM_TYPE)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


class Api(flask_smorest.Api):
    """The API: problem documents for errors, security schemes in the OpenAPI document."""

    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error: HTTPException) -> Response:  # type: ignore[override]
        """Answer any HTTP error as a problem document, keeping the error's own headers."""
        status = error.code or 500
        headers = {
            key: value for key, value in error.get_headers() if key.lower() != "content-type"
        }
        data = getattr(error, "data", None) or {}
        detail = data.get("message") or error.description
        errors = None
        messages = data.get("errors") or data.get("messages")
        if messages:
            errors = [
                {"field": field, "reason": reason}
                for field, reason in _flatten(_without_location(messages))
            ]
            detail = data.get("message") or "the request has invalid fields: " + ", ".join(
                sorted({entry["field"] for entry in errors})
            )
        headers.update(data.get("headers") or {})
        return problem_response(status, detail, errors=errors, headers=headers)

    def _register_responses(self) -> None:
        """Document the error responses as problem documents."""
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_TYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


def _without_location(messages: Any) -> Any:
    """webargs nests errors under the location (``json``, ``query``): drop that level."""
    if isinstance(messages, Mapping) and set(messages) <= {
        "json",
        "query",
        "querystring",
        "headers",
        "cookies",
        "form",
        "files",
        "view_args",
    }:
        merged: dict[str, Any] = {}
        for value in messages.values():
            if isinstance(value, Mapping):
                merged.update(value)
            else:
                merged.setdefault("request", value)
        return merged
    return messages


class Blueprint(flask_smorest.Blueprint):
    """A blueprint whose operations document the answers of access control and bad input."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._prepare_doc_cbks.append(self._prepare_access_doc)

    @staticmethod
    def public(func: F) -> F:
        """Mark an operation that needs no login (the login itself, the API description)."""
        setattr(func, PUBLIC_ATTRIBUTE, True)
        doc = getattr(func, "_apidoc", {})
        doc = deepcopy(doc)
        doc["meterhub_public"] = True
        func._apidoc = doc  # type: ignore[attr-defined]
        return func

    def _prepare_access_doc(
        self, doc: dict[str, Any], doc_info: dict[str, Any], *, method: str, **kwargs: Any
    ) -> dict[str, Any]:
        responses = doc.setdefault("responses", {})
        if doc_info.get("meterhub_public"):
            doc["security"] = []
        else:
            responses.setdefault(401, "UNAUTHORIZED")
            responses.setdefault(403, "FORBIDDEN")
        responses.setdefault(422, "UNPROCESSABLE_ENTITY")
        if method in ("post", "put", "patch", "delete"):
            responses.setdefault(409, "CONFLICT")
        return doc


def is_public(app: Flask, endpoint: str | None) -> bool:
    """Whether the view of ``endpoint`` needs no login."""
    if endpoint is None:
        return False
    view = app.view_functions.get(endpoint)
    if view is None:
        return False
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        from flask import request

        handler = getattr(view_class, request.method.lower(), None)
        return bool(getattr(handler, PUBLIC_ATTRIBUTE, False))
    return bool(getattr(view, PUBLIC_ATTRIBUTE, False))


def make_api() -> Api:
    """A new, unbound API object; the app factory binds it with ``init_app``."""
    return Api()


def openapi_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI document of ``app``, as served at ``/api/openapi.json``."""
    api: Api = app.extensions["flask-smorest"]["apis"][""]["ext_obj"]
    with app.app_context():
        return api.spec.to_dict()
