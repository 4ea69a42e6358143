"""The Flask application factory: one app per runtime, API and UI served together."""

from __future__ import annotations

from importlib import import_module

from flask import Flask
from flask_smorest import Blueprint as SmorestBlueprint

from meterhub.access.throttle import LoginThrottle
from meterhub.config import Settings
from meterhub.extensions.api import ApiExtension
from meterhub.runtime import Runtime, build_runtime
from meterhub.webapi.extensions import API_SETTINGS, Api, make_api
from meterhub.webapi.security import init_security
from meterhub.webapi.security.authentication import CACHE_KEY, ContextCache
from meterhub.webapi.state import EXTENSION_KEY, THROTTLE_KEY

#: The built-in resources, each a package with ``resources.py`` defining ``blp``.
RESOURCE_PACKAGES: tuple[str, ...] = (
    "system",
    "auth",
    "tokens",
    "elements",
    "templates",
    "metering_points",
    "virtual_meters",
    "containers",
    "channels",
    "meters",
    "devices",
    "paths",
    "groups",
    "users",
    "roles",
    "segments",
    "parameters",
    "audit",
    "search",
    "meterdata",
    "jobs",
    "runs",
    "tasks",
    "errorgroups",
    "firmware",
    "profiles",
    "veeruns",
    "scripts",
    "calculations",
    "releases",
    "statistics",
)


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Flask:
    """Build the web application.

    ``runtime`` wins over ``settings``; with neither, the settings are read from the TOML file and
    ``METERHUB_*`` variables. Blueprints contributed by plugins (``register_api_blueprints``) are
    registered after the built-in ones, behind the same authentication.
    """
    runtime = runtime if runtime is not None else build_runtime(settings)
    # No app-wide static route: it would shadow the UI blueprint's /static/<file> (same rule,
    # registered first), and every asset lives in the blueprint (webapi/ui/static).
    app = Flask("meterhub.webapi", static_folder=None)
    app.config.update(API_SETTINGS)
    app.config["METERHUB_SECURE_COOKIES"] = runtime.settings.secure_cookies
    app.extensions[EXTENSION_KEY] = runtime
    app.extensions[THROTTLE_KEY] = LoginThrottle()
    app.extensions[CACHE_KEY] = ContextCache()

    from meterhub.webapi.apidocs.views import bp as docs_bp
    from meterhub.webapi.metrics.views import bp as metrics_bp
    from meterhub.webapi.ui.views import bp as ui_bp

    api = make_api()
    api.init_app(app)
    init_security(app)
    for package in RESOURCE_PACKAGES:
        module = import_module(f"meterhub.webapi.{package}.resources")
        api.register_blueprint(module.blp)
    for extension in runtime.plugins.api_extensions().values():
        _register_extension(app, api, extension)
    app.register_blueprint(docs_bp)
    app.register_blueprint(metrics_bp)
    app.register_blueprint(ui_bp)
    return app


def _register_extension(app: Flask, api: Api, extension: type[ApiExtension]) -> None:
    """Mount a plugin's blueprint; flask-smorest blueprints also join the OpenAPI document."""
    blueprint = extension().blueprint()
    if isinstance(blueprint, SmorestBlueprint):
        api.register_blueprint(blueprint, url_prefix=extension.mount_point())
    else:
        app.register_blueprint(blueprint, url_prefix=extension.mount_point())
