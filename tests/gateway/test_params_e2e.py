"""No parameter is dropped silently, seen from a client of the running gateway."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sekisho.simulator import SimulatorServer
from tests.gateway.conftest import Env
from tests.support.requestlog import wait_for_row

HI = [{"role": "user", "content": "hi"}]


def post(env: Env, body: dict[str, Any]) -> httpx.Response:
    with httpx.Client(timeout=10) as http:
        return http.post(
            env.url + "/v1/chat/completions",
            json=body,
            headers={"authorization": f"Bearer {env.keys['acme']}"},
        )


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"logprobs": True}, "logprobs"),
        ({"temperature": 1.5}, "temperature"),
        ({"temperature": 0.3, "top_p": 0.8}, "top_p"),
        ({"seed": 3}, "seed"),
        ({"messages": [{"role": "user", "content": "hi", "name": "bob"}]}, "messages"),
        ({"tool_choice": "required"}, "tool_choice"),
    ],
)
def test_anthropic_route_refuses_what_it_cannot_carry(
    env: Env, sim: SimulatorServer, extra: dict[str, Any], param: str
) -> None:
    resp = post(env, {"model": "chat-fast", "messages": HI, **extra})
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["code"] == "invalid_request" and error["param"] == param
    assert "meridian" not in error["message"].lower()
    assert sim.stats("meridian-eu")["requests"] == 0


def test_reasoning_effort_reaches_anthropic_as_thinking(env: Env, sim: SimulatorServer) -> None:
    resp = post(env, {"model": "chat-fast", "messages": HI, "reasoning_effort": "low"})
    assert resp.status_code == 200, resp.text
    sent = sim.stats("meridian-eu")["last_request"]["body"]
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 2048}


def test_openai_route_passes_logprobs_and_names(env: Env, sim: SimulatorServer) -> None:
    messages = [{"role": "user", "content": "hi", "name": "bob"}]
    resp = post(env, {"model": "chat-large", "messages": messages, "logprobs": True, "seed": 4})
    assert resp.status_code == 200, resp.text
    sent = sim.stats("atlas-useast")["last_request"]["body"]
    assert sent["logprobs"] is True and sent["seed"] == 4 and sent["messages"] == messages


def test_failover_skips_a_route_that_cannot_carry_the_request(
    env: Env, sim: SimulatorServer
) -> None:
    # chat-large: atlas (openai) -> meridian (anthropic) -> kumo (openai)
    sim.set_fault("atlas-useast", status=503)
    resp = post(env, {"model": "chat-large", "messages": HI, "logprobs": True})
    assert resp.status_code == 200, resp.text
    row = wait_for_row(env.db, resp.headers["x-request-id"])
    assert [(a["provider"], a["outcome"]) for a in row.attempts] == [
        ("atlas-useast", "server_error"),
        ("meridian-eu", "untranslatable"),
        ("kumo-tokyo", "ok"),
    ]
    assert sim.stats("meridian-eu")["requests"] == 0
