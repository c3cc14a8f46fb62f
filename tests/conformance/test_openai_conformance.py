"""Every OpenAI-shaped response the gateway produces validates against the official schemas.

Over both upstream kinds: chat-large is served by an OpenAI-wire provider,
chat-fast by an Anthropic-wire one.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from sekisho.simulator import SimulatorServer
from tests.conformance.schemas import check, check_event
from tests.gateway.conftest import Env
from tests.simulator.sim_helpers import sse_json

ALIASES = ["chat-large", "chat-fast"]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
        },
    }
]
HI = [{"role": "user", "content": "Hello there"}]


def call(env: Env, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
    with httpx.Client(timeout=10) as http:
        headers = {"authorization": f"Bearer {env.keys['acme']}"}
        if body is None:
            return http.get(env.url + path, headers=headers)
        return http.post(env.url + path, json=body, headers=headers)


def chunks(resp: httpx.Response) -> list[dict[str, Any]]:
    assert resp.status_code == 200, resp.text
    assert resp.text.rstrip().endswith("data: [DONE]")
    return sse_json(resp.text)


@pytest.mark.parametrize("alias", ALIASES)
@pytest.mark.parametrize("tools", [False, True])
def test_chat_completion(env: Env, sim: SimulatorServer, alias: str, tools: bool) -> None:
    extra: dict[str, Any] = {"tools": TOOLS, "tool_choice": "required"} if tools else {}
    resp = call(env, "/v1/chat/completions", {"model": alias, "messages": HI, **extra})
    assert resp.status_code == 200
    body = resp.json()
    check("CreateChatCompletionResponse", body)
    assert bool(body["choices"][0]["message"].get("tool_calls")) is tools


def test_chat_completion_with_logprobs(env: Env, sim: SimulatorServer) -> None:
    body = {"model": "chat-large", "messages": HI, "logprobs": True, "top_logprobs": 2}
    resp = call(env, "/v1/chat/completions", body)
    check("CreateChatCompletionResponse", resp.json())
    assert resp.json()["choices"][0]["logprobs"]["content"]
    stream = chunks(call(env, "/v1/chat/completions", {**body, "stream": True}))
    for chunk in stream:
        check("CreateChatCompletionStreamResponse", chunk)


@pytest.mark.parametrize("alias", ALIASES)
@pytest.mark.parametrize("include_usage", [False, True])
@pytest.mark.parametrize("tools", [False, True])
def test_chat_stream_chunks(
    env: Env, sim: SimulatorServer, alias: str, include_usage: bool, tools: bool
) -> None:
    body: dict[str, Any] = {
        "model": alias,
        "messages": HI,
        "stream": True,
        "stream_options": {"include_usage": include_usage},
    }
    if tools:
        body |= {"tools": TOOLS, "tool_choice": "required"}
    stream = chunks(call(env, "/v1/chat/completions", body))
    for chunk in stream:
        check("CreateChatCompletionStreamResponse", chunk)
    assert ("usage" in stream[-1] and stream[-1]["usage"] is not None) is include_usage


@pytest.mark.parametrize("alias", ALIASES)
@pytest.mark.parametrize("tools", [False, True])
def test_responses_object_and_events(
    env: Env, sim: SimulatorServer, alias: str, tools: bool
) -> None:
    body: dict[str, Any] = {"model": alias, "input": "Hello there", "instructions": "Be brief."}
    if tools:
        body |= {
            "tools": [
                {
                    "type": "function",
                    "name": "lookup",
                    "parameters": TOOLS[0]["function"]["parameters"],
                }
            ],
            "tool_choice": "required",
        }
    resp = call(env, "/v1/responses", body)
    assert resp.status_code == 200, resp.text
    check("Response", resp.json())
    events = call(env, "/v1/responses", {**body, "stream": True})
    assert events.status_code == 200
    for event in sse_json(events.text):
        check_event(event)


def test_incomplete_response(env: Env, sim: SimulatorServer) -> None:
    resp = call(
        env, "/v1/responses", {"model": "chat-fast", "input": "a b c d e", "max_output_tokens": 2}
    )
    check("Response", resp.json())
    assert resp.json()["status"] == "incomplete"


def test_embeddings_and_models(env: Env, sim: SimulatorServer) -> None:
    resp = call(env, "/v1/embeddings", {"model": "embed-small", "input": ["a", "b"]})
    check("CreateEmbeddingResponse", resp.json())
    models = call(env, "/v1/models")
    check("ListModelsResponse", models.json())
    for model in models.json()["data"]:
        check("Model", model)


def _errors(env: Env, sim: SimulatorServer) -> list[httpx.Response]:
    sim.set_fault("kumo-tokyo", status=503)
    sim.set_fault("hoshi-osaka", status=503)
    limit = env.gw.gateway.settings.limits.max_body_bytes
    big = {"role": "user", "content": "x" * (limit + 1)}
    chat, auth = "/v1/chat/completions", {"authorization": f"Bearer {env.keys['acme']}"}
    cases: list[tuple[str, dict[str, Any]]] = [
        (chat, {"content": b"{not json", "headers": auth}),  # 400
        (chat, {"json": {"model": "chat-large", "messages": HI}}),  # 401
        (chat, {"json": {"model": "nope", "messages": HI}, "headers": auth}),  # 404
        (chat, {"json": {"model": "chat-jp", "messages": HI}, "headers": auth}),  # 502
        (chat, {"json": {"model": "chat-large", "messages": [big]}, "headers": auth}),  # 413
        ("/v1/embeddings", {"json": {"model": "chat-large", "input": "x"}, "headers": auth}),
        (
            "/v1/responses",
            {"json": {"model": "chat-large", "input": "x", "store": True}, "headers": auth},
        ),
    ]
    answers = []
    for path, kwargs in cases:
        # One connection per request: the edge may close a connection after refusing one.
        with httpx.Client(timeout=10) as http:
            answers.append(http.post(env.url + path, **kwargs))
    return answers


def test_every_error_envelope(env: Env, sim: SimulatorServer) -> None:
    responses = _errors(env, sim)
    assert [r.status_code for r in responses] == [400, 401, 404, 502, 413, 400, 400]
    for resp in responses:
        check("ErrorResponse", orjson.loads(resp.content))


def test_the_validators_reject_what_the_spec_rejects() -> None:
    """The checks above could fail: malformed bodies are refused by the same validators."""
    good = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "x", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
    check("CreateChatCompletionResponse", good)
    for broken in (
        {**good, "object": "chat.completion.chunk"},
        {**good, "choices": [{**good["choices"][0], "finish_reason": "abort"}]},  # type: ignore[dict-item]
        {k: v for k, v in good.items() if k != "created"},
    ):
        with pytest.raises(AssertionError):
            check("CreateChatCompletionResponse", broken)
    with pytest.raises(AssertionError):
        check_event({"type": "response.output_text.delta", "sequence_number": 1, "delta": "x"})
    with pytest.raises(AssertionError):
        check("ErrorResponse", {"error": {"message": "x"}})
