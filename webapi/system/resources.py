"""``GET /api/system``: what this MeterHub is running with."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask.views import MethodView

from meterhub import __version__
from meterhub.webapi.extensions import Blueprint
from meterhub.webapi.security import optional_access
from meterhub.webapi.state import current_runtime
from meterhub.webapi.system.schemas import SystemInfoSchema

blp = Blueprint("system", __name__, url_prefix="/api/system", description="System information")


@blp.route("")
class SystemInfo(MethodView):
    """The version; for a logged-in user also the database, license and plugins."""

    @blp.public
    @blp.response(200, SystemInfoSchema)
    def get(self) -> dict[str, Any]:
        """Describe the running system

        Anyone sees the version. The database backend, the license in force and the plugins
        (with why one was refused or failed) are shown only to a logged-in user.
        """
        info: dict[str, Any] = {"version": __version__}
        if optional_access() is None:
            return info
        runtime = current_runtime()
        lic = runtime.license
        info.update(
            database=runtime.engine.dialect.name,
            license={
                "customer": lic.customer,
                "license_id": lic.license_id,
                "development": lic.development,
                "expires": lic.expires,
                "limits": dict(lic.limits),
                "features": sorted(lic.features),
            },
            plugins=[asdict(record) for record in runtime.plugins.records],
        )
        return info
