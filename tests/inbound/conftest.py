"""A running gateway over the simulator with the demo matrix plus embedding aliases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sekisho.demo import DEMO_SECRETS, demo_document
from sekisho.settings import settings_from_document
from sekisho.simulator import SimulatorServer
from tests.gateway.conftest import Env
from tests.support.databases import sqlite_url
from tests.support.gateway import make_tenant, migrated, reset_circuits, start_gateway

EMBEDDING_ALIASES: list[dict[str, Any]] = [
    {
        "name": "embed-small",
        "kind": "embedding",
        "route": {"provider": "atlas-useast", "model": "atlas-embed"},
        "fallbacks": [{"provider": "kumo-tokyo", "model": "kumo-embed"}],
    },
    {
        "name": "embed-jp",
        "kind": "embedding",
        "sovereignty": "jp_sovereign",
        "route": {"provider": "kumo-tokyo", "model": "kumo-embed"},
    },
    {
        # A sovereign primary with a non-sovereign fallback: usable by anyone, but a
        # jp_sovereign tenant is never served by the fallback (Rule 2).
        "name": "embed-any",
        "kind": "embedding",
        "route": {"provider": "kumo-tokyo", "model": "kumo-embed"},
        "fallbacks": [{"provider": "atlas-useast", "model": "atlas-embed"}],
    },
]


@pytest.fixture(scope="module")
def env(simulator: SimulatorServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    state = tmp_path_factory.mktemp("gw")
    doc = demo_document(simulator.url, state, 0)
    doc["database_url"] = sqlite_url(state)
    doc["aliases"] = [*doc["aliases"], *EMBEDDING_ALIASES]  # type: ignore[misc]
    settings = settings_from_document(doc, DEMO_SECRETS)
    db = migrated(settings.database_url)
    keys: dict[str, str] = {}
    tenants: dict[str, str] = {}
    for name, spec in {"acme": {}, "sakura": {"sovereignty": "jp_sovereign"}}.items():
        tenants[name], keys[name] = make_tenant(db, settings, name, **spec)
    gw = start_gateway(settings, db)
    yield Env(gw, db, simulator, keys, tenants)
    gw.stop()
    db.dispose()


@pytest.fixture
def sim(env: Env) -> SimulatorServer:
    env.sim.reset()
    reset_circuits(env.gw)
    return env.sim
