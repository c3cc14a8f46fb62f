"""The admin API's OpenAPI document describes what every GET route returns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sekisho.http.app import create_app
from sekisho.store.db import Database
from tests.support.databases import sqlite_url
from tests.support.gateway import gateway_settings
from tests.support.routes import api_routes


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    resolved: dict[str, Any] = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return resolved


def test_every_get_route_has_a_response_schema_and_json_ones_name_their_fields(
    tmp_path: Path,
) -> None:
    settings = gateway_settings("http://127.0.0.1:9", tmp_path, sqlite_url(tmp_path))
    app = create_app(settings, db=Database(settings.database_url))
    doc = app.admin.openapi()
    routes = list(api_routes(app.admin.routes))
    # Only the docs page itself stays out of the document.
    assert [p for p, r in routes if not r.include_in_schema] == ["/docs"]
    gets = [path for path, r in routes if "GET" in r.methods and r.include_in_schema]
    assert len(gets) > 30 and "/tenants" in gets
    typed = []
    for path in gets:
        content = doc["paths"][path]["get"]["responses"]["200"].get("content", {})
        assert content, f"GET {path}: no response content"
        for media, body in content.items():
            assert body.get("schema"), f"GET {path}: {media} has no schema"
        if "application/json" not in content:
            continue
        schema = _resolve(doc, content["application/json"]["schema"])
        assert schema.get("properties"), f"GET {path}: the schema names no fields: {schema}"
        typed.append(path)
    assert {"/tenants", "/tenants/{ref}", "/tenants/{ref}/keys", "/usage"} <= set(typed)
    # A typed answer says which fields it always has.
    tenant = doc["components"]["schemas"]["TenantView"]
    assert {"id", "state", "suspensions"} <= set(tenant["required"])
