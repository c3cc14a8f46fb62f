"""Tenant developers use the official OpenAI SDK against the gateway, on each adapter."""

from __future__ import annotations

import json

import openai
import pytest

from tests.gateway.conftest import Env

# chat-large: OpenAI-wire primary; chat-fast: Anthropic-wire primary.
ALIASES = ["chat-large", "chat-fast"]


def client(env: Env, tenant: str = "acme") -> openai.OpenAI:
    return openai.OpenAI(base_url=env.url + "/v1", api_key=env.keys[tenant], max_retries=0)


@pytest.mark.parametrize("alias", ALIASES)
def test_non_streaming_answer_names_the_alias(env: Env, sim: object, alias: str) -> None:
    resp = client(env).chat.completions.create(
        model=alias, messages=[{"role": "user", "content": "Hello there"}]
    )
    assert resp.model == alias
    assert resp.id.startswith("chatcmpl-")
    assert resp.choices[0].message.content.startswith("Simulated answer to: Hello there")
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage is not None and resp.usage.total_tokens > 0
    assert resp.system_fingerprint is None


@pytest.mark.parametrize("alias", ALIASES)
def test_streaming_answer_assembles(env: Env, sim: object, alias: str) -> None:
    stream = client(env).chat.completions.create(
        model=alias,
        messages=[{"role": "user", "content": "Stream me please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("Simulated answer to: Stream me please")
    assert {c.model for c in chunks} == {alias}
    assert len({c.id for c in chunks}) == 1
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


@pytest.mark.parametrize("alias", ALIASES)
def test_parameters_reach_the_upstream(env: Env, sim, alias: str) -> None:  # type: ignore[no-untyped-def]
    # Anthropic routes take temperature or top_p, not both (adapters/params.py); top_p 1 = unset.
    top_p = 0.9 if alias == "chat-large" else 1
    resp = client(env).chat.completions.create(
        model=alias,
        max_tokens=3,
        temperature=0.5,
        top_p=top_p,
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "one two three four five six"},
        ],
    )
    assert resp.choices[0].finish_reason == "length"
    assert len(resp.choices[0].message.content.split()) == 3
    provider = "atlas-useast" if alias == "chat-large" else "meridian-eu"
    body = sim.stats(provider)["last_request"]["body"]
    assert body["temperature"] == 0.5 and body.get("top_p") == (0.9 if top_p == 0.9 else None)
    if alias == "chat-fast":
        assert body["system"] == "Be brief." and body["max_tokens"] == 3


@pytest.mark.parametrize("alias", ALIASES)
def test_stop_sequence(env: Env, sim: object, alias: str) -> None:
    resp = client(env).chat.completions.create(
        model=alias, stop=["to:"], messages=[{"role": "user", "content": "hi"}]
    )
    assert resp.choices[0].message.content == "Simulated answer"
    assert resp.choices[0].finish_reason == "stop"


TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look something up",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
        },
    }
]


@pytest.mark.parametrize("alias", ALIASES)
def test_tool_call_round_trip(env: Env, sim: object, alias: str) -> None:
    c = client(env)
    messages: list[dict[str, object]] = [{"role": "user", "content": "use the tool please"}]
    first = c.chat.completions.create(model=alias, messages=messages, tools=TOOLS)  # type: ignore[arg-type]
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "lookup"
    assert json.loads(call.function.arguments) == {"query": "use the tool please"}
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "42"},
    ]
    second = c.chat.completions.create(model=alias, messages=messages, tools=TOOLS)  # type: ignore[arg-type]
    assert second.choices[0].message.content


@pytest.mark.parametrize("alias", ALIASES)
def test_streamed_tool_call(env: Env, sim: object, alias: str) -> None:
    stream = client(env).chat.completions.create(
        model=alias,
        messages=[{"role": "user", "content": "tool time"}],
        tools=TOOLS,  # type: ignore[arg-type]
        stream=True,
    )
    args = ""
    names = []
    for chunk in stream:
        for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            if call.function and call.function.name:
                names.append(call.function.name)
            args += (call.function.arguments or "") if call.function else ""
    assert names == ["lookup"]
    assert json.loads(args) == {"query": "tool time"}


def test_models_lists_only_usable_aliases(env: Env) -> None:
    assert [m.id for m in client(env).models.list()] == ["chat-fast", "chat-jp", "chat-large"]
    assert [m.id for m in client(env, "sakura").models.list()] == ["chat-jp"]
    assert [m.id for m in client(env, "dragon").models.list()] == [
        "chat-cn",
        "chat-fast",
        "chat-jp",
        "chat-large",
    ]
    assert [m.id for m in client(env, "narrow").models.list()] == ["chat-fast"]
    assert [m.id for m in client(env, "scoped").models.list()] == ["chat-large"]
