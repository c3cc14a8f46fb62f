"""API key lifecycle through the admin API on a running gateway: create (scoped, expiring),
list (prefix, created, last used), rotate with an overlap window, revoke at once."""

from __future__ import annotations

import time
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
from tests.lifecycle.support import make_people
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
    token: str
    auditor: str
    tenant_id: str


@pytest.fixture(scope="module")
def env(simulator: SimulatorServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    state: Path = tmp_path_factory.mktemp("keys")
    db = migrated(sqlite_url(state))
    settings = gateway_settings(
        simulator.url, state, sqlite_url(state), observe={"probes_enabled": False}
    )
    people = make_people(db, passwords=False)
    tenant_id, _ = make_tenant(db, settings, "keyed")
    with db.begin() as session:
        token = create_token(session, find_user(session, people["operator"]), Actor.system("t"))[1]
        auditor = create_token(session, find_user(session, people["auditor"]), Actor.system("t"))[1]
    gw = start_gateway(settings, db)
    yield Env(gw, db, token, auditor, tenant_id)
    gw.stop()
    db.dispose()


def _admin(
    env: Env, method: str, path: str, body: dict[str, Any] | None = None, token: str | None = None
) -> httpx.Response:
    return httpx.request(
        method,
        env.gw.url + "/admin/v1" + path,
        json=body,
        timeout=10,
        headers={"authorization": f"Bearer {token or env.token}"},
    )


def _status(env: Env, key: str) -> int:
    return httpx.get(
        env.gw.url + "/v1/models", headers={"authorization": f"Bearer {key}"}, timeout=10
    ).status_code


def _within_a_second(env: Env, key: str, status: int) -> float:
    started = time.monotonic()
    while _status(env, key) != status:
        assert time.monotonic() - started < 1.0, f"key not {status} within a second"
        time.sleep(0.02)
    return time.monotonic() - started


def test_create_list_rotate_revoke(env: Env) -> None:
    created = _admin(
        env,
        "POST",
        f"/tenants/{env.tenant_id}/keys",
        {"aliases": ["chat-large"], "expires_in_s": 3600, "name": "ci"},
    )
    assert created.status_code == 201, created.text
    first = created.json()
    assert first["key"].startswith(first["prefix"] + "_") and first["aliases"] == ["chat-large"]
    assert _status(env, first["key"]) == 200
    models = httpx.get(
        env.gw.url + "/v1/models", timeout=10, headers={"authorization": f"Bearer {first['key']}"}
    ).json()
    assert [m["id"] for m in models["data"]] == ["chat-large"]

    rotated = _admin(env, "POST", f"/keys/{first['prefix']}/rotate", {"overlap_s": 600})
    assert rotated.status_code == 201, rotated.text
    second = rotated.json()
    assert second["aliases"] == ["chat-large"] and second["name"] == "ci"
    assert second["replaced"]["id"] == first["id"]
    assert _status(env, first["key"]) == 200 and _status(env, second["key"]) == 200  # overlap

    no_overlap = _admin(env, "POST", f"/keys/{second['id']}/rotate", {"overlap_s": 0}).json()
    _within_a_second(env, second["key"], 401)
    assert _status(env, no_overlap["key"]) == 200

    assert _admin(env, "POST", f"/keys/{first['id']}/revoke", {"note": "leaked"}).status_code == 200
    _within_a_second(env, first["key"], 401)
    again = _admin(env, "POST", f"/keys/{first['id']}/revoke", {})
    assert again.status_code == 400 and "already revoked" in again.text

    listed = _admin(env, "GET", f"/tenants/{env.tenant_id}/keys", token=env.auditor).json()["keys"]
    by_id = {k["id"]: k for k in listed}
    assert by_id[first["id"]]["status"] == "revoked"
    assert by_id[second["id"]]["status"] == "expired"
    assert by_id[no_overlap["id"]]["status"] == "active"
    assert all("key" not in k and "secret_hash" not in k for k in listed)
    actions = [e["action"] for e in ledger_entries(env.db) if e["tenant"] == env.tenant_id]
    assert actions.count("key.rotate") == 2 and actions.count("key.revoke") == 1


def test_suspended_tenant_gets_no_new_key(env: Env) -> None:
    tenant_id, _ = make_tenant(env.db, env.gw.gateway.settings, "keyless")
    from sekisho.store.models import Tenant

    with env.db.begin() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        tenant.state = "suspended"
    resp = _admin(env, "POST", f"/tenants/{tenant_id}/keys", {})
    assert resp.status_code == 400 and "suspended" in resp.text
