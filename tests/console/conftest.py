"""A real gateway per module (create_app on port 0, PostgreSQL, the simulator), one Chromium.

Debian's Chromium (`/usr/bin/chromium`) is driven by Playwright; no browser is ever
downloaded. Every page a test visits is saved as a screenshot under
`tmp/artifacts/console/` (or `$SEKISHO_ARTIFACTS`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from playwright.sync_api import Browser, BrowserContext, Page, expect

from sekisho.actor import Actor
from sekisho.simulator import SimulatorServer
from sekisho.store.db import Database
from sekisho.tenancy import passwords, service
from tests.chatapp.browser import chromium
from tests.lifecycle.support import PASSWORD, make_people
from tests.support.databases import fresh_postgres_database
from tests.support.gateway import (
    RunningGateway,
    gateway_settings,
    make_tenant,
    migrated,
    signed_by_gateway_key,
    start_gateway,
)

# `expect` polls for the state it names; 5 s (Playwright's default) is too short a ceiling on a
# loaded 2-core machine (the drill-down table missed it at load 15). Same ceiling as actions.
expect.set_options(timeout=15_000)
ARTIFACTS = Path(os.environ.get("SEKISHO_ARTIFACTS", Path(__file__).parents[2] / "tmp/artifacts"))
MEMBER = "member@acme.test"
FAST_OBSERVE = {
    "rollup_bucket_s": 5,
    "rollup_flush_s": 0.2,
    "alert_window_s": 30,
    "alert_baseline_s": 120,
    "alert_threshold": 0.2,
    "alert_min_requests": 5,
    "alert_interval_s": 0.3,
    "probes_enabled": True,
    "probe_interval_s": 0.5,
    "probe_timeout_s": 3,
}


@dataclass
class ConsoleEnv:
    gw: RunningGateway
    db: Database
    sim: SimulatorServer
    people: dict[str, str]
    tenants: dict[str, str]
    keys: dict[str, str]
    browser: Browser
    artifacts: Path
    contexts: list[BrowserContext] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.gw.url

    def context(self) -> BrowserContext:
        ctx = self.browser.new_context(viewport={"width": 1280, "height": 900}, base_url=self.url)
        ctx.set_default_timeout(15_000)
        self.contexts.append(ctx)
        return ctx

    def sign_in(self, role: str, ctx: BrowserContext | None = None) -> Page:
        """A page in a fresh browser context (its own cookies), signed in as `role`."""
        page = (ctx or self.context()).new_page()
        page.goto("/console/sign-in")
        page.get_by_label("E-mail").fill(MEMBER if role == "member" else self.people[role])
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(lambda url: "/sign-in" not in url)
        return page

    def shot(self, page: Page, name: str) -> Path:
        path = self.artifacts / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture(scope="module")
def fast_password_hashing() -> Iterator[None]:
    """Argon2id at the lowest cost for these tests' users: hashing them (and verifying each
    sign-in) at the production cost was a third of the browser tests' time. The parameters
    travel in each hash, so what is hashed here is verified cheaply; tests/tenancy keeps the
    real parameters."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(passwords, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024))
        yield


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium per test module; every test opens its own contexts (cheap, isolated).

    Not per session: while Playwright's sync API is started, the main thread counts as
    running an event loop, so every later test module in the same process that calls
    `asyncio.run` (or starts Playwright again) would fail.
    """
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def console_env(
    simulator: SimulatorServer,
    tmp_path_factory: pytest.TempPathFactory,
    browser: Browser,
    fast_password_hashing: None,
) -> Iterator[ConsoleEnv]:
    state = tmp_path_factory.mktemp("console")
    artifacts = ARTIFACTS / "console"
    artifacts.mkdir(parents=True, exist_ok=True)
    simulator.clear_faults()
    with fresh_postgres_database() as url:
        settings = gateway_settings(
            simulator.url,
            state,
            url,
            observe=FAST_OBSERVE,
            circuit={"failure_threshold": 3, "cooldown_s": 0.5, "min_requests": 1000},
        )
        db = signed_by_gateway_key(migrated(url), settings)  # entries signed as the gateway does
        people = make_people(db)
        tenants: dict[str, str] = {}
        keys: dict[str, str] = {}
        for name, spec in (("acme", {}), ("sakura", {"sovereignty": "jp_sovereign"})):
            tenants[name], keys[name] = make_tenant(db, settings, name, **spec)
        with db.begin() as session:
            service.create_user(
                session, MEMBER, "member", PASSWORD, Actor.system("tests"), tenant_ref="acme"
            )
        gw = start_gateway(settings, db)
        env = ConsoleEnv(gw, db, simulator, people, tenants, keys, browser, artifacts)
        try:
            yield env
        finally:
            for ctx in env.contexts:
                ctx.close()
            gw.stop()
            simulator.clear_faults()
            db.dispose()
