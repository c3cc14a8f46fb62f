"""A running gateway with small, fast limits, a tenant key, an operator token, and the route families."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sekisho.actor import Actor
from sekisho.admin.tokens import create_token
from sekisho.simulator import SimulatorServer
from sekisho.store.db import Database
from sekisho.tenancy import service
from tests.support.databases import sqlite_url
from tests.support.gateway import (
    RunningGateway,
    gateway_settings,
    make_tenant,
    migrated,
    start_gateway,
)

# Small limits so every case is quick; the defaults are tested in tests/security/test_limits_defaults.py.
LIMITS = {
    "max_body_bytes": 256 * 1024,
    "control_max_body_bytes": 64 * 1024,
    "max_header_bytes": 8 * 1024,
    "max_header_count": 40,
    "header_timeout_s": 1.0,
    "body_timeout_s": 1.5,
    "keep_alive_timeout_s": 1.0,
}


@dataclass(frozen=True)
class Family:
    """One route family: a path that takes a body, the method, and how to authenticate."""

    name: str
    method: str
    path: str
    auth: str  # "key" | "token" | "none"
    envelope: str = "ours"  # "ours" | "anthropic" | "page" (an HTML error page, see envelope.py)


# One line per route family; /console and /chat answer from their own apps once they exist.
FAMILIES = [
    Family("v1-chat", "POST", "/v1/chat/completions", "key"),
    Family("v1-chat-anon", "POST", "/v1/chat/completions", "none"),
    Family("v1-messages", "POST", "/v1/messages", "key", envelope="anthropic"),
    Family("v1-unknown", "POST", "/v1/does-not-exist", "key"),
    Family("admin", "POST", "/admin/v1/incidents", "token"),
    Family("admin-anon", "POST", "/admin/v1/incidents", "none"),
    Family("admin-session", "POST", "/admin/v1/session", "none"),
    Family("status", "POST", "/status", "none"),
    Family("healthz", "POST", "/healthz", "none"),
    Family("readyz", "POST", "/readyz", "none"),
    Family("metrics", "POST", "/metrics", "token"),
    Family("console", "POST", "/console/", "none", envelope="page"),
    Family("chat", "POST", "/chat/", "none", envelope="page"),
]


@dataclass
class Edge:
    gw: RunningGateway
    db: Database
    key: str
    token: str
    rss_at_start: int

    @property
    def port(self) -> int:
        return int(self.gw.url.rsplit(":", 1)[1])

    def auth_headers(self, family: Family) -> list[tuple[str, str]]:
        if family.auth == "key":
            return [("authorization", f"Bearer {self.key}"), ("x-api-key", self.key)]
        if family.auth == "token":
            return [("authorization", f"Bearer {self.token}")]
        return []


def rss_bytes(pid: int | None = None) -> int:
    status = Path(f"/proc/{pid or os.getpid()}/status").read_text()
    line = next(ln for ln in status.splitlines() if ln.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


@pytest.fixture(scope="module")
def edge(simulator: SimulatorServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    state = tmp_path_factory.mktemp("edge")
    settings = gateway_settings(simulator.url, state, sqlite_url(state), limits=LIMITS)
    db = migrated(settings.database_url)
    _, key = make_tenant(db, settings, "hostile")
    actor = Actor.system("tests")
    with db.begin() as session:
        user = service.create_user(session, "op@edge.example", "operator", None, actor)
        _, token = create_token(session, user, actor)
    gw = start_gateway(settings, db)
    yield Edge(gw, db, key, token, rss_bytes())
    gw.stop()
    db.dispose()
