"""The flask-smorest API object, created once per application in :func:`create_app`."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_smorest import Api

API_SETTINGS = {
    "API_TITLE": "MeterHub",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api",
    "OPENAPI_JSON_PATH": "openapi.json",
}


def make_api() -> Api:
    """A new, unbound API object; the app factory binds it with ``init_app``."""
    return Api()


def openapi_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI document of ``app``, as served at ``/api/openapi.json``."""
    api: Api = app.extensions["flask-smorest"]["apis"][""]["ext_obj"]
    with app.app_context():
        return api.spec.to_dict()
