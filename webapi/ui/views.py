"""The start page (the last acquisition runs, the plugins); the license in every page footer."""

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
    """The start page: the last acquisition runs, what is installed, where to go next."""
    from meterhub.inventory.jobs import recent_runs

    runtime = current_runtime()
    with runtime.sessions() as session:
        runs = recent_runs(session, limit=10)
    return render_template(
        "index.html",
        plugins=runtime.plugins.records,
        database=runtime.engine.dialect.name,
        runs=runs,
    )
