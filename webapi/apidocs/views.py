"""``/api/docs``: Swagger UI for the OpenAPI document, its assets from the swagger-ui-bundle
package (installed with MeterHub), so the page works without any network access."""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from flask import Blueprint, Response, render_template, send_from_directory

bp = Blueprint(
    "apidocs",
    __name__,
    url_prefix="/api/docs",
    template_folder="templates",
    static_folder="static",
    static_url_path="/meterhub",
)

#: Where swagger-ui-bundle keeps Swagger UI's files.
SWAGGER_UI = Path(swagger_ui_bundle.swagger_ui_path)
#: The files the page loads.
ASSETS = frozenset(
    {
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "favicon-32x32.png",
    }
)


@bp.get("")
@bp.get("/")
def docs_page() -> str:
    """The interactive documentation of the REST API."""
    return render_template("apidocs.html")


@bp.get("/assets/<path:name>")
def asset(name: str) -> Response:
    """One of Swagger UI's files, from the installed package."""
    if name not in ASSETS:
        from werkzeug.exceptions import NotFound

        raise NotFound()
    return send_from_directory(SWAGGER_UI, name)
