"""Two-step suspension through the real admin API: an operator's request with their token, the
matching owner's sign-off in their own session; a body naming an actor is refused; the ledger
records who proved it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from sekisho.actor import Actor
from sekisho.admin.tokens import create_token
from sekisho.simulator import SimulatorServer
from sekisho.store.db import Database
from sekisho.tenancy.service import find_user
from tests.lifecycle.support import PASSWORD, make_people, row_counts
from tests.support.databases import sqlite_url
from tests.support.gateway import (
    RunningGateway,
    gateway_settings,
    make_tenant,
    migrated,
    start_gateway,
)
from tests.support.ledger import ledger_entries


@dataclass
class Env:
    gw: RunningGateway
    db: Database
    people: dict[str, str]
    tokens: dict[str, str]
    settings: Any

    @property
    def api(self) -> str:
        return self.gw.url + "/admin/v1"

    def as_role(self, role: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.tokens[role]}"}


@pytest.fixture(scope="module")
def env(simulator: SimulatorServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    state: Path = tmp_path_factory.mktemp("requests-api")
    db = migrated(sqlite_url(state))
    settings = gateway_settings(
        simulator.url, state, sqlite_url(state), observe={"probes_enabled": False}
    )
    people = make_people(db)
    with db.begin() as session:
        tokens = {
            role: create_token(session, find_user(session, email), Actor.system("t"))[1]
            for role, email in people.items()
        }
    gw = start_gateway(settings, db)
    yield Env(gw, db, people, tokens, settings)
    gw.stop()
    db.dispose()


def _written(env: Env) -> dict[str, int]:
    """Rows a refused act could have written (background jobs' tables left out)."""
    counts = row_counts(env.db)
    return {t: counts[t] for t in ("suspension_requests", "ledger_entries", "tenant_suspensions")}


def _models(env: Env, key: str) -> tuple[int, str | None]:
    resp = httpx.get(env.gw.url + "/v1/models", headers={"authorization": f"Bearer {key}"})
    return resp.status_code, resp.json().get("error", {}).get("code")


def _sign_in(env: Env, http: httpx.Client, role: str) -> str:
    resp = http.post(env.api + "/session", json={"email": env.people[role], "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    return str(resp.json()["csrf_token"])


def test_request_then_owner_sign_off_in_their_own_session(env: Env) -> None:
    tenant_id, key = make_tenant(env.db, env.settings, "two-step")
    url = f"{env.api}/tenants/{tenant_id}/suspension-requests"
    body = {"reason": "non_payment", "note": "invoice 42 unpaid", "review_in_days": 3}

    # The attack: an owner naming someone else as requester. Refused, nothing written.
    before = _written(env)
    named = httpx.post(
        url, json={**body, "requested_by": env.people["operator"]}, headers=env.as_role("operator")
    )
    assert named.status_code == 400 and named.json()["error"]["code"] == "invalid_request"
    assert "requested_by" in named.json()["error"]["message"]
    owner_asks = httpx.post(url, json=body, headers=env.as_role("billing_owner"))
    assert owner_asks.status_code == 403
    assert _written(env) == before

    asked = httpx.post(url, json=body, headers=env.as_role("operator"))
    assert asked.status_code == 201, asked.text
    request_id = asked.json()["id"]
    assert request_id.startswith("sreq_") and asked.json()["state"] == "pending"
    assert _models(env, key) == (200, None), "a request alone must not suspend"

    listed = httpx.get(env.api + "/suspension-requests", headers=env.as_role("billing_owner"))
    mine = [r for r in listed.json()["requests"] if r["id"] == request_id]
    assert len(mine) == 1
    shown = mine[0]
    assert (shown["tenant_id"], shown["tenant"], shown["reason"], shown["note"]) == (
        tenant_id,
        "two-step",
        "non_payment",
        "invoice 42 unpaid",
    )
    assert shown["can_sign_off"] is True and shown["review_at"] is not None
    legal = httpx.get(env.api + "/suspension-requests", headers=env.as_role("legal_owner"))
    assert request_id not in {r["id"] for r in legal.json()["requests"]}

    wrong = httpx.post(
        f"{env.api}/suspension-requests/{request_id}/sign-off",
        json={},
        headers=env.as_role("legal_owner"),
    )
    assert wrong.status_code == 403 and "billing_owner" in wrong.json()["error"]["message"]
    assert _models(env, key) == (200, None)

    with httpx.Client() as owner:
        csrf = _sign_in(env, owner, "billing_owner")
        signed = owner.post(
            f"{env.api}/suspension-requests/{request_id}/sign-off",
            json={"note": "confirmed with finance"},
            headers={"x-csrf-token": csrf},
        )
    assert signed.status_code == 200, signed.text
    assert signed.json()["state"] == "executed"
    assert signed.json()["result"]["state"] == "suspended"
    assert _models(env, key) == (403, "tenant_suspended")

    entries = [e for e in ledger_entries(env.db) if e["tenant"] == tenant_id]
    by_action = {e["action"]: e for e in entries}
    create = by_action["suspension_request.create"]
    assert create["actor"]["email"] == env.people["operator"]
    assert create["details"]["via"] == "admin-api:token"
    sign = by_action["suspension_request.sign_off"]
    assert sign["actor"]["email"] == env.people["billing_owner"]
    assert sign["details"]["via"] == "admin-api:session"
    assert sign["note"] == "confirmed with finance"
    suspend = by_action["tenant.suspend"]
    assert suspend["actor"]["email"] == env.people["billing_owner"]
    assert suspend["details"]["requested_by"]["email"] == env.people["operator"]

    again = httpx.post(
        f"{env.api}/suspension-requests/{request_id}/sign-off",
        json={},
        headers=env.as_role("billing_owner"),
    )
    assert again.status_code == 400 and "executed" in again.json()["error"]["message"]

    back = httpx.post(
        f"{env.api}/tenants/{tenant_id}/reinstatement-requests",
        json={"note": "paid"},
        headers=env.as_role("admin"),
    )
    assert back.status_code == 201 and back.json()["reason"] == "non_payment"
    done = httpx.post(
        f"{env.api}/suspension-requests/{back.json()['id']}/sign-off",
        json={},
        headers=env.as_role("billing_owner"),
    )
    assert done.status_code == 200 and done.json()["result"]["state"] == "active"
    assert _models(env, key) == (200, None)


def test_withdrawn_requests_cannot_be_signed_off(env: Env) -> None:
    tenant_id, key = make_tenant(env.db, env.settings, "withdrawn")
    asked = httpx.post(
        f"{env.api}/tenants/{tenant_id}/suspension-requests",
        json={"reason": "security_event", "note": "credential leak suspected"},
        headers=env.as_role("operator"),
    )
    request_id = asked.json()["id"]
    stranger = httpx.post(
        f"{env.api}/suspension-requests/{request_id}/withdraw",
        json={},
        headers=env.as_role("billing_owner"),
    )
    assert stranger.status_code == 403
    gone = httpx.post(
        f"{env.api}/suspension-requests/{request_id}/withdraw",
        json={"note": "false alarm"},
        headers=env.as_role("security_owner"),
    )
    assert gone.status_code == 200 and gone.json()["state"] == "withdrawn"
    late = httpx.post(
        f"{env.api}/suspension-requests/{request_id}/sign-off",
        json={},
        headers=env.as_role("security_owner"),
    )
    assert late.status_code == 400
    assert _models(env, key) == (200, None)
    listed = httpx.get(
        env.api + "/suspension-requests",
        params={"state": "withdrawn", "tenant": tenant_id},
        headers=env.as_role("auditor"),
    )
    assert [r["id"] for r in listed.json()["requests"]] == [request_id]
