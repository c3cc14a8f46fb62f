"""Credentials have a lifecycle: operator tokens expire by default, are listed and revoked;
users are disabled and enabled; each takes effect at once and is in the ledger."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from sekisho.actor import Actor
from sekisho.admin.tokens import create_token
from sekisho.simulator import SimulatorServer
from sekisho.store.db import Database
from sekisho.tenancy.service import create_user, find_user
from tests.lifecycle.support import PASSWORD, config_document, make_people, write_config
from tests.support.cli import TEST_OPERATOR, last_line, run
from tests.support.databases import sqlite_url
from tests.support.gateway import (
    RunningGateway,
    gateway_settings,
    make_tenant,
    migrated,
    start_gateway,
)
from tests.support.ledger import ledger_entries

MEMBER = "member@credentials.test"
TTL_DAYS = 30


@dataclass
class Env:
    gw: RunningGateway
    db: Database
    people: dict[str, str]
    tokens: dict[str, str]
    config: Path

    @property
    def api(self) -> str:
        return self.gw.url + "/admin/v1"

    def bearer(self, token: str) -> dict[str, str]:
        return {"authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def env(simulator: SimulatorServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    state: Path = tmp_path_factory.mktemp("credentials")
    url = sqlite_url(state)
    db = migrated(url)
    extra = {
        "observe": {"probes_enabled": False},
        "identity": {"operator_token_ttl_days": TTL_DAYS},
    }
    settings = gateway_settings(simulator.url, state, url, **extra)
    people = make_people(db)
    tenant_id, _ = make_tenant(db, settings, "cred-tenant")
    with db.begin() as session:
        create_user(session, MEMBER, "member", PASSWORD, Actor.system("t"), tenant_ref=tenant_id)
        tokens = {
            role: create_token(session, find_user(session, email), Actor.system("t"))[1]
            for role, email in people.items()
        }
    config = write_config(state / "c.yaml", config_document(simulator.url, state, url, **extra))
    gw = start_gateway(settings, db)
    yield Env(gw, db, people, tokens, config)
    gw.stop()
    db.dispose()


def _sign_in(env: Env, http: httpx.Client, email: str) -> httpx.Response:
    return http.post(env.api + "/session", json={"email": email, "password": PASSWORD})


def test_tokens_expire_by_default_and_are_listed_without_secrets(env: Env) -> None:
    made = httpx.post(
        env.api + "/tokens", json={"name": "laptop"}, headers=env.bearer(env.tokens["operator"])
    )
    assert made.status_code == 201, made.text
    expires = datetime.fromisoformat(made.json()["expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=TTL_DAYS))) < timedelta(minutes=1)
    secret = made.json()["token"]
    assert httpx.get(env.api + "/tenants", headers=env.bearer(secret)).status_code == 200

    mine = httpx.get(env.api + "/tokens", headers=env.bearer(env.tokens["operator"])).json()
    assert {t["user"] for t in mine["tokens"]} == {env.people["operator"]}
    assert secret not in str(mine) and made.json()["prefix"] in str(mine)
    everyone = httpx.get(env.api + "/tokens", headers=env.bearer(env.tokens["admin"])).json()
    assert {t["user"] for t in everyone["tokens"]} >= set(env.people.values())

    # An operator may not mint tokens for someone else; the default expiry cannot be dodged.
    other = httpx.post(
        env.api + "/tokens",
        json={"user": env.people["admin"]},
        headers=env.bearer(env.tokens["operator"]),
    )
    assert other.status_code == 403
    with env.db.begin() as session:
        token, _ = create_token(session, find_user(session, env.people["auditor"]), Actor.system())
        assert token.expires_at is not None


def test_a_revoked_token_is_refused_at_once_and_recorded(env: Env) -> None:
    made = httpx.post(env.api + "/tokens", json={}, headers=env.bearer(env.tokens["auditor"]))
    secret, token_id = made.json()["token"], made.json()["id"]
    assert httpx.get(env.api + "/tenants", headers=env.bearer(secret)).status_code == 200
    stranger = httpx.post(
        f"{env.api}/tokens/{token_id}/revoke", json={}, headers=env.bearer(env.tokens["operator"])
    )
    assert stranger.status_code == 403
    revoked = httpx.post(
        f"{env.api}/tokens/{token_id}/revoke",
        json={"note": "laptop lost"},
        headers=env.bearer(secret),
    )
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    refused = httpx.get(env.api + "/tenants", headers=env.bearer(secret))
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
    entry = [e for e in ledger_entries(env.db, "token.revoke") if e["target"]["id"] == token_id]
    assert entry[0]["actor"]["email"] == env.people["auditor"] and entry[0]["note"] == "laptop lost"


def test_a_disabled_user_loses_sessions_sign_in_and_tokens(env: Env) -> None:
    victim = create_user_with_token(env, "disable-me@credentials.test")
    with httpx.Client() as browser:
        assert _sign_in(env, browser, victim.email).status_code == 200
        assert browser.get(env.api + "/session").status_code == 200
        with httpx.Client() as member:
            assert _sign_in(env, member, MEMBER).status_code == 200

            off = httpx.post(
                f"{env.api}/users/{victim.email}/disable",
                json={"note": "left the company"},
                headers=env.bearer(env.tokens["admin"]),
            )
            assert off.status_code == 200 and off.json()["sessions_revoked"] == 1
            assert browser.get(env.api + "/session").status_code == 401
            member_off = httpx.post(
                f"{env.api}/users/{MEMBER}/disable",
                json={},
                headers=env.bearer(env.tokens["admin"]),
            )
            assert member_off.status_code == 200
            assert member.get(env.api + "/session").status_code == 401
    with httpx.Client() as again:
        refused = _sign_in(env, again, victim.email)
        assert refused.status_code == 401 and "disabled" in refused.json()["error"]["message"]
    assert httpx.get(env.api + "/tenants", headers=env.bearer(victim.token)).status_code == 401
    entry = [e for e in ledger_entries(env.db, "user.disable") if e["target"]["id"] == victim.id]
    assert entry[0]["actor"]["email"] == env.people["admin"]
    assert entry[0]["details"]["sessions_revoked"] == 1

    on = httpx.post(
        f"{env.api}/users/{victim.id}/enable", json={}, headers=env.bearer(env.tokens["admin"])
    )
    assert on.status_code == 200 and on.json()["disabled"] is False
    with httpx.Client() as back:
        assert _sign_in(env, back, victim.email).status_code == 200


def test_nobody_locks_the_platform_out(env: Env) -> None:
    admin = env.people["admin"]
    self_off = httpx.post(
        f"{env.api}/users/{admin}/disable", json={}, headers=env.bearer(env.tokens["admin"])
    )
    assert self_off.status_code == 400 and "yourself" in self_off.json()["error"]["message"]
    by_operator = httpx.post(
        f"{env.api}/users/{env.people['auditor']}/disable",
        json={},
        headers=env.bearer(env.tokens["operator"]),
    )
    assert by_operator.status_code == 403


@dataclass
class Person:
    id: str
    email: str
    token: str


def create_user_with_token(env: Env, email: str) -> Person:
    with env.db.begin() as session:
        user = create_user(session, email, "operator", PASSWORD, Actor.system("t"))
        _, secret = create_token(session, user, Actor.system("t"))
        return Person(user.id, user.email, secret)


@pytest.mark.timeout(300)  # a dozen CLI processes: slow on a loaded machine
def test_cli_token_and_user_lifecycle(env: Env) -> None:
    cfg = env.config
    made = run("token", "create", "--name", "ci", config=cfg)
    assert made.stdout.startswith(f"acting as {TEST_OPERATOR} (admin) via cli\n")
    secret = last_line(made)
    assert f"expires {(datetime.now(UTC) + timedelta(days=TTL_DAYS)).date()}" in made.stdout
    listed = run("token", "list", config=cfg)
    prefix = "_".join(secret.split("_")[:2])  # the secret part may itself contain "_"
    assert listed.returncode == 0 and prefix in listed.stdout and secret not in listed.stdout
    revoked = run("token", "revoke", prefix, "--note", "rotated", config=cfg)
    assert revoked.returncode == 0, revoked.stderr
    assert httpx.get(env.api + "/tenants", headers=env.bearer(secret)).status_code == 401
    assert prefix not in run("token", "list", config=cfg).stdout
    assert prefix in run("token", "list", "--all", config=cfg).stdout

    zero = run("token", "create", "--expires-in", "0d", config=cfg)
    assert zero.returncode == 2 and "from 1h to 3650d" in zero.stderr

    victim = create_user_with_token(env, "cli-victim@credentials.test")
    as_operator = run(
        "user",
        "disable",
        victim.email,
        env={"SEKISHO_OPERATOR": env.people["operator"]},
        config=cfg,
    )
    assert as_operator.returncode == 1 and "only an admin" in as_operator.stderr
    off = run("user", "disable", victim.email, "--note", "offboarded", config=cfg)
    assert off.returncode == 0, off.stderr
    assert httpx.get(env.api + "/tenants", headers=env.bearer(victim.token)).status_code == 401
    entry = [e for e in ledger_entries(env.db, "user.disable") if e["target"]["id"] == victim.id]
    assert entry[0]["actor"]["email"] == TEST_OPERATOR and entry[0]["details"]["via"] == "cli"
    assert run("user", "enable", victim.email, config=cfg).returncode == 0
    assert httpx.get(env.api + "/tenants", headers=env.bearer(victim.token)).status_code == 200
