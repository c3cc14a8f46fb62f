"""The public status page and /metrics keep provider identity out; the admin API for
series, alerts and incidents enforces roles and the leak check."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest

from sekisho.actor import Actor
from sekisho.admin.tokens import create_token
from sekisho.incidents.tables import IncidentEvent
from sekisho.settings import settings_from_document
from sekisho.simulator import SimulatorServer
from sekisho.store.db import Database
from sekisho.tenancy import service
from tests.observe.drill import IDENTITY, SECRETS, drill_document
from tests.support.gateway import RunningGateway, make_tenant, migrated, start_gateway
from tests.support.ledger import ledger_entries


@dataclass
class Env:
    gw: RunningGateway
    db: Database
    key: str
    tokens: dict[str, str]

    def admin(self, method: str, path: str, role: str = "operator", **kw: object) -> httpx.Response:
        return httpx.request(
            method,
            f"{self.gw.url}/admin/v1{path}",
            timeout=10,
            headers={"authorization": f"Bearer {self.tokens[role]}"},
            **kw,
        )  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def env(simulator: SimulatorServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    state = tmp_path_factory.mktemp("status")
    doc = drill_document(simulator, state, "")
    doc["observe"] = {**doc["observe"], "probe_interval_s": 60}  # one early round is enough
    settings = settings_from_document(doc, SECRETS)
    db = migrated(settings.database_url)
    key = make_tenant(db, settings, "acme")[1]
    tokens = {}
    actor = Actor.system("tests")
    with db.begin() as s:
        for role in ("operator", "auditor", "billing_owner"):
            user = service.create_user(s, f"{role}@example.test", role, "pw-123456789", actor)
            tokens[role] = create_token(s, user, actor)[1]
    gw = start_gateway(settings, db)
    with httpx.Client(timeout=10) as http:
        for _ in range(3):
            http.post(
                gw.url + "/v1/chat/completions",
                headers={"authorization": f"Bearer {key}"},
                json={"model": "open-chat", "messages": [{"role": "user", "content": "x"}]},
            )
    try:
        yield Env(gw, db, key, tokens)
    finally:
        gw.stop()
        db.dispose()


def _no_identity(text: str) -> None:
    for needle in IDENTITY:
        assert needle not in text.lower(), f"{needle!r} leaked"


def test_metrics_are_public_safe_and_provider_series_need_a_token(env: Env) -> None:
    anon = httpx.get(env.gw.url + "/metrics", timeout=10)
    assert anon.status_code == 200 and anon.headers["content-type"].startswith("text/plain")
    assert 'sekisho_requests_total{alias="open-chat",status="200",code=""} 3' in anon.text
    assert 'sekisho_request_duration_seconds_bucket{alias="open-chat",le="+Inf"} 3' in anon.text
    assert "sekisho_request_log_queue_depth" in anon.text
    assert "sekisho_suspensions_overdue 0" in anon.text
    _no_identity(anon.text)
    inside = httpx.get(
        env.gw.url + "/metrics",
        timeout=10,
        headers={"authorization": f"Bearer {env.tokens['auditor']}"},
    )
    assert 'sekisho_upstream_attempts_total{provider="obs-alpha",outcome="ok"} 3' in inside.text
    assert 'sekisho_circuit_state{provider="obs-alpha",model="a1"}' in inside.text
    bad = httpx.get(
        env.gw.url + "/metrics",
        timeout=10,
        headers={"authorization": "Bearer sko_000000000000_" + "x" * 43},
    )
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "invalid_api_key"


def test_metrics_can_be_closed_to_anonymous_scrapers(
    simulator: SimulatorServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    state = tmp_path_factory.mktemp("closed")
    doc = drill_document(simulator, state, "")
    doc["observe"] = {"metrics_public": False, "probes_enabled": False}
    settings = settings_from_document(doc, SECRETS)
    db = migrated(settings.database_url)
    gw = start_gateway(settings, db)
    try:
        assert httpx.get(gw.url + "/metrics", timeout=10).status_code == 401
    finally:
        gw.stop()
        db.dispose()


def test_series_and_alerts_by_admin_api(env: Env) -> None:
    deadline = time.monotonic() + 5
    while True:  # the rollup is flushed every 0.2 s
        resp = env.admin("GET", "/aliases/open-chat/series", role="auditor", params={"since": "1h"})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        if body["totals"]["requests"] == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert body["alias"] == "open-chat" and body["totals"]["requests"] == 3
    assert body["totals"]["latency_ms"]["p95"] is not None
    assert env.admin("GET", "/aliases/nope/series").status_code == 404
    assert (
        env.admin(
            "GET", "/aliases/open-chat/series", params={"since": "1h", "from": "2026-01-01"}
        ).status_code
        == 400
    )
    provider = env.admin("GET", "/providers/obs-alpha/series", params={"since": "1h"}).json()
    assert provider["totals"]["codes"] == {"ok": 3}
    assert env.admin("GET", "/alerts").json() == {"alerts": []}
    triage = env.admin("GET", "/aliases/open-chat/triage", params={"window": "5m"}).json()
    assert triage["verdict"] in ("healthy", "unknown")


def test_incidents_by_admin_api_with_roles_and_leak_check(env: Env) -> None:
    body = {"title": "Errors on open-chat", "severity": "SEV3", "aliases": ["open-chat"]}
    assert env.admin("POST", "/incidents", role="auditor", json=body).status_code == 403
    leaky = env.admin("POST", "/incidents", json={**body, "title": "OBS GAMMA trouble"})
    assert leaky.status_code == 400 and "obs-gamma" in leaky.json()["error"]["message"]
    created = env.admin("POST", "/incidents", json=body)
    assert created.status_code == 201, created.text
    incident = created.json()["id"]
    assert (
        env.admin(
            "POST", f"/incidents/{incident}/notes", json={"text": "obs-alpha slow"}
        ).status_code
        == 201
    )
    bad = env.admin(
        "POST",
        f"/incidents/{incident}/updates",
        json={"text": "see https://region-of-obs-alpha.example"},
    )
    assert bad.status_code == 400
    assert (
        env.admin(
            "POST", f"/incidents/{incident}/updates", json={"text": "Slow answers on open-chat."}
        ).status_code
        == 201
    )
    # A provider named in old text (say, after a matrix change) is withheld on the way out.
    with env.db.begin() as s:
        s.add(
            IncidentEvent(
                incident_id=incident,
                ts=datetime.now(UTC),
                kind="update",
                public=True,
                author="x",
                text="moved to obs-gamma",
            )
        )
    status = httpx.get(env.gw.url + "/status.json", timeout=10)
    _no_identity(status.text)
    texts = [u["text"] for u in status.json()["incidents"][0]["updates"]]
    assert texts == ["(update withheld)", "Slow answers on open-chat."]
    _no_identity(httpx.get(env.gw.url + "/status", timeout=10).text)
    shown = env.admin("GET", f"/incidents/{incident}", role="auditor").json()
    assert [e["kind"] for e in shown["timeline"]][:3] == ["opened", "note", "update"]
    resolved = env.admin("POST", f"/incidents/{incident}/resolve", json={"evidence": False})
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    again = env.admin("POST", f"/incidents/{incident}/resolve", json={})
    assert again.status_code == 400
    assert env.admin("GET", "/incidents/inc_nope").status_code == 404
    actions = [e["action"] for e in ledger_entries(env.db) if e["target"]["id"] == incident]
    assert actions == ["incident.open", "incident.note", "incident.update", "incident.resolve"]


READ = {"operator", "auditor"}
WRITE = {"operator"}
MY_ROUTES = [
    ("GET", "/aliases/open-chat/series", READ),
    ("GET", "/tenants/t/series", READ),
    ("GET", "/providers/obs-alpha/series", READ),
    ("GET", "/alerts", READ),
    ("GET", "/probes", READ),
    ("GET", "/aliases/open-chat/triage", READ),
    ("GET", "/incidents", READ),
    ("GET", "/incidents/inc_nope", READ),
    ("POST", "/incidents", WRITE),
    ("POST", "/incidents/inc_nope/notes", WRITE),
    ("POST", "/incidents/inc_nope/updates", WRITE),
    ("POST", "/incidents/inc_nope/resolve", WRITE),
    ("POST", "/incidents/inc_nope/evidence", WRITE),
]


@pytest.mark.parametrize("method, path, allowed", MY_ROUTES)
@pytest.mark.parametrize("role", ["operator", "auditor", "billing_owner", None])
def test_route_by_role(
    env: Env, method: str, path: str, allowed: set[str], role: str | None
) -> None:
    headers = {"authorization": f"Bearer {env.tokens[role]}"} if role else {}
    resp = httpx.request(
        method,
        f"{env.gw.url}/admin/v1{path}",
        headers=headers,
        timeout=10,
        json={} if method == "POST" else None,
    )
    if role is None:
        assert resp.status_code == 401
    elif role in allowed:
        assert resp.status_code not in (401, 403), resp.text
    else:
        assert resp.status_code == 403, resp.text
