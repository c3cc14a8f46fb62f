"""Every request leaves one request-log row with its attempts, written off the hot path."""

from __future__ import annotations

import asyncio

import httpx

from sekisho.simulator import SimulatorServer
from sekisho.store.models import RequestLog
from tests.gateway.conftest import Env
from tests.support.requestlog import wait_for_row


def _row(env: Env, rid: str) -> RequestLog:
    return wait_for_row(env.db, rid)


def test_success_row(env: Env, sim: SimulatorServer) -> None:
    with httpx.Client(timeout=10) as http:
        resp = http.post(
            env.url + "/v1/chat/completions",
            json={"model": "chat-large", "messages": [{"role": "user", "content": "log me"}]},
            headers={"authorization": f"Bearer {env.keys['acme']}"},
        )
    row = _row(env, resp.headers["x-request-id"])
    assert (row.status, row.error_code, row.alias, row.stream) == (200, None, "chat-large", False)
    assert row.tenant_id == env.tenants["acme"] and row.key_id
    assert row.provider == "atlas-useast" and row.upstream_model == "atlas-large"
    assert [a["outcome"] for a in row.attempts] == ["ok"]
    assert row.prompt_tokens and row.completion_tokens and row.total_tokens
    assert row.latency_ms > 0
    assert row.plan is not None and row.plan["candidates"][0]["provider"] == "atlas-useast"


def test_failover_row_shows_every_attempt(env: Env, sim: SimulatorServer) -> None:
    sim.set_fault("atlas-useast", status=503)
    with httpx.Client(timeout=10) as http:
        resp = http.post(
            env.url + "/v1/chat/completions",
            json={
                "model": "chat-large",
                "stream": True,
                "messages": [{"role": "user", "content": "fail over"}],
            },
            headers={"authorization": f"Bearer {env.keys['acme']}"},
        )
    assert resp.status_code == 200
    row = _row(env, resp.headers["x-request-id"])
    assert [(a["provider"], a["outcome"], a["status"]) for a in row.attempts] == [
        ("atlas-useast", "server_error", 503),
        ("meridian-eu", "ok", 200),
    ]
    assert row.provider == "meridian-eu" and row.stream and row.ttfb_ms is not None
    assert "overloaded" in row.attempts[0]["detail"]  # the upstream's words, internal only


def test_refused_request_is_logged_too(env: Env, sim: SimulatorServer) -> None:
    with httpx.Client(timeout=10) as http:
        resp = http.post(
            env.url + "/v1/chat/completions",
            json={"model": "chat-cn", "messages": [{"role": "user", "content": "x"}]},
            headers={"authorization": f"Bearer {env.keys['acme']}"},
        )
    row = _row(env, resp.headers["x-request-id"])
    assert (row.status, row.error_code, row.attempts) == (403, "permission_denied", [])


def test_key_last_used_is_recorded(env: Env, sim: SimulatorServer) -> None:
    from sekisho.store.models import ApiKey

    with httpx.Client(timeout=10) as http:
        resp = http.post(
            env.url + "/v1/chat/completions",
            json={"model": "chat-fast", "messages": [{"role": "user", "content": "x"}]},
            headers={"authorization": f"Bearer {env.keys['narrow']}"},
        )
    row = _row(env, resp.headers["x-request-id"])
    with env.db.read() as s:
        key = s.get(ApiKey, row.key_id)
        assert key is not None and key.last_used_at is not None


def test_writer_is_not_awaited_on_the_request_path(env: Env) -> None:
    assert asyncio.iscoroutinefunction(env.gw.gateway.writer.submit) is False
