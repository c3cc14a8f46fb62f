"""A running gateway over the simulator, on SQLite, with a few tenants."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from sekisho.simulator import SimulatorServer
from sekisho.store.db import Database
from tests.support.databases import sqlite_url
from tests.support.gateway import (
    RunningGateway,
    gateway_settings,
    make_tenant,
    migrated,
    reset_circuits,
    start_gateway,
)


@dataclass
class Env:
    gw: RunningGateway
    db: Database
    sim: SimulatorServer
    keys: dict[str, str]  # tenant name -> API key
    tenants: dict[str, str]  # tenant name -> id

    @property
    def url(self) -> str:
        return self.gw.url

    def identity_strings(self) -> list[str]:
        return self.gw.gateway.settings.matrix.identity_strings()


@pytest.fixture(scope="module")
def env(simulator: SimulatorServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    state = tmp_path_factory.mktemp("gw")
    settings = gateway_settings(simulator.url, state, sqlite_url(state))
    db = migrated(settings.database_url)
    keys: dict[str, str] = {}
    tenants: dict[str, str] = {}
    for name, spec in {
        "acme": {},
        "sakura": {"sovereignty": "jp_sovereign"},
        "dragon": {"china_gated_access": True},
        "narrow": {"aliases": ["chat-fast"]},
    }.items():
        tenants[name], keys[name] = make_tenant(db, settings, name, **spec)
    tenants["scoped"], keys["scoped"] = make_tenant(
        db, settings, "scoped", key_aliases=["chat-large"]
    )
    gw = start_gateway(settings, db)
    yield Env(gw, db, simulator, keys, tenants)
    gw.stop()
    db.dispose()


@pytest.fixture
def sim(env: Env) -> SimulatorServer:
    env.sim.reset()
    reset_circuits(env.gw)
    return env.sim
