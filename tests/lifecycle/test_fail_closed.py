"""Rule 6: with PostgreSQL unreachable past the staleness bound, a formerly valid key gets
503 service_unavailable, never 200 - whether the store refuses connections or stalls."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from sekisho.simulator import SimulatorServer
from tests.lifecycle.support import TcpProxy, proxied_url
from tests.support.databases import fresh_postgres_database
from tests.support.gateway import (
    RunningGateway,
    gateway_settings,
    make_tenant,
    migrated,
    start_gateway,
)

MAX_STALE_S = 1.0
STORE_TIMEOUT_S = 0.5
pytestmark = pytest.mark.postgres


@dataclass
class Rig:
    gw: RunningGateway
    proxy: TcpProxy
    key: str
    unseen_key: str


@pytest.fixture(scope="module")
def rig(simulator: SimulatorServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    state: Path = tmp_path_factory.mktemp("failclosed")
    with fresh_postgres_database() as direct, proxied_url(direct) as (url, proxy):
        db = migrated(url)
        settings = gateway_settings(
            simulator.url,
            state,
            url,
            observe={"probes_enabled": False},
            auth={
                "cache_ttl_s": 0.2,
                "max_stale_s": MAX_STALE_S,
                "store_timeout_s": STORE_TIMEOUT_S,
            },
        )
        _, key = make_tenant(db, settings, "fc")
        _, unseen = make_tenant(db, settings, "fc-unseen")
        gw = start_gateway(settings, db)
        try:
            yield Rig(gw, proxy, key, unseen)
        finally:
            proxy.heal()
            gw.stop()
            db.dispose()


def _models(rig: Rig, key: str) -> tuple[int, str | None, float]:
    started = time.monotonic()
    resp = httpx.get(
        rig.gw.url + "/v1/models", headers={"authorization": f"Bearer {key}"}, timeout=10
    )
    code = None if resp.status_code == 200 else resp.json()["error"]["code"]
    return resp.status_code, code, time.monotonic() - started


def _outage(rig: Rig, break_store: str) -> list[tuple[float, int, str | None, float]]:
    assert _models(rig, rig.key)[0] == 200  # the key is valid and cached
    getattr(rig.proxy, break_store)()
    cut_at = time.monotonic()
    seen = []
    try:
        while time.monotonic() - cut_at < MAX_STALE_S + 1.5:
            status, code, took = _models(rig, rig.key)
            seen.append((time.monotonic() - cut_at, status, code, took))
            time.sleep(0.05)
        status, code, _ = _models(rig, rig.unseen_key)
        assert (status, code) == (503, "service_unavailable"), "an unverifiable key got through"
    finally:
        rig.proxy.heal()
    return seen


@pytest.mark.parametrize("break_store", ["cut", "stall"])
def test_store_unreachable_past_the_bound_is_503_never_200(rig: Rig, break_store: str) -> None:
    seen = _outage(rig, break_store)
    # Past the bound (plus one lookup timeout for a request already waiting) nothing is served.
    late = [s for s in seen if s[0] - s[3] > MAX_STALE_S + 0.05]
    assert late, "no request was made past the staleness bound"
    assert {(status, code) for _, status, code, _ in late} == {(503, "service_unavailable")}
    assert all(status in (200, 503) for _, status, _, _ in seen)
    # A stalled store does not hang requests: each answers within the lookup timeout.
    assert max(took for *_, took in seen) < STORE_TIMEOUT_S + 1.0
    deadline = time.monotonic() + 10
    while _models(rig, rig.key)[0] != 200:  # the store is back: so is the key
        assert time.monotonic() < deadline, "the key never recovered"
        time.sleep(0.1)
