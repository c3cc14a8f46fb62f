"""Embeddings are admitted as chat is: guardrails' input stage, quotas, one owner per request."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from sekisho.demo import DEMO_SECRETS, demo_document
from sekisho.settings import settings_from_document
from sekisho.simulator import SimulatorServer
from tests.gateway.conftest import Env
from tests.inbound.conftest import EMBEDDING_ALIASES
from tests.support.databases import sqlite_url
from tests.support.gateway import make_tenant, migrated, start_gateway
from tests.support.requestlog import wait_for_row

AWS_KEY = "AKIAIOSFODNN7EXAMPLE"  # the standard policy blocks secrets and masks cards
CARD = "4111 1111 1111 1111"
PROVIDERS = ("kumo-tokyo", "hoshi-osaka", "atlas-useast", "meridian-eu", "longmen-cn")


def embed(url: str, key: str, value: Any) -> httpx.Response:
    return httpx.post(
        url + "/v1/embeddings",
        json={"model": "embed-small", "input": value},
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )


def test_a_secret_in_any_input_string_blocks_before_any_upstream_call(
    env: Env, sim: SimulatorServer
) -> None:
    r = embed(env.url, env.keys["acme"], ["hello", f"deploy with {AWS_KEY} please"])
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert (err["code"], err["param"]) == ("content_policy_violation", "input")
    assert "AKIA" not in r.text
    assert sum(sim.stats(p)["requests"] for p in PROVIDERS) == 0
    row = wait_for_row(env.db, r.headers["x-request-id"])
    assert (row.status, row.error_code) == (400, "content_policy_violation")
    assert row.guardrail and row.guardrail["blocked"] == "input:secrets"


def test_a_card_number_is_masked_before_it_leaves(env: Env, sim: SimulatorServer) -> None:
    r = embed(env.url, env.keys["acme"], ["first", f"pay with {CARD} today"])
    assert r.status_code == 200, r.text
    assert [d["index"] for d in r.json()["data"]] == [0, 1]
    sent = sim.stats("atlas-useast")["last_request"]["body"]["input"]
    assert sent[0] == "first"
    assert CARD not in sent[1] and "1111" not in sent[1] and sent[1].startswith("pay with ")


def test_the_tenants_rate_limit_counts_embeddings(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    doc = demo_document(simulator.url, tmp_path, 0)
    doc["database_url"] = sqlite_url(tmp_path)
    doc["aliases"] = [*doc["aliases"], *EMBEDDING_ALIASES]  # type: ignore[misc]
    doc["quotas"] = {"rpm": 2}
    settings = settings_from_document(doc, DEMO_SECRETS)
    db = migrated(settings.database_url)
    _, key = make_tenant(db, settings, f"q{secrets.token_hex(3)}")
    gw = start_gateway(settings, db)
    try:
        if 60 - time.time() % 60 < 8:  # keep the three requests inside one minute window
            time.sleep(60 - time.time() % 60 + 0.05)
        answers = [embed(gw.url, key, "some text") for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert [a.headers["x-ratelimit-remaining-requests"] for a in answers[:2]] == ["1", "0"]
        refused = answers[2]
        assert refused.json()["error"]["code"] == "rate_limited"
        assert int(refused.headers["retry-after"]) >= 1
        # a chat request of the same tenant shares the same minute
        chat = httpx.post(
            gw.url + "/v1/chat/completions",
            json={"model": "chat-large", "messages": [{"role": "user", "content": "hi"}]},
            headers={"authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert chat.status_code == 429
    finally:
        gw.stop()
        db.dispose()


@pytest.mark.parametrize("value", ["", [""]])
def test_empty_input_is_still_refused_by_validation(env: Env, value: Any) -> None:
    r = embed(env.url, env.keys["acme"], value)
    assert r.status_code == 400 and r.json()["error"]["param"] == "input"
