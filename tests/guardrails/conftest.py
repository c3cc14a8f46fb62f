"""A running gateway over the simulator with guardrail policies, one tenant per policy."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sekisho.actor import Actor
from sekisho.guardrails.assignments import set_tenant_policy
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

GUARDRAILS = {
    "default_policy": "standard",
    "refresh_interval_s": 0.2,
    "events_flush_interval_s": 0.05,
    "policies": {
        "outonly": {
            "output": [
                {"check": "payment_card", "action": "mask"},
                {"check": "secrets", "action": "block"},
                {"check": "email", "action": "mask"},
            ]
        },
        "strict": {
            "input": [
                {"check": "blocked_terms", "action": "block", "terms": ["Project Falcon"]},
                {"check": "email", "action": "block"},
            ]
        },
        "watch": {
            "mode": "monitor",
            "input": [
                {"check": "secrets", "action": "block"},
                {"check": "payment_card", "action": "mask"},
            ],
            "output": [{"check": "payment_card", "action": "mask"}],
        },
    },
}
TENANT_POLICIES = {"plain": None, "out": "outonly", "strict": "strict", "watch": "watch"}


@dataclass
class GuardEnv:
    gw: RunningGateway
    db: Database
    sim: SimulatorServer
    keys: dict[str, str]
    tenants: dict[str, str]
    state: Path

    @property
    def url(self) -> str:
        return self.gw.url


@pytest.fixture(scope="module")
def genv(
    simulator: SimulatorServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GuardEnv]:
    state = tmp_path_factory.mktemp("guard")
    settings = gateway_settings(simulator.url, state, sqlite_url(state), guardrails=GUARDRAILS)
    db = migrated(settings.database_url)
    keys: dict[str, str] = {}
    tenants: dict[str, str] = {}
    for name, policy in TENANT_POLICIES.items():
        tenants[name], keys[name] = make_tenant(db, settings, name)
        if policy:
            with db.begin() as s:
                set_tenant_policy(
                    s,
                    tenants[name],
                    policy,
                    Actor.system("tests"),
                    known_policies=settings.guardrails.all_policies(),
                )
    gw = start_gateway(settings, db)
    yield GuardEnv(gw, db, simulator, keys, tenants, state)
    gw.stop()
    db.dispose()


@pytest.fixture
def env(genv: GuardEnv) -> GuardEnv:
    genv.sim.reset()
    reset_circuits(genv.gw)
    return genv
