"""The admin API's OpenAPI document describes what every GET route returns, and the
routes answer what it says."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jsonschema

from sekisho.actor import Actor
from sekisho.admin.guardrails import EVENT_FIELDS
from sekisho.admin.schemas import GuardrailEvent, GuardrailPolicy
from sekisho.admin.tokens import create_token
from sekisho.guardrails.config import PolicySpec
from sekisho.http.app import create_app
from sekisho.incidents import service as incidents
from sekisho.observe import alerts
from sekisho.observe.rollup import Cell, bucket_start
from sekisho.observe.rollup_store import write_deltas
from sekisho.observe.spike import SpikeRule
from sekisho.store.db import Database
from sekisho.tenancy import service
from tests.gateway.conftest import Env
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
    typed: list[str] = []
    other: list[str] = []
    for path in gets:
        content = doc["paths"][path]["get"]["responses"]["200"].get("content", {})
        assert content, f"GET {path}: no response content"
        for media, body in content.items():
            assert body.get("schema"), f"GET {path}: {media} has no schema"
        if "application/json" not in content:
            other.append(path)
            continue
        schema = _resolve(doc, content["application/json"]["schema"])
        assert schema.get("properties"), f"GET {path}: the schema names no fields: {schema}"
        assert set(schema.get("required", ())) == set(schema["properties"]), (
            f"GET {path}: every field of the answer is always there (null when unknown)"
        )
        typed.append(path)
    assert {"/tenants", "/incidents/{incident_id}", "/ledger/verify", "/alerts"} <= set(typed)
    assert other == ["/evidence/{bundle_id}"]  # a tar; every other GET route answers JSON
    # A typed answer says which fields it always has.
    tenant = doc["components"]["schemas"]["TenantView"]
    assert {"id", "state", "suspensions"} <= set(tenant["required"])


def test_models_name_every_field_their_source_writes() -> None:
    # Fields a response model does not name are dropped from the answer: these follow
    # the lists they are written from.
    assert tuple(GuardrailEvent.model_fields) == EVENT_FIELDS
    assert list(GuardrailPolicy.model_fields) == ["version", *PolicySpec.model_fields]


def _exact(doc: dict[str, Any], schema: dict[str, Any], value: Any, where: str) -> int:
    """Every object in `value` has exactly the fields its schema requires; returns how
    many objects were checked."""
    schema = _resolve(doc, schema)
    if "anyOf" in schema:
        if value is None:
            return 0
        [branch] = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return _exact(doc, branch, value, where)
    checked = 0
    if "properties" in schema:
        assert set(value) == set(schema["required"]), f"{where}: {sorted(value)}"
        checked = 1
        for name, sub in schema["properties"].items():
            checked += _exact(doc, sub, value[name], f"{where}.{name}")
    elif schema.get("type") == "array":
        for i, item in enumerate(value):
            checked += _exact(doc, schema["items"], item, f"{where}[{i}]")
    elif isinstance(schema.get("additionalProperties"), dict):
        for key, item in value.items():
            checked += _exact(doc, schema["additionalProperties"], item, f"{where}.{key}")
    return checked


def _alert_that_fired_and_resolved(db: Database) -> None:
    """The spike rule's own path: errors fire an alert, a quiet window resolves it."""

    def cells(ts: datetime, ok: int, errors: int) -> dict[Any, Cell]:
        cell = Cell()
        cell.count_status(200, None, ok)
        cell.count_status(502, "upstream_unavailable", errors)
        return {(bucket_start(ts, 10), "alias", "chat-fast"): cell}

    rule = SpikeRule(window_s=60, baseline_s=600, min_requests=10)
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20)
    write_deltas(db, "openapi-test", cells(t0, 10, 10))
    [fired] = alerts.evaluate(db, rule, ["chat-fast"], now=t0 + timedelta(seconds=5))
    t1 = t0 + timedelta(minutes=3)
    write_deltas(db, "openapi-test", cells(t1, 30, 0))
    [resolved] = alerts.evaluate(db, rule, ["chat-fast"], now=t1 + timedelta(seconds=5))
    assert (fired.state, resolved.state) == ("firing", "resolved")


def test_live_answers_validate_and_hold_exactly_the_required_fields(env: Env) -> None:
    actor = Actor.system("tests")
    with env.db.begin() as s:
        admin = service.create_user(s, "openapi-admin@x.example", "admin", None, actor)
        _, token = create_token(s, admin, actor)
    _alert_that_fired_and_resolved(env.db)
    with httpx.Client(
        base_url=env.url + "/admin/v1", timeout=30, headers={"authorization": f"Bearer {token}"}
    ) as http:
        doc = http.get("openapi.json").json()
        opened = http.post(
            "incidents",
            json={"title": "Slow answers", "severity": "SEV3", "aliases": ["chat-large"]},
        )
        assert opened.status_code == 201, opened.text
        incident_id = opened.json()["id"]
        drained = http.post(
            "aliases/chat-large/overrides",
            json={
                "kind": "drain",
                "provider": "meridian-eu",
                "duration_s": 600,
                "reason": "openapi test",
                "incident_id": incident_id,
            },
        )
        assert drained.status_code == 201, drained.text
        alias = http.get("aliases/chat-large")  # read while the drain is active
        note = http.post(f"incidents/{incident_id}/notes", json={"text": "drained meridian"})
        assert note.status_code == 201, note.text
        resolved = http.post(f"incidents/{incident_id}/resolve", json={"note": "recovered"})
        assert resolved.status_code == 200, resolved.text
        answers = {
            "/incidents/{incident_id}": http.get(f"incidents/{incident_id}"),
            "/ledger/verify": http.get("ledger/verify"),
            "/alerts": http.get("alerts", params={"all": "true"}),
            "/aliases/{alias}": alias,
        }
    for path, response in answers.items():
        assert response.status_code == 200, f"GET {path}: {response.text}"
        body = response.json()
        schema = doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        jsonschema.Draft202012Validator(
            {**schema["schema"], "components": doc["components"]}
        ).validate(body)
        assert _exact(doc, schema["schema"], body, path) > 1
    # The parts that are empty or null on a quiet day are filled here, so checked too.
    incident = answers["/incidents/{incident_id}"].json()
    assert incident["impact"] and incident["evidence"] and incident["overrides"]
    assert {e["kind"] for e in incident["timeline"]} >= {"opened", "note", "resolved"}
    [alert] = [a for a in answers["/alerts"].json()["alerts"] if a["alias"] == "chat-fast"]
    assert alert["at_resolution"] is not None
    assert answers["/aliases/{alias}"].json()["overrides"][0]["active"] is True
    assert answers["/ledger/verify"].json()["ledgers"]
    # And the models drop nothing: the client gets what the services build, key for key.
    with env.db.read() as s:
        built = incidents.incident_document(s, incidents.get(s, incident_id))
        listed = alerts.list_alerts(s, include_resolved=True)
    assert json.dumps(incident) == json.dumps(built)
    assert json.dumps(alert) == json.dumps(next(a for a in listed if a["alias"] == "chat-fast"))
