"""POST /v1/messages with the official `anthropic` SDK, over both upstream kinds."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import pytest

from sekisho.simulator import SimulatorServer
from tests.gateway.conftest import Env
from tests.simulator.sim_helpers import sse_events, sse_json
from tests.support.requestlog import wait_for_row

# chat-large: OpenAI-wire primary; chat-fast: Anthropic-wire primary.
ALIASES = ["chat-large", "chat-fast"]
TOOLS: list[dict[str, Any]] = [
    {
        "name": "lookup",
        "description": "Look something up",
        "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}},
    }
]


def client(env: Env, tenant: str = "acme") -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=env.url, api_key=env.keys[tenant], max_retries=0)


def raw(env: Env, body: dict[str, Any], **headers: str) -> httpx.Response:
    with httpx.Client(timeout=10) as http:
        return http.post(
            env.url + "/v1/messages",
            json=body,
            headers={"x-api-key": env.keys["acme"], "anthropic-version": "2023-06-01", **headers},
        )


@pytest.mark.parametrize("alias", ALIASES)
def test_messages_create(env: Env, sim: SimulatorServer, alias: str) -> None:
    message = client(env).messages.create(
        model=alias,
        max_tokens=100,
        system=[{"type": "text", "text": "Be brief."}],
        messages=[{"role": "user", "content": "Hello there"}],
    )
    assert message.model == alias and message.type == "message" and message.role == "assistant"
    assert message.id.startswith("msg_")
    assert message.content[0].type == "text"
    assert message.content[0].text.startswith("Simulated answer to: Hello there")
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0


@pytest.mark.parametrize("alias", ALIASES)
def test_stream_helper(env: Env, sim: SimulatorServer, alias: str) -> None:
    with client(env).messages.stream(
        model=alias, max_tokens=100, messages=[{"role": "user", "content": "Stream me please"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text.startswith("Simulated answer to: Stream me please")
    assert final.content[0].text == text  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0
    assert final.model == alias


@pytest.mark.parametrize("alias", ALIASES)
def test_exact_event_sequence(env: Env, sim: SimulatorServer, alias: str) -> None:
    resp = raw(
        env,
        {
            "model": alias,
            "max_tokens": 50,
            "stream": True,
            "messages": [{"role": "user", "content": "one two"}],
        },
    )
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
    names = sse_events(resp.text)
    assert names[:4] == ["message_start", "ping", "content_block_start", "content_block_delta"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(names[3:-3]) == {"content_block_delta"}
    payloads = sse_json(resp.text)
    assert [p["type"] for p in payloads] == names
    assert payloads[-2]["usage"]["output_tokens"] > 0
    assert payloads[-2]["delta"]["stop_reason"] == "end_turn"


@pytest.mark.parametrize("alias", ALIASES)
def test_tool_round_trip(env: Env, sim: SimulatorServer, alias: str) -> None:
    c = client(env)
    question = {"role": "user", "content": "use the tool please"}
    first = c.messages.create(
        model=alias,
        max_tokens=100,
        tools=TOOLS,  # type: ignore[arg-type]
        messages=[question],  # type: ignore[list-item]
    )
    assert first.stop_reason == "tool_use"
    use = next(b for b in first.content if b.type == "tool_use")
    assert use.name == "lookup" and use.input == {"query": "use the tool please"}
    second = c.messages.create(
        model=alias,
        max_tokens=100,
        tools=TOOLS,  # type: ignore[arg-type]
        messages=[
            question,  # type: ignore[list-item]
            {"role": "assistant", "content": first.content},  # type: ignore[typeddict-item]
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "42"}],
            },
        ],
    )
    assert second.stop_reason == "end_turn"
    assert "42" in second.content[0].text  # type: ignore[union-attr]


@pytest.mark.parametrize("alias", ALIASES)
def test_streamed_tool_call_uses_input_json_delta(
    env: Env, sim: SimulatorServer, alias: str
) -> None:
    with client(env).messages.stream(
        model=alias,
        max_tokens=100,
        tools=TOOLS,  # type: ignore[arg-type]
        tool_choice={"type": "tool", "name": "lookup"},
        messages=[{"role": "user", "content": "tool time"}],
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert "input_json" in kinds
    use = final.content[-1]
    assert use.type == "tool_use" and use.input == {"query": "tool time"}
    assert final.stop_reason == "tool_use"


def test_images_and_stop_sequences(env: Env, sim: SimulatorServer) -> None:
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    message = client(env).messages.create(
        model="chat-large",
        max_tokens=100,
        stop_sequences=["to:"],
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": png},
                    },
                    {"type": "text", "text": "what is this"},
                ],
            }
        ],
    )
    assert message.content[0].text == "Simulated answer"  # type: ignore[union-attr]
    sent = sim.stats("atlas-useast")["last_request"]["body"]
    assert sent["stop"] == ["to:"]
    assert sent["messages"][0]["content"][0]["image_url"]["url"].startswith("data:image/png")


def test_thinking_blocks_from_an_anthropic_upstream(env: Env, sim: SimulatorServer) -> None:
    c = client(env)
    message = c.messages.create(
        model="chat-fast",
        max_tokens=3000,
        thinking={"type": "enabled", "budget_tokens": 2048},
        messages=[{"role": "user", "content": "think first"}],
    )
    assert sim.stats("meridian-eu")["last_request"]["body"]["thinking"]["budget_tokens"] == 2048
    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.content[0].thinking.startswith("Simulated thinking")  # type: ignore[union-attr]
    assert message.content[0].signature == ""  # the upstream's is not passed on (Rule 1)
    with c.messages.stream(
        model="chat-fast",
        max_tokens=3000,
        thinking={"type": "enabled", "budget_tokens": 2048},
        messages=[{"role": "user", "content": "think first"}],
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert "thinking" in kinds
    assert [b.type for b in final.content] == ["thinking", "text"]


def test_count_tokens(env: Env, sim: SimulatorServer) -> None:
    c = client(env)
    small = c.messages.count_tokens(model="chat-fast", messages=[{"role": "user", "content": "hi"}])
    big = c.messages.count_tokens(
        model="chat-fast",
        tools=TOOLS,  # type: ignore[arg-type]
        messages=[{"role": "user", "content": "hi " * 400}],
    )
    assert 0 < small.input_tokens < big.input_tokens
    with pytest.raises(anthropic.NotFoundError):
        c.messages.count_tokens(model="nope", messages=[{"role": "user", "content": "hi"}])
    assert sim.stats("meridian-eu")["requests"] == 0


def test_bearer_key_works_too(env: Env, sim: SimulatorServer) -> None:
    c = anthropic.Anthropic(base_url=env.url, auth_token=env.keys["acme"], max_retries=0)
    message = c.messages.create(
        model="chat-large", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.content


def test_errors_use_anthropics_envelope(env: Env, sim: SimulatorServer) -> None:
    bad_key = anthropic.Anthropic(base_url=env.url, api_key="sks_nope", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as caught:
        bad_key.messages.create(
            model="chat-large", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "Invalid API key."},
    }
    resp = raw(env, {"model": "chat-large", "messages": [{"role": "user", "content": "hi"}]})
    assert resp.status_code == 400
    assert resp.json()["type"] == "error"
    assert resp.json()["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in resp.json()["error"]["message"]
    resp = raw(env, {"model": "chat-large", "max_tokens": 5, "top_k": 3, "messages": []})
    assert resp.status_code == 400 and "top_k" in resp.json()["error"]["message"]
    with pytest.raises(anthropic.NotFoundError):
        client(env).messages.create(
            model="no-such", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )


def test_failover_and_request_log(env: Env, sim: SimulatorServer) -> None:
    sim.set_fault("atlas-useast", status=503)
    resp = raw(
        env,
        {"model": "chat-large", "max_tokens": 20, "messages": [{"role": "user", "content": "x"}]},
    )
    assert resp.status_code == 200
    row = wait_for_row(env.db, resp.headers["x-request-id"])
    assert [(a["provider"], a["outcome"]) for a in row.attempts] == [
        ("atlas-useast", "server_error"),
        ("meridian-eu", "ok"),
    ]
    assert row.status == 200 and row.tenant_id == env.tenants["acme"]
    assert "atlas" not in resp.text and "meridian" not in resp.text


def test_outage_in_anthropic_envelope(env: Env, sim: SimulatorServer) -> None:
    for provider in ("kumo-tokyo", "hoshi-osaka"):
        sim.set_fault(provider, status=503)
    with pytest.raises(anthropic.APIStatusError) as caught:
        client(env, "sakura").messages.create(
            model="chat-jp", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.status_code == 502
    assert caught.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]
    assert "chat-jp" in caught.value.body["error"]["message"]  # type: ignore[index]
    assert sim.stats("atlas-useast")["requests"] == 0


def test_embedding_alias_refused_on_messages(env: Env, sim: SimulatorServer) -> None:
    resp = raw(
        env,
        {"model": "embed-small", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
    )
    assert resp.status_code == 400 and "/v1/embeddings" in resp.json()["error"]["message"]


@pytest.mark.parametrize("alias", ALIASES)
@pytest.mark.parametrize("stream", [False, True])
def test_no_provider_identity_reaches_the_client(
    env: Env, sim: SimulatorServer, alias: str, stream: bool
) -> None:
    body: dict[str, Any] = {
        "model": alias,
        "max_tokens": 3000,
        "stream": stream,
        "tools": TOOLS,
        "messages": [{"role": "user", "content": "please use the tool now"}],
    }
    if alias == "chat-fast":
        body["thinking"] = {"type": "enabled", "budget_tokens": 1024}
    resp = raw(env, body)
    assert resp.status_code == 200, resp.text
    seen = (resp.text + str(dict(resp.headers))).lower()
    leaked = [s for s in env.identity_strings() if s.lower() in seen]
    assert leaked == [] and "sig_" not in seen and "toolu_" not in seen


def test_failure_after_the_first_byte_is_an_error_event(env: Env, sim: SimulatorServer) -> None:
    sim.set_fault("atlas-useast", error_after=3)
    resp = raw(
        env,
        {
            "model": "chat-large",
            "max_tokens": 50,
            "stream": True,
            "messages": [{"role": "user", "content": "one two three four five six"}],
        },
    )
    names = sse_events(resp.text)
    assert names[0] == "message_start" and names[-1] == "error"
    assert "message_stop" not in names
    error = sse_json(resp.text)[-1]
    assert error["type"] == "error" and error["error"]["type"] == "overloaded_error"
    assert "chat-large" in error["error"]["message"]
    row = wait_for_row(env.db, resp.headers["x-request-id"])
    assert (row.status, row.error_code) == (502, "upstream_unavailable")
