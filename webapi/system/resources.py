"""``GET /api/system``: what this MeterHub is running with."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from meterhub import __version__
from meterhub.webapi.state import current_runtime
from meterhub.webapi.system.schemas import SystemInfoSchema

blp = Blueprint("system", __name__, url_prefix="/api/system", description="System information")


@blp.route("")
class SystemInfo(MethodView):
    """The version, database backend, license and plugins in use."""

    @blp.response(200, SystemInfoSchema)
    def get(self) -> dict[str, Any]:
        """Describe the running system."""
        runtime = current_runtime()
        lic = runtime.license
        return {
            "version": __version__,
            "database": runtime.engine.dialect.name,
            "license": {
                "customer": lic.customer,
                "license_id": lic.license_id,
                "development": lic.development,
                "expires": lic.expires,
                "limits": dict(lic.limits),
                "features": sorted(lic.features),
            },
            "plugins": [asdict(record) for record in runtime.plugins.records],
        }
