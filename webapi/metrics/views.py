"""``/metrics``: the runtime's Prometheus metrics in the text format, for a Prometheus scraper.

Scrapers do not log in, so ``/metrics`` is exempt from the login. With the setting
``metrics_token`` set, a scrape must send it as a bearer token (``Authorization: Bearer
<token>``; Prometheus: ``authorization: {credentials: <token>}``), else it gets 401. With the
setting empty, the metrics are open to whoever reaches the port.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, request

from meterhub.acquisition.metrics import CONTENT_TYPE
from meterhub.webapi.state import current_runtime

bp = Blueprint("metrics", __name__)

#: The path of the metrics, exempt from the login (see the module docstring).
METRICS_PATH = "/metrics"


def _authorized(token: str) -> bool:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(credentials.strip().encode(), token.encode())


@bp.get(METRICS_PATH)
def metrics() -> Response:
    """The Prometheus metrics of this process (text format 0.0.4)."""
    runtime = current_runtime()
    token = runtime.settings.metrics_token.get_secret_value()
    if token and not _authorized(token):
        return Response(
            "a bearer token (the setting metrics_token) is required\n",
            status=401,
            mimetype="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    return Response(runtime.metrics.exposition(), content_type=CONTENT_TYPE)
