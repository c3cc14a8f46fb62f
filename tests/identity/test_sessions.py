"""Sign-in, sessions, CSRF and throttling through the real admin API over a socket."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import update

from sekisho.actor import Actor
from sekisho.errors import RateLimited
from sekisho.identity.throttle import RedisCounter, SigninThrottle
from sekisho.lifecycle import service
from sekisho.simulator import SimulatorServer
from sekisho.store.db import Database
from sekisho.store.models import UserSession
from sekisho.tenancy.service import create_user
from tests.lifecycle.support import PASSWORD, make_people, unique_channel
from tests.support.databases import REDIS_URL, sqlite_url
from tests.support.gateway import (
    RunningGateway,
    gateway_settings,
    make_tenant,
    migrated,
    start_gateway,
)

MEMBER = "member@acme.test"


@dataclass
class Env:
    gw: RunningGateway
    db: Database
    people: dict[str, str]
    tenant_id: str

    @property
    def url(self) -> str:
        return self.gw.url + "/admin/v1"


@pytest.fixture(scope="module")
def env(simulator: SimulatorServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    state: Path = tmp_path_factory.mktemp("identity")
    db = migrated(sqlite_url(state))
    settings = gateway_settings(
        simulator.url,
        state,
        sqlite_url(state),
        observe={"probes_enabled": False},
        identity={"signin_max_failures": 3, "session_touch_interval_s": 0},
    )
    people = make_people(db)
    tenant_id, _ = make_tenant(db, settings, "acme-id")
    with db.begin() as session:
        create_user(session, MEMBER, "member", PASSWORD, Actor.system("t"), tenant_ref=tenant_id)
    gw = start_gateway(settings, db)
    yield Env(gw, db, people, tenant_id)
    gw.stop()
    db.dispose()


def _sign_in(
    env: Env, email: str, password: str = PASSWORD, client: httpx.Client | None = None
) -> httpx.Response:
    http = client or httpx.Client()
    return http.post(env.url + "/session", json={"email": email, "password": password})


def test_sign_in_sets_a_hardened_cookie_and_works(env: Env) -> None:
    with httpx.Client() as http:
        resp = _sign_in(env, env.people["operator"], client=http)
        assert resp.status_code == 200, resp.text
        cookie = resp.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
        assert resp.json()["user"]["role"] == "operator"
        csrf = resp.json()["csrf_token"]
        assert http.get(env.url + "/tenants").status_code == 200
        # An unsafe request without the CSRF token is refused; with it, it goes through.
        no_csrf = http.post(env.url + "/keys/nokey/revoke", json={})
        assert no_csrf.status_code == 403 and "CSRF" in no_csrf.json()["error"]["message"]
        with_csrf = http.post(
            env.url + "/keys/nokey/revoke", json={}, headers={"x-csrf-token": csrf}
        )
        assert with_csrf.status_code == 400  # authorized; the key just does not exist
        assert (
            http.post(
                env.url + "/suspension-requests/sreq_x/sign-off",
                json={},
                headers={"x-csrf-token": csrf},
            ).status_code
            == 403
        )  # operator: not an owner
        out = http.delete(env.url + "/session", headers={"x-csrf-token": csrf})
        assert out.status_code == 200
        assert http.get(env.url + "/tenants").status_code == 401


def test_sign_in_rotates_the_session(env: Env) -> None:
    with httpx.Client() as http:
        first = _sign_in(env, env.people["auditor"], client=http)
        old = http.cookies.get("sekisho_session")
        second = _sign_in(env, env.people["auditor"], client=http)
        new = http.cookies.get("sekisho_session")
        assert first.status_code == second.status_code == 200 and old != new
    replay = httpx.get(env.url + "/session", cookies={"sekisho_session": old or ""})
    assert replay.status_code == 401


def test_idle_and_absolute_timeouts(env: Env) -> None:
    for column in ("last_seen_at", "expires_at"):
        with httpx.Client() as http:
            assert _sign_in(env, env.people["admin"], client=http).status_code == 200
            assert http.get(env.url + "/session").status_code == 200
            past = datetime.now(UTC) - timedelta(days=2)
            with env.db.begin() as session:
                session.execute(
                    update(UserSession)
                    .where(UserSession.revoked_at.is_(None))
                    .values({column: past})
                )
            resp = http.get(env.url + "/session")
            assert resp.status_code == 401 and "expired" in resp.json()["error"]["message"]


def test_wrong_password_and_unknown_user_look_the_same_then_throttle(env: Env) -> None:
    unknown = _sign_in(env, "nobody@nowhere.test", "whatever-password")
    wrong = _sign_in(env, env.people["legal_owner"], "wrong-password!")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json()["error"]["message"] == wrong.json()["error"]["message"]
    for _ in range(2):
        _sign_in(env, env.people["legal_owner"], "wrong-password!")
    throttled = _sign_in(env, env.people["legal_owner"])  # even the right password waits
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
    assert throttled.json()["error"]["code"] == "rate_limited"


def test_members_sign_in_but_not_to_the_admin_api(env: Env) -> None:
    with httpx.Client() as http:
        assert _sign_in(env, MEMBER, client=http).status_code == 200
        assert http.get(env.url + "/session").json()["user"]["tenant_id"] == env.tenant_id
        assert http.get(env.url + "/tenants").status_code == 403


def test_suspension_kills_sessions_and_refuses_sign_in(env: Env) -> None:
    with httpx.Client() as http:
        assert _sign_in(env, MEMBER, client=http).status_code == 200
        assert http.get(env.url + "/session").status_code == 200
        req = service.LifecycleRequest(
            tenant=env.tenant_id,
            requested_by=env.people["operator"],
            authorized_by=env.people["legal_owner"],
            note="ended",
            via="tests",
        )
        with env.db.begin() as session:
            result = service.suspend_tenant(
                session, env.gw.gateway.settings, req, reason="contract_termination"
            )
        assert result.sessions_revoked >= 1
        dead = http.get(env.url + "/session")
        assert dead.status_code == 401
    refused = _sign_in(env, MEMBER)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "tenant_suspended"
    with env.db.begin() as session:
        service.reinstate_tenant(session, env.gw.gateway.settings, req)
    assert _sign_in(env, MEMBER).status_code == 200


def test_redis_throttle_is_shared_between_replicas() -> None:
    redis.Redis.from_url(REDIS_URL).ping()  # required: fail, never skip
    prefix = f"{unique_channel()}:"
    a = SigninThrottle(RedisCounter(REDIS_URL, 60, prefix=prefix), max_failures=2)
    b = SigninThrottle(RedisCounter(REDIS_URL, 60, prefix=prefix), max_failures=2)
    a.failed("x@y.test", "10.0.0.1")
    b.failed("x@y.test", "10.0.0.2")
    with pytest.raises(RateLimited):
        a.check("x@y.test", "10.0.0.3")
    b.succeeded("x@y.test")
    a.check("x@y.test", "10.0.0.3")
