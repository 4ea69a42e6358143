"""``/metrics``: no login needed, the setting ``metrics_token`` as a bearer token when set."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from meterhub.config import Settings
from meterhub.runtime import build_runtime
from meterhub.webapi.app import create_app


def _names(text: str) -> set[str]:
    return {family.name for family in text_string_to_metric_families(text)}


def test_metrics_need_no_login_while_the_api_does(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/api/v1/meters").status_code == 401
    response = client.get("/metrics")
    assert response.status_code == 200
    names = _names(response.get_data(as_text=True))
    # no engine in this process: only the counters and whether an engine runs
    assert {
        "meterhub_acquisition_engine_running",
        "meterhub_acquisition_tasks_succeeded",
        "meterhub_acquisition_values_stored",
    } <= names
    assert "meterhub_acquisition_line_pool_capacity" not in names
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/metrics/other").status_code != 200  # only the exact path is open


def test_metrics_token_is_required_when_set(settings_for: Callable[..., Settings]) -> None:
    runtime = build_runtime(settings_for(metrics_token="s3cret-scrape"))
    try:
        client = create_app(runtime=runtime).test_client()
        missing = client.get("/metrics")
        assert missing.status_code == 401
        assert missing.headers["WWW-Authenticate"].startswith("Bearer")
        assert "metrics_token" in missing.get_data(as_text=True)
        wrong = client.get("/metrics", headers={"Authorization": "Bearer s3cret-other"})
        assert wrong.status_code == 401
        basic = client.get("/metrics", headers={"Authorization": "Basic s3cret-scrape"})
        assert basic.status_code == 401
        right = client.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape"})
        assert right.status_code == 200
        assert "meterhub_acquisition_engine_running" in _names(right.get_data(as_text=True))
    finally:
        runtime.close()
