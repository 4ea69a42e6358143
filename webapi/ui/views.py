"""The start page (the last acquisition runs, the plugins) and the login page; every page but
the login shows the license in its footer."""

from __future__ import annotations

from flask import Blueprint, render_template

from meterhub import __version__
from meterhub.webapi.security import optional_access
from meterhub.webapi.state import current_runtime

bp = Blueprint("ui", __name__, template_folder="templates", static_folder="static")


@bp.app_context_processor
def footer_context() -> dict[str, object]:
    """Variables every page template sees: version, and the license for a logged-in user."""
    access = optional_access()
    license = current_runtime().license if access is not None else None
    return {"version": __version__, "license": license, "access": access}


@bp.get("/")
def index() -> str:
    """The start page: the last acquisition runs, what is installed, where to go next (logged-in
    users only)."""
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


@bp.get("/login")
def login_page() -> str:
    """The login form; it posts to ``/api/v1/auth/login`` from ``login.js``."""
    return render_template("login.html")
