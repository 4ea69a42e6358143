"""The start page; it shows the license in force in every page footer."""

from __future__ import annotations

from flask import Blueprint, render_template

from meterhub import __version__
from meterhub.webapi.state import current_runtime

bp = Blueprint("ui", __name__, template_folder="templates", static_folder="static")


@bp.app_context_processor
def footer_context() -> dict[str, object]:
    """Variables every page template sees: version and license."""
    runtime = current_runtime()
    return {"version": __version__, "license": runtime.license}


@bp.get("/")
def index() -> str:
    """The start page: what is installed and where to go next."""
    runtime = current_runtime()
    return render_template(
        "index.html",
        plugins=runtime.plugins.records,
        database=runtime.engine.dialect.name,
    )
