"""Every lifecycle admin route x every role (operator tokens), plus anonymous: only the
roles in the table get past authorization; the others get 403, anonymous 401."""

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
from sekisho.store.models import PLATFORM_ROLES
from sekisho.tenancy.service import find_user
from tests.lifecycle.support import make_people
from tests.support.databases import sqlite_url
from tests.support.gateway import RunningGateway, gateway_settings, migrated, start_gateway

VIEW = {"admin", "operator", "auditor", "billing_owner", "legal_owner", "security_owner"}
OWNERS = {"billing_owner", "legal_owner", "security_owner"}
READ_OPS = {"admin", "operator", "auditor"}
WRITE_OPS = {"admin", "operator"}
EVERYONE = set(PLATFORM_ROLES)
NOTE = {"note": "n"}
# (method, path, body, roles allowed). "nope" names no tenant/key: an allowed caller gets 400.
ROUTES: list[tuple[str, str, dict[str, Any] | None, set[str]]] = [
    ("GET", "/tenants", None, VIEW),
    ("GET", "/tenants/overdue", None, VIEW),
    ("GET", "/tenants/nope", None, VIEW),
    # Two steps: operators and admins request; the owners sign off (Rule 8 then admits only
    # the owner matching the reason, tested in test_request_routes); either side withdraws.
    (
        "POST",
        "/tenants/nope/suspension-requests",
        {**NOTE, "reason": "non_payment"},
        WRITE_OPS,
    ),
    ("POST", "/tenants/nope/reinstatement-requests", NOTE, WRITE_OPS),
    ("POST", "/tenants/nope/offboarding-requests", NOTE, WRITE_OPS),
    ("GET", "/suspension-requests", None, VIEW),
    ("GET", "/suspension-requests/nope", None, VIEW),
    ("POST", "/suspension-requests/nope/sign-off", {}, OWNERS),
    ("POST", "/suspension-requests/nope/withdraw", {}, WRITE_OPS | OWNERS),
    ("GET", "/tokens", None, EVERYONE),
    ("POST", "/tokens", {"name": "matrix"}, EVERYONE),
    ("POST", "/tokens/nope/revoke", {}, EVERYONE),
    ("GET", "/users", None, {"admin"}),
    ("POST", "/users/nope/disable", {}, {"admin"}),
    ("POST", "/users/nope/enable", {}, {"admin"}),
    (
        "POST",
        "/evidence/export",
        {"tenant": "nope", "since_s": 60},
        {"admin", "operator", "auditor", "security_owner"},
    ),
    ("GET", "/tenants/nope/keys", None, READ_OPS),
    ("POST", "/tenants/nope/keys", {}, WRITE_OPS),
    ("POST", "/keys/nope/rotate", {}, WRITE_OPS),
    ("POST", "/keys/nope/revoke", {}, WRITE_OPS),
]


@dataclass
class Env:
    gw: RunningGateway
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def env(simulator: SimulatorServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    state: Path = tmp_path_factory.mktemp("routes")
    db: Database = migrated(sqlite_url(state))
    settings = gateway_settings(
        simulator.url, state, sqlite_url(state), observe={"probes_enabled": False}
    )
    people = make_people(db, passwords=False)
    tokens = {}
    with db.begin() as session:
        for role, email in people.items():
            tokens[role] = create_token(session, find_user(session, email), Actor.system("t"))[1]
    gw = start_gateway(settings, db)
    yield Env(gw, tokens)
    gw.stop()
    db.dispose()


@pytest.mark.parametrize(
    ("method", "path", "body", "allowed"),
    ROUTES,
    ids=[f"{m} {p} {sorted(a)[0]}" for m, p, _, a in ROUTES],
)
def test_route_by_role(
    env: Env, method: str, path: str, body: dict[str, Any] | None, allowed: set[str]
) -> None:
    url = env.gw.url + "/admin/v1" + path
    with httpx.Client(timeout=10) as http:
        anonymous = http.request(method, url, json=body)
        assert anonymous.status_code == 401, anonymous.text
        for role in PLATFORM_ROLES:
            resp = http.request(
                method, url, json=body, headers={"authorization": f"Bearer {env.tokens[role]}"}
            )
            code = resp.json().get("error", {}).get("code") if resp.status_code >= 400 else None
            if role in allowed:
                assert resp.status_code in (200, 201, 400, 404), (role, resp.text)
                assert code != "permission_denied", (role, resp.text)
            else:
                assert (resp.status_code, code) == (403, "permission_denied"), (role, resp.text)


def test_every_lifecycle_route_is_in_the_table(env: Env) -> None:
    from sekisho.admin import keys, suspension_requests, tenants, tokens

    declared = {
        (m, r.path)  # type: ignore[attr-defined]
        for mod in (tenants, keys, tokens, suspension_requests)
        for r in mod.router.routes
        for m in getattr(r, "methods", ())  # an included router is not itself a route
    }
    tested = {
        (m, p.replace("nope", "{request_id}" if "suspension-requests/" in p else "{ref}", 1))
        for m, p, _, _ in ROUTES
    }
    assert declared == tested
