"""The RBAC matrix: every /admin/v1 route x every platform role (operator token), a tenant
API key, and no credentials at all.

The roles a route admits are read from the route itself (the one `require(...)` decision), so a
new route is covered the day it lands. A role outside them gets `403 permission_denied`; a role
inside them gets past authorization (whatever the placeholder path then answers); a tenant's API
key and no credentials get `401 invalid_api_key`; nothing ever answers 500.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from sekisho.actor import Actor
from sekisho.identity.tokens import create_token
from sekisho.simulator import SimulatorServer
from sekisho.store.models import PLATFORM_ROLES
from sekisho.tenancy.service import find_user
from tests.lifecycle.support import make_people
from tests.support.databases import sqlite_url
from tests.support.gateway import (
    RunningGateway,
    gateway_settings,
    make_tenant,
    migrated,
    signed_by_gateway_key,
    start_gateway,
)
from tests.support.routes import api_routes

# Methods whose effects a wrong placeholder cannot cause: every id below names nothing.
PLACEHOLDER = "nope_0"


@dataclass
class Env:
    gw: RunningGateway
    tokens: dict[str, str]
    tenant_key: str


@pytest.fixture(scope="module")
def env(simulator: SimulatorServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    state: Path = tmp_path_factory.mktemp("rbac")
    settings = gateway_settings(
        simulator.url, state, sqlite_url(state), observe={"probes_enabled": False}
    )
    db = signed_by_gateway_key(migrated(sqlite_url(state)), settings)
    people = make_people(db, passwords=False)
    tokens = {}
    with db.begin() as session:
        for role, email in people.items():
            tokens[role] = create_token(session, find_user(session, email), Actor.system("t"))[1]
    _, key = make_tenant(db, settings, "rbac-tenant")
    gw = start_gateway(settings, db)
    yield Env(gw, tokens, key)
    gw.stop()
    db.dispose()


def _guarded_routes(env: Env) -> list[tuple[str, str, tuple[str, ...]]]:
    """(method, path, roles) of every admin route behind `require(...)`."""
    out = []
    for full_path, route in api_routes(env.gw.app.admin.routes):
        roles = None
        for dep in route.dependant.dependencies:
            for sub in (dep, *dep.dependencies):
                found = getattr(sub.call, "roles", None)
                if found is not None:
                    roles = tuple(found)
        if roles is None:
            continue
        path = re.sub(r"\{[^}]+\}", PLACEHOLDER, full_path)
        for method in sorted(route.methods or ()):
            out.append((method, path, roles))
    return out


def test_every_admin_route_by_every_credential(env: Env) -> None:
    routes = _guarded_routes(env)
    assert len(routes) >= 40, routes  # the whole admin API, not a sample
    seen: list[str] = []
    with httpx.Client(timeout=20) as http:
        for method, path, roles in routes:
            url = env.gw.url + "/admin/v1" + path
            body: Any = {} if method in ("POST", "PUT", "PATCH") else None
            for label, headers in (
                ("none", {}),
                ("tenant key", {"authorization": f"Bearer {env.tenant_key}"}),
            ):
                resp = http.request(method, url, json=body, headers=headers)
                assert resp.status_code == 401, (method, path, label, resp.text)
                assert resp.json()["error"]["code"] == "invalid_api_key"
            for role in PLATFORM_ROLES:
                resp = http.request(
                    method,
                    url,
                    json=body,
                    headers={"authorization": f"Bearer {env.tokens[role]}"},
                )
                assert resp.status_code < 500, (method, path, role, resp.text)
                code = resp.json().get("error", {}).get("code") if resp.status_code >= 400 else None
                if role in roles:
                    assert code not in ("permission_denied", "invalid_api_key"), (
                        method,
                        path,
                        role,
                        resp.text,
                    )
                else:
                    assert (resp.status_code, code) == (403, "permission_denied"), (
                        method,
                        path,
                        role,
                        resp.text,
                    )
            seen.append(f"{method} {path}")
    assert len(set(seen)) == len(seen)
