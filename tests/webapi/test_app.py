from collections.abc import Callable
from pathlib import Path

import pytest
from api_helpers import Login, bearer, browser_login, make_user
from flask import Blueprint, Flask, g
from flask_smorest import Blueprint as SmorestBlueprint

from meterhub import __version__, hookimpl
from meterhub.config import Settings
from meterhub.extensions.api import ApiExtension, public
from meterhub.pluginhost import build_plugin_host
from meterhub.runtime import Runtime, build_runtime
from meterhub.webapi.app import create_app


def test_start_page_footer_says_development_license(app: Flask, admin: Login) -> None:
    browser = app.test_client()
    assert browser.get("/").status_code == 302  # to the login page first
    browser_login(browser, "admin")
    response = browser.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'id="license-footer"' in page
    assert (
        "Development license (no license file): every feature enabled, at most 50 virtual "
        "meters and 5 named users; not for production"
    ) in page
    assert "simulated" in page  # the built-in driver is listed among the plugins


def test_start_page_footer_names_the_licensee(
    settings_for: Callable[..., Settings],
    signed_license: Callable[..., tuple[Path, Path]],
) -> None:
    license_file, public_key = signed_license()
    runtime = build_runtime(settings_for(license_file=license_file, license_public_key=public_key))
    try:
        make_user(runtime, "admin")
        browser = create_app(runtime=runtime).test_client()
        login_page = browser.get("/login").get_data(as_text=True)
        browser_login(browser, "admin")
        page = browser.get("/").get_data(as_text=True)
    finally:
        runtime.close()
    assert "Acme Energy" not in login_page  # nobody learns the licensee before logging in
    assert "Licensed to Acme Energy (L-2026-001, expires 2099-12-31)" in page
    assert "Development license" not in page


def test_system_info_shows_only_the_version_without_a_login(app: Flask) -> None:
    assert app.test_client().get("/api/system").get_json() == {"version": __version__}


def test_system_info_reports_version_license_and_plugins(
    app: Flask, backend: str, admin: Login
) -> None:
    body = app.test_client().get("/api/system", headers=bearer(admin)).get_json()
    assert body["database"] == backend
    assert body["license"]["development"] is True
    assert body["license"]["features"] == ["*"]
    loaded = {(p["group"], p["name"]): p for p in body["plugins"]}
    assert loaded[("meterhub.drivers", "simulated")]["status"] == "loaded"
    assert loaded[("meterhub.drivers", "simulated")]["distribution"] == "meterhub"


def test_openapi_document_is_served(app: Flask) -> None:
    spec = app.test_client().get("/api/openapi.json").get_json()
    assert spec["info"]["title"] == "MeterHub"
    assert "/api/system" in spec["paths"]


def test_a_refused_plugin_shows_its_reason_on_the_start_page(
    settings_for: Callable[..., Settings],
    signed_license: Callable[..., tuple[Path, Path]],
) -> None:
    license_file, public_key = signed_license(features=["driver:*"])
    runtime = build_runtime(settings_for(license_file=license_file, license_public_key=public_key))
    try:
        make_user(runtime, "admin")
        browser = create_app(runtime=runtime).test_client()
        browser_login(browser, "admin")
        page = browser.get("/").get_data(as_text=True)
        anonymous = create_app(runtime=runtime).test_client().get("/api/system").get_json()
    finally:
        runtime.close()
    assert "plugins" not in anonymous
    assert "feature export:memory not enabled by license L-2026-001 for Acme Energy" in page


class _HelloApi(ApiExtension):
    name = "hello"

    def blueprint(self) -> Blueprint:
        blueprint = Blueprint("hello", __name__)
        blueprint.add_url_rule("/greeting", "greeting", lambda: {"hello": "world"})
        blueprint.add_url_rule("/open", "open", public(lambda: {"open": True}))

        def meters_seen() -> dict[str, int]:
            g.access.require("meter", "view")  # the request's access context, as built-ins use
            return {"user": g.access.username}

        blueprint.add_url_rule("/whoami", "whoami", meters_seen)
        return blueprint


class _DocumentedApi(ApiExtension):
    name = "documented"
    url_prefix = "/api/documented"

    def blueprint(self) -> SmorestBlueprint:
        blueprint = SmorestBlueprint("documented", __name__, description="A plugin API")

        @blueprint.route("/ping")
        @blueprint.response(200)
        def ping() -> dict[str, str]:
            return {"pong": "yes"}

        return blueprint


class _ApiPlugin:
    @hookimpl
    def register_api_blueprints(self) -> list[type[ApiExtension]]:
        return [_HelloApi, _DocumentedApi]


@pytest.fixture
def app_with_plugin_api(runtime: Runtime) -> Flask:
    runtime.plugins = build_plugin_host(
        runtime.license, runtime.settings, extra_plugins=[_ApiPlugin()]
    )
    return create_app(runtime=runtime)


def test_plugin_blueprints_are_mounted(app_with_plugin_api: Flask, admin: Login) -> None:
    client = app_with_plugin_api.test_client()
    token = bearer(admin)
    assert client.get("/api/plugins/hello/greeting", headers=token).get_json() == {"hello": "world"}
    assert client.get("/api/documented/ping", headers=token).get_json() == {"pong": "yes"}
    # a plugin's endpoints sit behind the same authentication as the built-in ones
    assert client.get("/api/plugins/hello/greeting").status_code == 401
    assert client.get("/api/documented/ping").status_code == 401
    assert client.get("/api/plugins/hello/open").get_json() == {"open": True}
    assert client.get("/api/plugins/hello/whoami", headers=token).get_json() == {"user": "admin"}
    spec = client.get("/api/openapi.json").get_json()
    assert "/api/documented/ping" in spec["paths"]


def test_the_stylesheet_is_served(app: Flask) -> None:
    """The UI blueprint's assets answer at /static/ (no app-wide static route shadows them)."""
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    assert 'href="/static/meterhub.css"' in page
    response = client.get("/static/meterhub.css")
    assert response.status_code == 200
    assert response.mimetype == "text/css"
    shipped = Path(__file__).resolve().parents[2] / "webapi" / "ui" / "static" / "meterhub.css"
    assert response.get_data() == shipped.read_bytes()
    response.close()
    assert client.get("/static/no-such-file.css").status_code == 404
