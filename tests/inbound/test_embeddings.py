"""POST /v1/embeddings: embedding aliases, both encodings, sovereign failover, request log."""

from __future__ import annotations

import base64
import struct
from typing import Any

import httpx
import openai
import pytest

from sekisho.simulator import SimulatorServer
from sekisho.simulator.embeddings import DEFAULT_DIMENSIONS, embed
from tests.gateway.conftest import Env
from tests.support.requestlog import wait_for_row


def post(env: Env, body: dict[str, Any], tenant: str = "acme") -> httpx.Response:
    with httpx.Client(timeout=10) as http:
        return http.post(
            env.url + "/v1/embeddings",
            json=body,
            headers={"authorization": f"Bearer {env.keys[tenant]}"},
        )


def client(env: Env, tenant: str = "acme") -> openai.OpenAI:
    return openai.OpenAI(base_url=env.url + "/v1", api_key=env.keys[tenant], max_retries=0)


def test_openai_sdk_embeddings(env: Env, sim: SimulatorServer) -> None:
    result = client(env).embeddings.create(model="embed-small", input=["alpha", "beta gamma"])
    assert result.model == "embed-small"
    assert [d.index for d in result.data] == [0, 1]
    assert result.data[0].embedding == pytest.approx(embed("alpha", DEFAULT_DIMENSIONS))
    assert result.data[0].embedding != result.data[1].embedding
    assert result.usage.prompt_tokens == 3 and result.usage.total_tokens == 3
    assert sim.stats("atlas-useast")["last_request"]["body"]["model"] == "atlas-embed"


def test_float_and_base64_carry_the_same_vector(env: Env, sim: SimulatorServer) -> None:
    floats = post(env, {"model": "embed-small", "input": "same text", "dimensions": 8})
    b64 = post(
        env,
        {
            "model": "embed-small",
            "input": "same text",
            "dimensions": 8,
            "encoding_format": "base64",
        },
    )
    assert floats.status_code == b64.status_code == 200
    vector = floats.json()["data"][0]["embedding"]
    assert len(vector) == 8
    raw = base64.b64decode(b64.json()["data"][0]["embedding"])
    assert list(struct.unpack("<8f", raw)) == vector
    body = floats.json()
    assert set(body) == {"object", "data", "model", "usage"} and body["model"] == "embed-small"
    assert "atlas" not in floats.text and "x-ratelimit-limit-requests" not in floats.headers


def test_chat_alias_refused_on_embeddings_and_vice_versa(env: Env, sim: SimulatorServer) -> None:
    resp = post(env, {"model": "chat-large", "input": "x"})
    assert resp.status_code == 400
    assert resp.json()["error"]["param"] == "model"
    assert "chat model" in resp.json()["error"]["message"]
    with httpx.Client(timeout=10) as http:
        chat = http.post(
            env.url + "/v1/chat/completions",
            json={"model": "embed-small", "messages": [{"role": "user", "content": "hi"}]},
            headers={"authorization": f"Bearer {env.keys['acme']}"},
        )
    assert chat.status_code == 400 and "/v1/embeddings" in chat.json()["error"]["message"]
    assert sim.stats("atlas-useast")["requests"] == 0


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "embed-small"}, "input"),
        ({"model": "embed-small", "input": []}, "input"),
        ({"model": "embed-small", "input": "x", "encoding_format": "int8"}, "encoding_format"),
        ({"model": "embed-small", "input": "x", "dimensions": 0}, "dimensions"),
        ({"model": "embed-small", "input": "x", "colour": "red"}, "colour"),
        ({"model": "nope", "input": "x"}, None),
    ],
)
def test_bad_input(env: Env, sim: SimulatorServer, body: dict[str, Any], param: str | None) -> None:
    resp = post(env, body)
    if param is None:
        assert resp.status_code == 404 and resp.json()["error"]["code"] == "model_not_found"
    else:
        assert resp.status_code == 400 and resp.json()["error"]["param"] == param


def test_fails_over_on_upstream_failure_and_logs_every_attempt(
    env: Env, sim: SimulatorServer
) -> None:
    sim.set_fault("atlas-useast", status=503)
    resp = post(env, {"model": "embed-small", "input": "fail over"})
    assert resp.status_code == 200, resp.text
    row = wait_for_row(env.db, resp.headers["x-request-id"])
    assert [(a["provider"], a["outcome"]) for a in row.attempts] == [
        ("atlas-useast", "server_error"),
        ("kumo-tokyo", "ok"),
    ]
    assert (row.status, row.alias, row.provider, row.prompt_tokens) == (
        200,
        "embed-small",
        "kumo-tokyo",
        2,
    )
    assert row.tenant_id == env.tenants["acme"]


def test_request_errors_do_not_fail_over(env: Env, sim: SimulatorServer) -> None:
    sim.set_fault("atlas-useast", status=400)
    resp = post(env, {"model": "embed-small", "input": "x"})
    assert resp.status_code == 400
    assert sim.stats("kumo-tokyo")["requests"] == 0


def test_sovereign_tenant_never_fails_over_to_a_non_sovereign_provider(
    env: Env, sim: SimulatorServer
) -> None:
    sim.set_fault("kumo-tokyo", status=503)
    resp = post(env, {"model": "embed-any", "input": "x"}, tenant="sakura")
    assert resp.status_code == 502
    assert resp.json()["error"]["code"] == "upstream_unavailable"
    assert sim.stats("atlas-useast")["requests"] == 0
    # an unconstrained tenant may use the fallback
    assert post(env, {"model": "embed-any", "input": "x"}).status_code == 200


def test_upstream_rate_limit_surfaces_as_429(env: Env, sim: SimulatorServer) -> None:
    sim.set_fault("kumo-tokyo", status=429)
    resp = post(env, {"model": "embed-jp", "input": "x"}, tenant="sakura")
    assert resp.status_code == 429 and "retry-after" in resp.headers
    row = wait_for_row(env.db, resp.headers["x-request-id"])
    assert (row.status, row.error_code) == (429, "rate_limited")


def test_models_lists_embedding_aliases(env: Env) -> None:
    ids = [m.id for m in client(env, "sakura").models.list()]
    assert "embed-jp" in ids and "embed-small" not in ids
