"""A real gateway (port 0) over its own simulator, two tenants with a member each, and helpers."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from sekisho.actor import Actor
from sekisho.simulator import SimulatorServer
from sekisho.store.db import Database
from sekisho.tenancy.service import create_user
from tests.lifecycle.support import PASSWORD, make_people
from tests.support.databases import sqlite_url
from tests.support.gateway import (
    RunningGateway,
    gateway_settings,
    make_tenant,
    migrated,
    reset_circuits,
    start_gateway,
)

MEMBER_A = "ann@tenant-a.test"
MEMBER_A2 = "abe@tenant-a.test"
MEMBER_B = "bob@tenant-b.test"
# The provider behind chat-large's primary route in the demo matrix.
LARGE = "atlas-useast"


@dataclass
class ChatEnv:
    gw: RunningGateway
    db: Database
    sim: SimulatorServer
    people: dict[str, str]
    tenant_a: str
    tenant_b: str
    key_a: str
    state: Path

    @property
    def url(self) -> str:
        return self.gw.url + "/chat"


@pytest.fixture(scope="package")
def chat_sim() -> Iterator[SimulatorServer]:
    with SimulatorServer() as sim:
        yield sim


@pytest.fixture(scope="package")
def chat_env(
    chat_sim: SimulatorServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ChatEnv]:
    state = tmp_path_factory.mktemp("chatapp")
    db = migrated(sqlite_url(state))
    settings = gateway_settings(
        chat_sim.url,
        state,
        sqlite_url(state),
        observe={"probes_enabled": False},
        identity={"signin_max_failures": 5, "session_touch_interval_s": 0},
        request_log={"flush_interval_s": 0.05},
        bus={"poll_interval_s": 0.2},
    )
    people = make_people(db)
    tenant_a, key_a = make_tenant(db, settings, "chat-tenant-a")
    tenant_b, _ = make_tenant(db, settings, "chat-tenant-b")
    with db.begin() as session:
        for email, tenant in ((MEMBER_A, tenant_a), (MEMBER_A2, tenant_a), (MEMBER_B, tenant_b)):
            create_user(session, email, "member", PASSWORD, Actor.system("t"), tenant_ref=tenant)
    gw = start_gateway(settings, db)
    yield ChatEnv(gw, db, chat_sim, people, tenant_a, tenant_b, key_a, state)
    gw.stop()
    db.dispose()


@pytest.fixture(autouse=True)
def _no_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each gateway test starts with a healthy simulator and no circuit memory of outages."""
    if "chat_env" not in request.fixturenames:
        yield
        return
    chat_env: ChatEnv = request.getfixturevalue("chat_env")
    chat_env.sim.clear_faults()
    reset_circuits(chat_env.gw)
    yield
    chat_env.sim.clear_faults()


_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def csrf_from(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def sign_in(env: ChatEnv, email: str, client: httpx.Client, password: str = PASSWORD) -> str:
    """Sign in through the form like a browser; returns the session's CSRF token."""
    page = client.get(env.url + "/sign-in")
    assert page.status_code == 200
    resp = client.post(
        env.url + "/sign-in",
        data={"email": email, "password": password, "csrf_token": csrf_from(page.text)},
        headers={"origin": env.gw.url, "sec-fetch-site": "same-origin"},
    )
    assert resp.status_code == 303, resp.text
    home = client.get(env.url + "/")
    assert home.status_code == 200, home.text
    return csrf_from(home.text)


@contextmanager
def member_client(env: ChatEnv, email: str) -> Iterator[tuple[httpx.Client, str]]:
    """A signed-in member's HTTP client and CSRF token."""
    with httpx.Client(timeout=30) as client:
        yield client, sign_in(env, email, client)


def wait_until(check, timeout: float = 10.0, interval: float = 0.02):  # type: ignore[no-untyped-def]
    """Poll `check` until it returns something truthy (state, not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)
