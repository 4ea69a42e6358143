"""The OpenAPI document in docs/ is the one the code generates."""

import json
from pathlib import Path

from flask import Flask

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_docs_openapi_json_is_current(app: Flask) -> None:
    generated = app.test_client().get("/api/openapi.json").get_json()
    committed = json.loads(DOCUMENT.read_text())
    assert generated == committed, (
        "docs/openapi.json is stale: run 'meterhub openapi write docs/openapi.json'"
    )
