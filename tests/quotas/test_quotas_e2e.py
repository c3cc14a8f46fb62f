"""Quotas through the running gateway: headers, refusals, overrides, streams, replicas, usage.

Real uvicorn servers, the provider simulator, real Redis, SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from sqlalchemy import func, select

from sekisho.simulator import SimulatorServer
from sekisho.store.db import Database
from sekisho.store.models import RequestLog
from tests.support.cli import run, write_config
from tests.support.databases import REDIS_URL, fresh_postgres_database, sqlite_url
from tests.support.gateway import gateway_settings, make_tenant, migrated, start_gateway

pytestmark = pytest.mark.redis

BODY = {"model": "chat-fast", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 8}


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorServer]:
    with SimulatorServer() as server:
        yield server


def _wait(predicate: Any, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _fresh_minute(margin: float = 8.0) -> None:
    """Wait (at most `margin` s) so that what follows stays inside one minute window."""
    left = 60 - time.time() % 60
    if left < margin:
        time.sleep(left + 0.05)


def _post(url: str, key: str, body: dict[str, Any] | None = None) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/chat/completions",
        json=body or BODY,
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )


def _settings(sim: SimulatorServer, tmp: Path, db_url: str, **quotas: Any) -> Any:
    return gateway_settings(
        sim.url,
        tmp,
        db_url,
        redis_url=REDIS_URL,
        quotas={"refresh_s": 0.2, **quotas},
        observe={"rollup_flush_s": 0.2},
    )


def test_rpm_refusal_has_retry_after_and_ratelimit_headers(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    settings = _settings(sim, tmp_path, sqlite_url(tmp_path), rpm=3)
    db = migrated(settings.database_url)
    tenant_id, key = make_tenant(db, settings, f"q{secrets.token_hex(3)}")
    _, other_key = make_tenant(db, settings, f"o{secrets.token_hex(3)}")
    gw = start_gateway(settings, db)
    try:
        _fresh_minute()
        answers = [_post(gw.url, key) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert [a.headers["x-ratelimit-remaining-requests"] for a in answers] == ["2", "1", "0"]
        assert answers[0].headers["x-ratelimit-limit-requests"] == "3"
        assert answers[0].headers["x-ratelimit-reset-requests"].endswith("s")
        refused = _post(gw.url, key)
        assert refused.status_code == 429
        err = refused.json()["error"]
        assert err["code"] == "rate_limited" and "3 requests per minute" in err["message"]
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.headers["x-ratelimit-remaining-requests"] == "0"
        # Another tenant is untouched by this tenant's flood.
        assert _post(gw.url, other_key).status_code == 200
        # The official SDK sees a RateLimitError it can act on.
        client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=key, max_retries=0)
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(**BODY)

        # The refusals are in the request log, so "watch its traffic" shows them.
        def refusals() -> int:
            with db.read() as s:
                return (
                    s.scalar(
                        select(func.count())
                        .select_from(RequestLog)
                        .where(RequestLog.tenant_id == tenant_id, RequestLog.status == 429)
                    )
                    or 0
                )

        _wait(lambda: refusals() == 2, what="two refusal rows")
    finally:
        gw.stop()
        db.dispose()


def test_refused_request_makes_no_upstream_call(sim: SimulatorServer, tmp_path: Path) -> None:
    settings = _settings(sim, tmp_path, sqlite_url(tmp_path), rpm=1)
    db = migrated(settings.database_url)
    _, key = make_tenant(db, settings, f"n{secrets.token_hex(3)}")
    gw = start_gateway(settings, db)
    try:
        _fresh_minute()
        assert _post(gw.url, key).status_code == 200
        before = sim.stats("meridian-eu")["requests"]
        assert [_post(gw.url, key).status_code for _ in range(5)] == [429] * 5
        assert sim.stats("meridian-eu")["requests"] == before
    finally:
        gw.stop()
        db.dispose()


def test_cli_override_reaches_the_running_gateway_and_the_ledger(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    settings = _settings(sim, tmp_path, sqlite_url(tmp_path))
    db = migrated(settings.database_url)
    name = f"c{secrets.token_hex(3)}"
    tenant_id, key = make_tenant(db, settings, name)
    gw = start_gateway(settings, db)
    config = write_config(tmp_path, settings.database_url, sim.url)
    try:
        _fresh_minute(12)
        assert _post(gw.url, key).status_code == 200  # unlimited by default
        assert "x-ratelimit-limit-requests" not in _post(gw.url, key).headers
        proc = run("tenant", "quota", name, "--rpm", "1", "--note", "abuse", config=config)
        assert proc.returncode == 0, proc.stderr
        assert "rpm" in proc.stdout and "override" in proc.stdout
        service = gw.gateway.quotas.service
        _wait(lambda: service.limits_for(tenant_id).rpm == 1, what="the override on the replica")
        first = _post(gw.url, key)
        assert first.status_code == 200 and first.headers["x-ratelimit-limit-requests"] == "1"
        assert _post(gw.url, key).status_code == 429
        bad = run("tenant", "quota", name, "--rpm", "0", config=config)
        assert bad.returncode == 2 and "positive integer" in bad.stderr
        shown = json.loads(run("tenant", "quota", name, "--json", config=config).stdout)
        assert shown["override"] == {"rpm": 1} and shown["version"] == 1
        ledger = run("ledger", "export", "--out", str(tmp_path / "l.jsonl"), config=config)
        assert ledger.returncode == 0, ledger.stderr
        text = (tmp_path / "l.jsonl").read_text()
        assert "tenant.quota.set" in text and "abuse" in text
    finally:
        gw.stop()
        db.dispose()


def test_concurrent_stream_limit_holds_until_the_stream_ends(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    settings = _settings(sim, tmp_path, sqlite_url(tmp_path), concurrent_streams=1)
    db = migrated(settings.database_url)
    _, key = make_tenant(db, settings, f"s{secrets.token_hex(3)}")
    gw = start_gateway(settings, db)
    release = threading.Event()
    sim.set_fault("meridian-eu", first_byte_delay_ms=1500, count=1)
    try:
        body = {**BODY, "stream": True}
        done: list[int] = []

        def first_stream() -> None:
            with httpx.stream(
                "POST",
                f"{gw.url}/v1/chat/completions",
                json=body,
                headers={"authorization": f"Bearer {key}"},
                timeout=30,
            ) as r:
                done.append(r.status_code)
                for _ in r.iter_bytes():
                    pass
            release.set()

        t = threading.Thread(target=first_stream)
        t.start()
        service = gw.gateway.quotas.service
        _wait(lambda: service.open_reservations == 1, what="the first stream admitted")
        second = _post(gw.url, key, body)
        assert second.status_code == 429
        assert "open streams" in second.json()["error"]["message"]
        assert release.wait(30)
        t.join(10)
        _wait(lambda: service.open_reservations == 0, what="the first stream settled")
        _wait(lambda: _post(gw.url, key, body).status_code == 200, what="a slot again")
        assert done == [200]
    finally:
        sim.clear_faults()
        gw.stop()
        db.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_usage_is_metered_and_reconciles_with_the_request_log(
    sim: SimulatorServer, tmp_path: Path, backend: str
) -> None:
    if backend == "postgres":
        with fresh_postgres_database() as url:
            _usage_round(sim, tmp_path, url)
    else:
        _usage_round(sim, tmp_path, sqlite_url(tmp_path))


def _usage_round(sim: SimulatorServer, tmp_path: Path, url: str) -> None:
    settings = _settings(sim, tmp_path, url, rpm=5)
    db = migrated(settings.database_url)
    name = f"u{secrets.token_hex(3)}"
    tenant_id, key = make_tenant(db, settings, name)
    gw = start_gateway(settings, db)
    config = write_config(tmp_path, settings.database_url, sim.url)
    try:
        _fresh_minute()
        statuses = [_post(gw.url, key).status_code for _ in range(7)]
        assert statuses.count(200) == 5 and statuses.count(429) == 2

        def logged() -> int:
            with db.read() as s:
                return (
                    s.scalar(
                        select(func.count())
                        .select_from(RequestLog)
                        .where(RequestLog.tenant_id == tenant_id)
                    )
                    or 0
                )

        _wait(lambda: logged() == 7, what="seven request-log rows")

        def metered() -> list[dict[str, Any]]:
            proc = run("usage", "--tenant", name, "--json", config=config)
            assert proc.returncode == 0, proc.stderr
            return json.loads(proc.stdout)

        _wait(lambda: sum(r["requests"] for r in metered()) == 7, what="usage flushed")
        rows = metered()
        with db.read() as s:
            prompt, completion = s.execute(
                select(
                    func.sum(RequestLog.prompt_tokens), func.sum(RequestLog.completion_tokens)
                ).where(RequestLog.tenant_id == tenant_id)
            ).one()
        assert sum(r["prompt_tokens"] for r in rows) == prompt
        assert sum(r["completion_tokens"] for r in rows) == completion
        assert sum(r["errors"] for r in rows) == 2
        assert {r["alias"] for r in rows} == {"chat-fast"} and rows[0]["tenant"] == name
        csv_text = run("usage", "--tenant", name, "--csv", config=config).stdout
        assert csv_text.splitlines()[0].startswith("day,tenant_id,tenant,key_id,alias")
        table = run("usage", "--tenant", name, config=config).stdout
        assert "total" in table and name in table
    finally:
        gw.stop()
        db.dispose()


def test_two_replicas_share_one_limit(sim: SimulatorServer, tmp_path: Path) -> None:
    """Two gateways on one PostgreSQL and Redis; 60 concurrent requests, rpm 20: exactly 20."""
    with fresh_postgres_database() as url:
        # Exactness across replicas is under test, not the fallback: give Redis time to
        # answer a burst on a loaded machine.
        settings_a = _settings(sim, tmp_path / "a", url, rpm=20, redis_timeout_s=5.0)
        settings_b = _settings(sim, tmp_path / "b", url, rpm=20, redis_timeout_s=5.0)
        db = migrated(url)
        _, key = make_tenant(db, settings_a, f"r{secrets.token_hex(3)}")
        db_b = Database(url)
        a, b = start_gateway(settings_a, db), start_gateway(settings_b, db_b)
        try:
            _fresh_minute(15)
            results: list[int] = []
            lock = threading.Lock()

            def hit(url: str) -> None:
                code = _post(url, key).status_code
                with lock:
                    results.append(code)

            threads = [threading.Thread(target=hit, args=(gw.url,)) for gw in (a, b) * 30]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            assert len(results) == 60
            assert results.count(200) == 20 and results.count(429) == 40
        finally:
            a.stop()
            b.stop()
            db.dispose()
            db_b.dispose()
