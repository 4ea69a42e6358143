"""The Flask application factory: one app per runtime, API and UI served together."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api
from flask_smorest import Blueprint as SmorestBlueprint

from meterhub.config import Settings
from meterhub.extensions.api import ApiExtension
from meterhub.runtime import Runtime, build_runtime
from meterhub.webapi.extensions import API_SETTINGS, make_api
from meterhub.webapi.state import EXTENSION_KEY


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Flask:
    """Build the web application.

    ``runtime`` wins over ``settings``; with neither, the settings are read from the TOML file and
    ``METERHUB_*`` variables. Blueprints contributed by plugins (``register_api_blueprints``) are
    registered after the built-in ones.
    """
    runtime = runtime if runtime is not None else build_runtime(settings)
    # No app-wide static route: it would shadow the UI blueprint's /static/<file> (same rule,
    # registered first), and every asset lives in the blueprint (webapi/ui/static).
    app = Flask("meterhub.webapi", static_folder=None)
    app.config.update(API_SETTINGS)
    app.extensions[EXTENSION_KEY] = runtime

    from meterhub.webapi.system.resources import blp as system_blp
    from meterhub.webapi.ui.views import bp as ui_bp

    api = make_api()
    api.init_app(app)
    api.register_blueprint(system_blp)
    for extension in runtime.plugins.api_extensions().values():
        _register_extension(app, api, extension)
    app.register_blueprint(ui_bp)
    return app


def _register_extension(app: Flask, api: Api, extension: type[ApiExtension]) -> None:
    """Mount a plugin's blueprint; flask-smorest blueprints also join the OpenAPI document."""
    blueprint = extension().blueprint()
    if isinstance(blueprint, SmorestBlueprint):
        api.register_blueprint(blueprint, url_prefix=extension.mount_point())
    else:
        app.register_blueprint(blueprint, url_prefix=extension.mount_point())
