"""A gateway over a matrix built for failover drills, on the simulator."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sekisho.settings import Settings, settings_from_document
from sekisho.simulator import SimulatorServer
from sekisho.store.db import Database
from tests.support.databases import sqlite_url
from tests.support.gateway import (
    RunningGateway,
    SteerableClock,
    make_tenant,
    migrated,
    reset_circuits,
    start_gateway,
)

SECRETS = {"SIM_KEY": "k"}


def drill_document(sim: SimulatorServer, state: Path) -> dict[str, object]:
    def provider(pid: str, kind: str, tags: list[str], **extra: object) -> dict[str, object]:
        return {
            "id": pid,
            "kind": kind,
            "base_url": sim.base_url(pid),
            "api_key_env": "SIM_KEY",
            "region": f"region-of-{pid}",
            "sovereignty": tags,
            "timeout_s": 1.5,
            "connect_timeout_s": 1.0,
            **extra,
        }

    return {
        "database_url": sqlite_url(state),
        "providers": [
            provider("jp-alpha", "openai", ["jp_sovereign"]),
            provider("jp-beta", "anthropic", ["jp_sovereign"]),
            provider("open-gamma", "openai", []),
            provider("cn-delta", "openai", [], china_gated=True),
        ],
        "aliases": [
            # A jp alias with a non-sovereign fallback that no request may ever use.
            {
                "name": "sov-chat",
                "sovereignty": "jp_sovereign",
                "route": {"provider": "jp-alpha", "model": "a1"},
                "fallbacks": [
                    {"provider": "jp-beta", "model": "b1"},
                    {"provider": "open-gamma", "model": "g1"},
                ],
            },
            # An open alias: a jp tenant may use it only through its sovereign routes.
            {
                "name": "open-chat",
                "route": {"provider": "jp-alpha", "model": "a2"},
                "fallbacks": [
                    {"provider": "open-gamma", "model": "g2"},
                    {"provider": "jp-beta", "model": "b2"},
                ],
            },
            {"name": "cn-chat", "route": {"provider": "cn-delta", "model": "d1"}},
        ],
        "circuit": {
            "failure_threshold": 3,
            "cooldown_s": 1.0,
            "probe_interval_s": 1.0,
            "min_requests": 1000,
        },
        "limits": {"request_deadline_s": 10},
    }


@dataclass
class Drill:
    gw: RunningGateway
    db: Database
    sim: SimulatorServer
    settings: Settings
    keys: dict[str, str]
    clock: SteerableClock  # the wall clock the gateway routes by

    @property
    def url(self) -> str:
        return self.gw.url


@pytest.fixture(scope="module")
def drill_env(
    simulator: SimulatorServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Drill]:
    state = tmp_path_factory.mktemp("drill")
    settings = settings_from_document(drill_document(simulator, state), SECRETS)
    db = migrated(settings.database_url)
    keys = {
        "plain": make_tenant(db, settings, "plain")[1],
        "jp": make_tenant(db, settings, "jp-bank", sovereignty="jp_sovereign")[1],
        "gated": make_tenant(db, settings, "gated", china_gated_access=True)[1],
    }
    clock = SteerableClock()
    gw = start_gateway(settings, db, wall_clock=clock)
    yield Drill(gw, db, simulator, settings, keys, clock)
    gw.stop()
    db.dispose()


@pytest.fixture
def drill(drill_env: Drill) -> Drill:
    drill_env.sim.reset()
    drill_env.clock.real()
    reset_circuits(drill_env.gw)
    return drill_env
